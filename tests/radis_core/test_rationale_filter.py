from radis_core.rationale_filter import judge

PROMPT = "Translate the following text from German to English, then explain your translation.\n\nIch habe einen Hund."


def test_keeps_a_real_explanation():
    v = judge(
        "1. 'Hund' means 'dog'.\n2. 'habe' is the first person of 'haben', so 'I have'.\n3. The article 'einen' is accusative.",
        prompt=PROMPT,
        reference="I have a dog.",
    )
    assert v.kept and v.reason is None


def test_rejects_empty_and_tiny():
    assert judge("", prompt=PROMPT, reference="I have a dog.").reason == "empty"
    assert judge("Yes.", prompt=PROMPT, reference="I have a dog.").reason == "empty"


def test_rejects_degenerate_repetition():
    text = "The German word is a noun. " * 12
    assert judge(text, prompt=PROMPT, reference="I have a dog.").reason == "degenerate"
    lines = "\n".join(["- the dog is a dog"] * 5 + ["- ok then fine"])
    assert judge(lines, prompt=PROMPT, reference="I have a dog.").reason == "degenerate"


def test_rejects_prompt_echo():
    echo = "Translate the following text from German to English, then explain your translation. Ich habe einen Hund."
    v = judge(echo, prompt=PROMPT, reference="I have a dog.")
    assert v.reason == "prompt_echo" and "copy the prompt" in v.detail
