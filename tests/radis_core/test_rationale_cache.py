import multiprocessing as mp

from radis_core.generation import DecodeSettings
from radis_core.rationale_cache import RationaleCache, cache_key

BASE = dict(
    model_fingerprint="fp", dtype="torch.float32", template="T {source}", decoding=DecodeSettings(max_new_tokens=8), pair_hash="p"
)


def test_key_changes_with_every_component():
    k = cache_key(**BASE)
    assert k == cache_key(**BASE)
    variants = [
        {**BASE, "model_fingerprint": "fp2"},
        {**BASE, "dtype": "torch.bfloat16"},
        {**BASE, "template": "U {source}"},
        {**BASE, "decoding": DecodeSettings(max_new_tokens=9)},
        {**BASE, "decoding": DecodeSettings(max_new_tokens=8, repetition_penalty=1.1)},
        {**BASE, "pair_hash": "q"},
    ]
    keys = {cache_key(**v) for v in variants}
    assert k not in keys and len(keys) == len(variants)


def test_round_trip_and_first_writer_wins(tmp_path):
    c = RationaleCache(tmp_path / "r.sqlite")
    c.put_many({"a": ("first", 3, "end_of_turn")})
    c.put_many({"a": ("second", 4, "length"), "b": ("bee", 1, "stop")})
    assert c.get_many(["a", "b", "zz"]) == {"a": ("first", 3, "end_of_turn"), "b": ("bee", 1, "stop")}
    assert RationaleCache(tmp_path / "r.sqlite").get_many(["b"]) == {"b": ("bee", 1, "stop")}  # survives reopening


def _writer(path: str, who: int) -> None:
    c = RationaleCache(path)
    for i in range(200):
        c.put_many({f"k{i}": (f"text{i}", i, "end_of_turn"), f"w{who}-{i}": ("mine", 1, "end_of_turn")})


def test_two_processes_writing_at_once(tmp_path):
    path = str(tmp_path / "r.sqlite")
    RationaleCache(path)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, w)) for w in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    got = RationaleCache(path).get_many([f"k{i}" for i in range(200)] + [f"w{w}-{i}" for w in (1, 2) for i in range(200)])
    assert len(got) == 600 and got["k7"] == ("text7", 7, "end_of_turn")
