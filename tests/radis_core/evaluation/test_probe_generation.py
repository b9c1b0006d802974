"""The checked-in probe files equal what their generators write; hand-written items are kept and spread."""

from radis_core.evaluation.probe_generation import GENERATED, PROBE_FOLDER, interleave, main, render
from radis_core.evaluation.probes import load_probes


def test_checked_in_files_are_up_to_date():
    assert main(["--check"]) == 0  # if this fails: .venv/bin/python -m radis_core.evaluation.probe_generation


def test_handwritten_items_are_kept_in_order_and_spread(tmp_path):
    for name, (prefix, _generate) in GENERATED.items():
        items = load_probes(name)
        hand = [i for i, it in enumerate(items) if not it["id"].startswith(prefix)]
        assert len(hand) >= 20
        assert hand[0] == 0 and max(b - a for a, b in zip(hand, hand[1:], strict=False)) <= len(items) // len(hand) + 1
        ids = [items[i]["id"] for i in hand]
        assert ids == sorted(ids)


def test_interleave_spreads_evenly():
    assert interleave([1, 2], ["a", "b", "c", "d"]) == [1, "a", "b", 2, "c", "d"]
    assert interleave([], ["a"]) == ["a"]
    assert interleave([1], []) == [1]


def test_check_reports_and_rewrite_fixes_a_stale_file(tmp_path, capsys):
    for name in GENERATED:
        text = (PROBE_FOLDER / f"{name}.jsonl").read_text(encoding="utf-8")
        (tmp_path / f"{name}.jsonl").write_text("\n".join(text.splitlines()[:-1]) + "\n", encoding="utf-8")
    assert main(["--check", "--folder", str(tmp_path)]) == 1
    assert "out of date" in capsys.readouterr().err
    assert main(["--folder", str(tmp_path)]) == 0
    assert main(["--check", "--folder", str(tmp_path)]) == 0
    for name in GENERATED:
        assert render(name, (tmp_path / f"{name}.jsonl").read_text(encoding="utf-8")) == (
            PROBE_FOLDER / f"{name}.jsonl"
        ).read_text(encoding="utf-8")
