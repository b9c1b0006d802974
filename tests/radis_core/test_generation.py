import pytest

from radis_core.generation import DecodeSettings, cut_at_stop, generate, prefill_buckets
from radis_core.prompts import ChatFormat


def test_batched_greedy_equals_one_by_one(tiny):
    model, tok = tiny
    fmt = ChatFormat.for_tokenizer(tok)
    prompts = [
        fmt.user_prompt(t) for t in ["Hund", "Der Hund ist groß und freundlich.", "Wie viele Äpfel hat Anna?", "3 + 4 = ?"]
    ]
    settings = DecodeSettings(max_new_tokens=12)
    batched = generate(model, tok, prompts, settings, batch_size=4, end_of_turn=fmt.end_of_turn)
    single = [generate(model, tok, [p], settings, batch_size=1, end_of_turn=fmt.end_of_turn)[0] for p in prompts]
    assert [g.text for g in batched] == [g.text for g in single]
    assert all(0 < g.new_tokens <= 12 for g in batched)


def test_progress_callback_and_order(tiny):
    model, tok = tiny
    seen = []
    prompts = ["a", "a much longer prompt than the first one", "mid length"]
    outs = generate(
        model, tok, prompts, DecodeSettings(max_new_tokens=4), batch_size=2, on_batch=lambda d, t: seen.append((d, t))
    )
    assert len(outs) == 3 and seen == [(2, 3), (3, 3)]


def test_cut_at_stop():
    assert cut_at_stop("I have a dog.\n\nThe word", ["\n\n"]) == "I have a dog."
    assert cut_at_stop("no stop", ["\n\n"]) == "no stop"


def _hf_one_by_one(model, tok, prompts, settings, end_of_turn):
    """The naive reference: transformers' ``generate`` on one prompt at a time, no padding."""
    import torch

    from radis_core.generation import _stop_token_ids, _strip_after_eos

    eos = _stop_token_ids(tok, end_of_turn)
    out = []
    for p in prompts:
        ids = tok(p, add_special_tokens=False, return_tensors="pt")
        kwargs = dict(
            max_new_tokens=settings.max_new_tokens,
            do_sample=False,
            eos_token_id=eos,
            pad_token_id=eos[0],
            temperature=None,
            top_p=None,
            top_k=None,
            repetition_penalty=settings.repetition_penalty if settings.repetition_penalty != 1.0 else None,
            no_repeat_ngram_size=settings.no_repeat_ngram_size or None,
        )
        if settings.stop:
            kwargs.update(stop_strings=list(settings.stop), tokenizer=tok)
        with torch.inference_mode():
            seq = model.generate(**ids, **kwargs)
        new = seq[0, ids["input_ids"].shape[1] :].tolist()
        toks = _strip_after_eos(new, eos, eos[0])
        text = tok.decode(toks, skip_special_tokens=True)
        if any(t in eos for t in new):
            reason = "end_of_turn"
        elif settings.stop and any(s in text for s in settings.stop):
            reason = "stop"
        else:
            reason = "length"
        out.append((cut_at_stop(text, settings.stop), reason))
    return out


PROMPTS = [
    "Hund",
    "Der Hund ist groß und freundlich, und die Katze schläft.",
    "Wie viele Äpfel hat Anna?",
    "3 + 4 = ?",
    "Ein sehr langer Satz über das Wetter in Berlin, das heute kalt und windig ist, mit Regen am Abend.",
    "Ja.",
]


@pytest.mark.parametrize(
    "settings",
    [
        DecodeSettings(max_new_tokens=16, repetition_penalty=1.15),
        DecodeSettings(max_new_tokens=16, no_repeat_ngram_size=2),
        # the tiny model's random weights repeat one token unless n-grams are blocked
        DecodeSettings(max_new_tokens=16, no_repeat_ngram_size=2, repetition_penalty=1.3, stop=("and", "viele")),
    ],
    ids=["repetition-penalty", "no-repeat-ngram", "stop-string"],
)
def test_greedy_equals_transformers_generate_one_at_a_time(tiny, settings):
    model, tok = tiny
    fmt = ChatFormat.for_tokenizer(tok)
    prompts = [fmt.user_prompt(t) for t in PROMPTS]
    ours = generate(model, tok, prompts, settings, batch_size=4, end_of_turn=fmt.end_of_turn)
    assert [(g.text, g.finish_reason) for g in ours] == _hf_one_by_one(model, tok, prompts, settings, fmt.end_of_turn)


def test_finish_reasons_tell_end_of_turn_from_stop_and_budget(tiny):
    """Each row says why it stopped, as one-at-a-time decoding with the same end token would."""
    model, tok = tiny
    fmt = ChatFormat.for_tokenizer(tok)
    prompts = [fmt.user_prompt(t) for t in PROMPTS]
    settings = DecodeSettings(max_new_tokens=16, no_repeat_ngram_size=2, repetition_penalty=1.3, stop=("viele",))
    # Make the token the model writes third for one prompt its end of turn, so that row ends "naturally".
    probe = generate(model, tok, prompts[:1], DecodeSettings(max_new_tokens=3, no_repeat_ngram_size=2, repetition_penalty=1.3))[0]
    end = tok.convert_ids_to_tokens(tok(probe.text, add_special_tokens=False)["input_ids"])[-1]
    ours = generate(model, tok, prompts, settings, batch_size=4, end_of_turn=end)
    assert [(g.text, g.finish_reason) for g in ours] == _hf_one_by_one(model, tok, prompts, settings, end)
    assert ours[0].finish_reason == "end_of_turn"
    assert {g.finish_reason for g in ours} >= {"end_of_turn", "length"}
    assert all(g.new_tokens == 16 for g in ours if g.finish_reason == "length")


def test_rows_that_stop_early_leave_the_batch_without_changing_the_others(tiny):
    model, tok = tiny
    fmt = ChatFormat.for_tokenizer(tok)
    prompts = [fmt.user_prompt(t) for t in PROMPTS]
    # a stop string ends some rows within a few tokens while the rest run to their budget
    stops = ("and", "viele")
    stopped = generate(
        model,
        tok,
        prompts,
        DecodeSettings(max_new_tokens=24, no_repeat_ngram_size=2, stop=stops),
        batch_size=6,
        end_of_turn=fmt.end_of_turn,
    )
    full = generate(
        model, tok, prompts, DecodeSettings(max_new_tokens=24, no_repeat_ngram_size=2), batch_size=6, end_of_turn=fmt.end_of_turn
    )
    # half the batch finishing early makes the decoder drop those rows (COMPACT_AT) mid-decode
    assert sum(s.new_tokens < f.new_tokens for s, f in zip(stopped, full, strict=True)) >= 3
    assert any(s.new_tokens == f.new_tokens for s, f in zip(stopped, full, strict=True))
    for s, f in zip(stopped, full, strict=True):
        assert f.text.startswith(s.text) and not any(stop in s.text for stop in stops)


def test_sampling_is_seeded(tiny):
    model, tok = tiny
    settings = DecodeSettings(max_new_tokens=12, do_sample=True, temperature=1.0, top_p=0.95, seed=7)
    first = generate(model, tok, PROMPTS, settings, batch_size=3)
    assert [g.text for g in first] == [g.text for g in generate(model, tok, PROMPTS, settings, batch_size=3)]
    other = generate(
        model, tok, PROMPTS, DecodeSettings(max_new_tokens=12, do_sample=True, temperature=1.0, seed=8), batch_size=3
    )
    assert [g.text for g in first] != [g.text for g in other]


def test_prefill_buckets_bound_padding():
    lengths = [370, 365, 360, 300, 298, 200, 199, 198, 161]
    buckets = prefill_buckets(lengths, max_padding=0.10)
    assert sorted(i for b in buckets for i in b) == list(range(len(lengths)))
    for b in buckets:
        width = lengths[b[0]]
        assert 1 - sum(lengths[i] for i in b) / (width * len(b)) <= 0.10
    assert buckets == [[0, 1, 2, 3, 4], [5, 6, 7, 8]]
    assert prefill_buckets([10] * 10, max_positions=30) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]


def test_a_shared_prompt_prefix_is_computed_once_and_changes_nothing(tiny):
    from radis_core.generation import MIN_SHARED_PREFIX, _shared_prefix_length

    model, tok = tiny
    fmt = ChatFormat.for_tokenizer(tok)
    instruction = "Übersetze den folgenden Satz ins Englische und erkläre danach jeden Schritt der Übersetzung: "
    prompts = [fmt.user_prompt(instruction + t) for t in PROMPTS]
    rows = [tok(p, add_special_tokens=False)["input_ids"] for p in prompts]
    assert _shared_prefix_length(rows) >= MIN_SHARED_PREFIX
    settings = DecodeSettings(max_new_tokens=16, no_repeat_ngram_size=2, repetition_penalty=1.3)
    ours = generate(model, tok, prompts, settings, batch_size=4, end_of_turn=fmt.end_of_turn)
    assert [(g.text, g.finish_reason) for g in ours] == _hf_one_by_one(model, tok, prompts, settings, fmt.end_of_turn)


def test_shared_prefix_length():
    from radis_core.generation import _shared_prefix_length

    head = list(range(20))
    assert _shared_prefix_length([head + [1, 2], head + [3]]) == 20
    assert _shared_prefix_length([head, head]) == 19  # every row keeps a token of its own to prefill
    assert _shared_prefix_length([head[:10] + [1], head[:10] + [2]]) == 0  # too short to bother
    assert _shared_prefix_length([head + [1]]) == 0  # a lone row has nothing to share


def test_padded_prefill_buckets_change_nothing(tiny, monkeypatch):
    """A GPU prefills rows of different lengths together, left-padded; on the CPU that path is forced here."""
    import radis_core.generation as generation

    monkeypatch.setattr(generation, "PREFILL_PADDING_CPU", 0.9)
    model, tok = tiny
    fmt = ChatFormat.for_tokenizer(tok)
    instruction = "Übersetze den folgenden Satz ins Englische und erkläre danach jeden Schritt der Übersetzung: "
    for prompts in ([fmt.user_prompt(t) for t in PROMPTS], [fmt.user_prompt(instruction + t) for t in PROMPTS]):
        settings = DecodeSettings(max_new_tokens=12, no_repeat_ngram_size=2, repetition_penalty=1.3)
        ours = generate(model, tok, prompts, settings, batch_size=6, end_of_turn=fmt.end_of_turn)
        assert [(g.text, g.finish_reason) for g in ours] == _hf_one_by_one(model, tok, prompts, settings, fmt.end_of_turn)


@pytest.mark.parametrize("shared", [False, True], ids=["no-shared-prefix", "shared-prefix"])
@pytest.mark.parametrize("cpu_padding", [0.0, 0.9], ids=["one-length-per-prefill", "padded-prefill"])
def test_every_step_of_every_row_has_the_logits_of_a_plain_forward(tiny, monkeypatch, shared, cpu_padding):
    """Batched decoding (padding, a shared prefix, explicit positions) gives each row, at each step, the
    logits one unpadded forward over that row's tokens gives: a one-token mask or position error in one
    row moves its logits by ~1e-2 even where the tiny model's greedy text does not change."""
    import torch

    import radis_core.generation as generation

    monkeypatch.setattr(generation, "PREFILL_PADDING_CPU", cpu_padding)
    model, tok = tiny
    fmt = ChatFormat.for_tokenizer(tok)
    instruction = "Übersetze den folgenden Satz ins Englische und erkläre danach jeden Schritt der Übersetzung: "
    prompts = [fmt.user_prompt((instruction if shared else "") + t) for t in PROMPTS]
    rows = [tok(p, add_special_tokens=False)["input_ids"] for p in prompts]
    assert (generation._shared_prefix_length(rows) > 0) == shared
    steps = 8
    forwards: list[tuple[dict, torch.Tensor]] = []
    handle = model.register_forward_hook(
        lambda _m, _a, kwargs, out: forwards.append((kwargs, out.logits[:, -1, :].float().clone())), with_kwargs=True
    )
    try:
        outs = generate(
            model, tok, prompts, DecodeSettings(max_new_tokens=steps), batch_size=len(prompts), end_of_turn=fmt.end_of_turn
        )
    finally:
        handle.remove()
    # Every row runs to its budget, so the batch is never compacted: the decoder's rows are the prompts
    # sorted longest first, in every prefill bucket and every decode step.
    assert [o.finish_reason for o in outs] == ["length"] * len(prompts)
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]), reverse=True)
    decode_steps, prefill = forwards[len(forwards) - (steps - 1) :], forwards[: len(forwards) - (steps - 1)]
    assert all(tuple(kw["input_ids"].shape) == (len(rows), 1) for kw, _ in decode_steps)
    first = torch.cat([logits for kw, logits in prefill if "attention_mask" in kw])  # the shared prefix's forward has none
    assert first.shape[0] == len(rows)
    if cpu_padding:
        assert any(kw["input_ids"].shape[0] > 1 for kw, _ in prefill)  # rows of different lengths shared a prefill
    for b, i in enumerate(order):
        new = [int(kw["input_ids"][b, 0]) for kw, _ in decode_steps]
        batched = torch.stack([first[b]] + [logits[b] for _, logits in decode_steps])
        with torch.inference_mode():
            plain = model(input_ids=torch.tensor([rows[i] + new])).logits[0, len(rows[i]) - 1 :].float()
        torch.testing.assert_close(batched, plain, rtol=0, atol=1e-4, msg=f"prompt {i} (batch row {b})")
