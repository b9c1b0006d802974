import json
import os
import shutil
import subprocess
import sys

import torch
from peft import PeftModel

from radis_core.dataset import build_examples
from radis_core.export import export_adapter, export_merged
from radis_core.hashing import sha256_file
from radis_core.models import load_model, resolve_model
from radis_core.settings import DEFAULT_TRANSLATION_TEMPLATE, Hyperparameters, resolve
from radis_core.training import attach_lora, train

from .conftest import make_pairs


def test_exported_adapter_loads_unchanged_with_peft(tiny_model_dir, tmp_path):
    model, tok = load_model(resolve_model(str(tiny_model_dir)), device="cpu", dtype="float32")
    examples, _ = build_examples(tok, make_pairs(8), method="supervised", template=DEFAULT_TRANSLATION_TEMPLATE, max_seq_len=128)
    hp = resolve(Hyperparameters(batch_size=4, n_epochs=1, learning_rate=1e-2, lora_rank=4), n_examples=len(examples))
    model = attach_lora(model, hp, seed=1)
    train(model, examples, hp, seed=1, pad_id=tok.pad_token_id, checkpoint_dir=None)
    out = export_adapter(model, tmp_path / "adapter", {"base_model": "tiny", "method": "supervised"})
    assert {"adapter_config.json", "adapter_model.safetensors", "meta.json"} <= {p.name for p in out.iterdir()}
    meta = json.loads((out / "meta.json").read_text())
    assert meta["base_model"] == "tiny" and "torch" in meta["library_versions"] and "adapter_model.safetensors" in meta["files"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]  # nothing half-written left behind

    base, _ = load_model(resolve_model(str(tiny_model_dir)), device="cpu", dtype="float32")
    loaded = PeftModel.from_pretrained(base, str(out))
    ids = torch.tensor([examples[0].input_ids])
    with torch.no_grad():
        assert torch.allclose(loaded(input_ids=ids).logits, model(input_ids=ids).logits, atol=1e-5)

    merged_dir = export_merged(model, tok, tmp_path / "merged")
    merged, _ = load_model(resolve_model(str(merged_dir)), device="cpu", dtype="float32")
    with torch.no_grad():
        assert torch.allclose(merged(input_ids=ids).logits, model(input_ids=ids).logits, atol=1e-4)


PUBLIC_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
OFFLINE_LOAD = """
import sys, torch
from peft import AutoPeftModelForCausalLM
model = AutoPeftModelForCausalLM.from_pretrained(sys.argv[1])
assert model.peft_config["default"].base_model_name_or_path == sys.argv[2]
with torch.no_grad():
    torch.save(model(input_ids=torch.tensor([[5, 17, 42, 7]])).logits, sys.argv[3])
"""


def _catalogue_like_adapter(tiny_model_dir, out):
    """A LoRA with non-zero weights on the tiny model, exported as if its base were the catalogue's SmolLM2."""
    model, _ = load_model(resolve_model(str(tiny_model_dir)), device="cpu", dtype="float32")
    hp = resolve(Hyperparameters(batch_size=4, n_epochs=1, lora_rank=4), n_examples=8)
    model = attach_lora(model, hp, seed=1).eval()  # no LoRA dropout in the reference logits
    torch.manual_seed(2)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(std=0.5)  # fresh LoRA B is zero: make the adapter change the logits
    meta = {
        "base_model": "smollm2-135m-instruct",
        "base_model_id": PUBLIC_ID,
        "base_model_path": str(tiny_model_dir),
        "base_model_license": "Apache-2.0",
        "base_model_provenance": "trained on Q4_1 weights dequantised to fp32, from SmolLM2-135M-Instruct.Q4_1.gguf",
        "method": "radis",
        "seed": 3,
        "hyperparameters": hp.to_dict(),
        "translation_template": DEFAULT_TRANSLATION_TEMPLATE,
        "language_pairs": {"de-en": 8},
    }
    return model, export_adapter(model, out, meta)


def test_the_exported_config_names_the_public_id_and_loads_offline_from_the_hub_cache(tiny_model_dir, tmp_path):
    model, out = _catalogue_like_adapter(tiny_model_dir, tmp_path / "adapter")
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == PUBLIC_ID
    meta = json.loads((out / "meta.json").read_text())
    assert meta["base_model_path"] == str(tiny_model_dir)  # the local folder is recorded in meta.json only
    assert str(tiny_model_dir) not in (out / "adapter_config.json").read_text() + (out / "README.md").read_text()
    assert meta["files"]["adapter_config.json"] == sha256_file(out / "adapter_config.json")
    assert meta["files"]["README.md"] == sha256_file(out / "README.md")

    # An offline user's Hugging Face cache holding the base under its id (the tiny model stands in for it).
    hf_home = tmp_path / "hf"
    repo = hf_home / "hub" / ("models--" + PUBLIC_ID.replace("/", "--"))
    revision = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(tiny_model_dir, repo / "snapshots" / revision)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_", "TRANSFORMERS_"))}
    env.update(HF_HOME=str(hf_home), HF_HUB_OFFLINE="1")
    logits_file = tmp_path / "logits.pt"
    run = subprocess.run(
        [sys.executable, "-c", OFFLINE_LOAD, str(out), PUBLIC_ID, str(logits_file)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    with torch.no_grad():
        expected = model(input_ids=torch.tensor([[5, 17, 42, 7]])).logits
        base_only = load_model(resolve_model(str(tiny_model_dir)), device="cpu", dtype="float32")[0]
        assert not torch.allclose(base_only(input_ids=torch.tensor([[5, 17, 42, 7]])).logits, expected, atol=1e-3)
    assert torch.allclose(torch.load(logits_file), expected, atol=1e-5)


def test_the_model_card_is_filled_in(tiny_model_dir, tmp_path):
    _, out = _catalogue_like_adapter(tiny_model_dir, tmp_path / "adapter")
    card = (out / "README.md").read_text()
    assert "More Information Needed" not in card and "None" not in card
    assert card.startswith('---\nbase_model: "HuggingFaceTB/SmolLM2-135M-Instruct"\n')
    assert 'license: "apache-2.0"' in card and 'language: ["de", "en"]' in card
    assert "trained on Q4_1 weights dequantised to fp32" in card
    for heading in ("Base model", "Method", "Training", "Data", "Evaluation", "Prompt", "Use", "Licence"):
        assert f"\n## {heading}\n" in card
    assert "Not evaluated" in card  # exported without a report: said, not left blank
    assert "AutoPeftModelForCausalLM.from_pretrained" in card
    assert f"vllm serve {PUBLIC_ID} --enable-lora --max-lora-rank 8 --lora-modules translation=./adapter" in card
