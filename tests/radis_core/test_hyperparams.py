import pytest

from radis_core.config import Hyperparameters
from radis_core.hyperparams import HyperparameterError, resolve


def test_auto_values_are_resolved_from_data():
    hp = resolve(Hyperparameters(), n_examples=80)
    assert hp.batch_size == 8 and hp.n_epochs == 2 and hp.max_steps == 20
    assert hp.learning_rate == pytest.approx(2e-4) and hp.lora_alpha == 32 and hp.checkpoint_every == 5
    assert resolve(hp, n_examples=80) == hp  # resolving twice changes nothing


def test_multiplier_and_accumulation():
    hp = resolve(Hyperparameters(learning_rate_multiplier=2, batch_size=4, gradient_accumulation_steps=2, n_epochs=1), n_examples=16)
    assert hp.learning_rate == pytest.approx(4e-4) and hp.max_steps == 2


@pytest.mark.parametrize(
    "field,value",
    [("batch_size", 0), ("learning_rate", -1.0), ("n_epochs", 1000), ("lora_rank", 2.5), ("warmup_ratio", 1.5),
     ("learning_rate", float("nan")), ("batch_size", True), ("lr_scheduler", "exotic")],
)
def test_bad_values_name_the_field(field, value):
    with pytest.raises(HyperparameterError, match=field):
        resolve(Hyperparameters(**{field: value}), n_examples=10)
