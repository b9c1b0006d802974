"""Hyperparameters: "auto" resolved from the data by predictable rules; bad values refused by path."""

import pytest
from pydantic import ValidationError

from radis_core.dtype import ResolvedDtype
from radis_core.settings import Hyperparameters, SettingsError, build, resolve


def test_auto_values_are_resolved_from_data():
    hp = resolve(Hyperparameters(), n_examples=80)
    assert hp.batch_size == 8 and hp.n_epochs == 2 and hp.max_steps == 20
    assert hp.learning_rate == pytest.approx(2e-4) and hp.lora_alpha == 32 and hp.checkpoint_every == 5
    assert hp.learning_rate_multiplier == 1.0


def test_multiplier_and_accumulation():
    hp = resolve(
        Hyperparameters(learning_rate_multiplier=2.0, batch_size=4, gradient_accumulation_steps=2, n_epochs=1), n_examples=16
    )
    assert hp.learning_rate == pytest.approx(4e-4) and hp.max_steps == 2 and hp.learning_rate_multiplier == 2.0


def test_max_steps_overrides_epochs_and_checkpoints_default_to_a_quarter():
    hp = resolve(Hyperparameters(max_steps=12, n_epochs=50, batch_size=2), n_examples=10)
    assert hp.max_steps == 12 and hp.checkpoint_every == 3


def test_no_example_fitting_names_max_seq_len():
    with pytest.raises(SettingsError) as caught:
        resolve(Hyperparameters(max_seq_len=64), n_examples=0)
    assert caught.value.path == "hyperparameters.max_seq_len" and "64" in caught.value.reason


@pytest.mark.parametrize(
    "field,value",
    [
        ("batch_size", 0),
        ("learning_rate", -1.0),
        ("n_epochs", 1000),
        ("lora_rank", 2.5),
        ("warmup_ratio", 1.5),
        ("learning_rate", float("nan")),
        ("batch_size", True),
        ("lr_scheduler", "exotic"),
        ("n_epochs", "3"),
        ("learning_rate_multiplier", 1e30),
        ("target_modules", ["q_proj", "../x"]),
        ("target_modules", []),
        ("dtype", "float16"),
        ("dtype", "bf16"),
    ],
)
def test_bad_values_are_refused_on_construction_naming_the_field(field, value):
    with pytest.raises(SettingsError) as caught:
        build(Hyperparameters, {field: value}, "hyperparameters")
    assert caught.value.path.startswith(f"hyperparameters.{field}")


def test_dtype_is_resolved_with_its_reason_and_recorded():
    asked = resolve(Hyperparameters(dtype="bfloat16"), n_examples=8)
    assert (asked.dtype, asked.dtype_reason) == ("bfloat16", "asked for bfloat16")
    given = resolve(Hyperparameters(), n_examples=8, dtype=ResolvedDtype("float32", "auto: test"))
    assert given.to_dict()["dtype"] == "float32" and given.to_dict()["dtype_reason"] == "auto: test"
    auto = resolve(Hyperparameters(), n_examples=8)  # resolved for this machine's CPU, with a reason that says so
    assert auto.dtype in ("float32", "bfloat16") and auto.dtype_reason.startswith("auto: ")


def test_unknown_key_is_refused_as_unknown():
    with pytest.raises(SettingsError) as caught:
        build(Hyperparameters, {"lora_rnak": 8})
    assert caught.value.path == "lora_rnak" and caught.value.unknown


def test_settings_are_immutable():
    hp = Hyperparameters(lora_rank=8)
    with pytest.raises(ValidationError):
        hp.lora_rank = 4  # type: ignore[misc]  # frozen: the assignment itself is what is tested
