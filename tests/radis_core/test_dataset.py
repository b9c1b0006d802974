from radis_core.config import SEPARATOR
from radis_core.corpus import Pair
from radis_core.dataset import IGNORE_INDEX, MIN_RATIONALE_TOKENS, TrainingTarget, build_examples, collate, plan_batches
from radis_core.prompts import ChatFormat, translation_prompt
from radis_core.settings import DEFAULT_TRANSLATION_TEMPLATE

PAIR = Pair(source="Ich habe einen Hund.", target="I have a dog.", src_lang="de", tgt_lang="en", line=1)
RATIONALE = "The word Hund means dog. The verb comes second in German main clauses."


def _ids(tok, text):
    return tok(text, add_special_tokens=False)["input_ids"]


def test_radis_masks_exactly_the_prompt(tiny):
    _, tok = tiny
    fmt = ChatFormat.for_tokenizer(tok)
    prompt = _ids(tok, translation_prompt(fmt, DEFAULT_TRANSLATION_TEMPLATE, source=PAIR.source, src_lang="de", tgt_lang="en"))
    ref, sep, rat, end = _ids(tok, PAIR.target), _ids(tok, SEPARATOR), _ids(tok, RATIONALE), _ids(tok, "<|im_end|>")
    (ex,), stats = build_examples(
        tok,
        [PAIR],
        method="radis",
        template=DEFAULT_TRANSLATION_TEMPLATE,
        max_seq_len=512,
        targets=[TrainingTarget(PAIR.target, RATIONALE)],
    )
    assert ex.input_ids == prompt + ref + sep + rat + end
    # Pinned: every prompt position is ignored, every target position (reference, separator,
    # rationale, end of turn) counts, in order.
    assert ex.labels == [IGNORE_INDEX] * len(prompt) + ref + sep + rat + end
    assert ex.target_tokens == len(ref) + len(sep) + len(rat) + len(end)
    assert stats.with_rationale == 1


def test_supervised_target_is_reference_only(tiny):
    _, tok = tiny
    (ex,), _ = build_examples(tok, [PAIR], method="supervised", template=DEFAULT_TRANSLATION_TEMPLATE, max_seq_len=512)
    target = [t for t in ex.labels if t != IGNORE_INDEX]
    assert target == _ids(tok, PAIR.target) + _ids(tok, "<|im_end|>")
    assert ex.rationale_tokens == 0


def test_rejected_rationale_trains_on_reference_alone(tiny):
    _, tok = tiny
    (ex,), stats = build_examples(
        tok, [PAIR], method="radis", template=DEFAULT_TRANSLATION_TEMPLATE, max_seq_len=512, targets=[None]
    )
    assert [t for t in ex.labels if t != IGNORE_INDEX] == _ids(tok, PAIR.target) + _ids(tok, "<|im_end|>")
    assert stats.with_rationale == 0


def test_truncation_trims_rationale_never_reference(tiny):
    _, tok = tiny
    long_rationale = RATIONALE * 20
    (full,), _ = build_examples(tok, [PAIR], method="supervised", template=DEFAULT_TRANSLATION_TEMPLATE, max_seq_len=4096)
    budget = len(full.input_ids) + len(_ids(tok, SEPARATOR)) + 20
    (ex,), stats = build_examples(
        tok,
        [PAIR],
        method="radis",
        template=DEFAULT_TRANSLATION_TEMPLATE,
        max_seq_len=budget,
        targets=[TrainingTarget(PAIR.target, long_rationale)],
    )
    end = _ids(tok, "<|im_end|>")
    assert len(ex.input_ids) == budget - len(end)
    assert ex.trimmed and stats.rationales_trimmed == 1
    ref = _ids(tok, PAIR.target)
    targets = [t for t in ex.labels if t != IGNORE_INDEX]
    assert targets[: len(ref)] == ref  # reference intact, first
    # The model would not have ended its turn mid-rationale: no end-of-turn label is taught there.
    assert targets[-len(end) :] != end and not ex.ends_turn and stats.without_end_of_turn == 1


def test_a_rationale_the_budget_cut_gets_no_end_of_turn_label(tiny):
    _, tok = tiny
    (cut,), stats = build_examples(
        tok,
        [PAIR],
        method="radis",
        template=DEFAULT_TRANSLATION_TEMPLATE,
        max_seq_len=512,
        targets=[TrainingTarget(PAIR.target, RATIONALE, ends_turn=False)],
    )
    labels = [t for t in cut.labels if t != IGNORE_INDEX]
    assert labels == _ids(tok, PAIR.target) + _ids(tok, SEPARATOR) + _ids(tok, RATIONALE)  # nothing after the text
    assert not cut.ends_turn and stats.without_end_of_turn == 1
    assert 0 < stats.rationale_token_share < 1


def test_too_short_room_drops_rationale_and_too_long_reference_drops_example(tiny):
    _, tok = tiny
    (full,), _ = build_examples(tok, [PAIR], method="supervised", template=DEFAULT_TRANSLATION_TEMPLATE, max_seq_len=4096)
    tight = len(full.input_ids) + len(_ids(tok, SEPARATOR)) + MIN_RATIONALE_TOKENS - 1
    (ex,), stats = build_examples(
        tok,
        [PAIR],
        method="radis",
        template=DEFAULT_TRANSLATION_TEMPLATE,
        max_seq_len=tight,
        targets=[TrainingTarget(PAIR.target, RATIONALE)],
    )
    assert ex.rationale_tokens == 0 and stats.rationales_dropped_by_length == 1
    examples, stats = build_examples(
        tok, [PAIR], method="supervised", template=DEFAULT_TRANSLATION_TEMPLATE, max_seq_len=len(full.input_ids) - 1
    )
    assert examples == [] and stats.dropped_too_long == 1


def test_plan_batches_is_deterministic_covers_everything_and_groups_lengths():
    lengths = [5, 100, 7, 98, 6, 101, 99, 4] * 8
    a = plan_batches(lengths, 4, seed=1, epoch=0)
    assert a == plan_batches(lengths, 4, seed=1, epoch=0)
    assert a != plan_batches(lengths, 4, seed=1, epoch=1)
    assert sorted(i for b in a for i in b) == list(range(len(lengths)))
    padded = sum(max(lengths[i] for i in b) * len(b) for b in a)
    assert padded / sum(lengths) < 1.1  # grouped: little padding


def test_collate_pads_right_with_ignored_labels(tiny):
    _, tok = tiny
    exs, _ = build_examples(
        tok,
        [PAIR, Pair("Hallo", "Hello", "de", "en", 2)],
        method="supervised",
        template=DEFAULT_TRANSLATION_TEMPLATE,
        max_seq_len=512,
    )
    b = collate(exs, pad_id=0)
    short = min(range(2), key=lambda r: len(exs[r].input_ids))
    n = len(exs[short].input_ids)
    assert b["attention_mask"][short, n:].sum() == 0
    assert (b["labels"][short, n:] == IGNORE_INDEX).all()
