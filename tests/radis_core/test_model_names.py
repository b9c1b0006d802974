"""A checkpoint's name is the final model's name and ``:ckpt-step-<n>``, as OpenAI names them."""

from __future__ import annotations

from radis_core.model_names import checkpoint_model_name, fine_tuned_model_name


def test_a_checkpoint_name_extends_the_fine_tuned_model_name() -> None:
    final = fine_tuned_model_name("HuggingFaceTB/SmolLM2-135M-Instruct", None, "ftjob-abc")
    assert final == "ft:smollm2-135m-instruct:radis:ftjob-abc"
    assert checkpoint_model_name(final, 40) == "ft:smollm2-135m-instruct:radis:ftjob-abc:ckpt-step-40"
    assert fine_tuned_model_name("/models/tiny:llama", "a:b c", "ftjob-x") == "ft:tiny-llama:a-b-c:ftjob-x"
