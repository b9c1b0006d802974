from radis_core.generation import DecodeSettings, cut_at_stop, generate
from radis_core.prompts import ChatFormat


def test_batched_greedy_equals_one_by_one(tiny):
    model, tok = tiny
    fmt = ChatFormat.for_tokenizer(tok)
    prompts = [fmt.user_prompt(t) for t in ["Hund", "Der Hund ist groß und freundlich.", "Wie viele Äpfel hat Anna?", "3 + 4 = ?"]]
    settings = DecodeSettings(max_new_tokens=12)
    batched = generate(model, tok, prompts, settings, batch_size=4, end_of_turn=fmt.end_of_turn)
    single = [generate(model, tok, [p], settings, batch_size=1, end_of_turn=fmt.end_of_turn)[0] for p in prompts]
    assert [g.text for g in batched] == [g.text for g in single]
    assert all(0 < g.new_tokens <= 12 for g in batched)


def test_progress_callback_and_order(tiny):
    model, tok = tiny
    seen = []
    prompts = ["a", "a much longer prompt than the first one", "mid length"]
    outs = generate(model, tok, prompts, DecodeSettings(max_new_tokens=4), batch_size=2, on_batch=lambda d, t: seen.append((d, t)))
    assert len(outs) == 3 and seen == [(2, 3), (3, 3)]


def test_cut_at_stop():
    assert cut_at_stop("I have a dog.\n\nThe word", ["\n\n"]) == "I have a dog."
    assert cut_at_stop("no stop", ["\n\n"]) == "no stop"
