import shutil

import pytest

from radis_core.models import CATALOGUE, ModelSourceError, describe_source, fingerprint, resolve_model


def test_sources_are_classified_without_network(tiny_model_dir, tmp_path):
    assert describe_source("smollm2-135m-instruct") == "catalogue"
    assert describe_source(str(tiny_model_dir)) == "folder"
    assert describe_source(str(tmp_path / "x.gguf")) == "gguf"
    assert describe_source("hf:HuggingFaceTB/SmolLM2-135M-Instruct") == "hub"
    with pytest.raises(ModelSourceError, match="unknown model"):
        describe_source("no-such-model")
    assert "smollm2-135m-instruct" in CATALOGUE


def test_folder_without_config_is_refused(tmp_path):
    (tmp_path / "m").mkdir()
    with pytest.raises(ModelSourceError, match="config.json"):
        resolve_model(str(tmp_path / "m"))


def test_fingerprint_is_stable_and_follows_the_weights(tiny_model_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_model_dir, copy)
    (copy / ".radis-fingerprint.json").unlink(missing_ok=True)
    assert fingerprint(copy) == fingerprint(tiny_model_dir) == resolve_model(str(copy)).fingerprint
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    assert fingerprint(copy) != fingerprint(tiny_model_dir)
