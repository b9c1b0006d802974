import json

import torch
from peft import PeftModel

from radis_core.dataset import build_examples
from radis_core.export import export_adapter, export_merged
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
