"""Export: a PEFT adapter folder that ``PeftModel.from_pretrained(base, path)`` loads unchanged.

``adapter_config.json`` names the base model by its public id (``meta["base_model_id"]``) where there is
one, so ``AutoPeftModelForCausalLM``, LoRA servers and converters find it anywhere; the local folder
trained on is recorded in ``meta.json`` only. ``README.md`` is a model card (:mod:`radis_core.model_card`),
not PEFT's blank template. Beside them sits ``meta.json`` (base model, its provenance and fingerprint,
method, resolved hyperparameters, data hash, metrics, library versions). Folders are written to a
temporary sibling and renamed into place, so a reader never sees half an export.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

from radis_core.hashing import sha256_file


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape an adapter, for reproducibility."""
    out = {"python": platform.python_version()}
    for name in ("torch", "transformers", "peft", "radis-service"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _replace_dir(tmp: Path, final: Path) -> None:
    if final.exists():
        old = final.with_name(f".old-{final.name}-{os.getpid()}")
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to ``path`` via a temp file + rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp", encoding="utf-8") as f:
        json.dump(data, f, indent=2, ensure_ascii=False, default=str)
        f.flush()
        os.fsync(f.fileno())
    os.replace(f.name, path)


def export_adapter(model: Any, out_dir: Path, meta: dict[str, Any], report: dict[str, Any] | None = None) -> Path:
    """Save the peft ``model``'s adapter, its model card and ``meta.json`` into ``out_dir`` atomically.

    ``report`` is the job's report, for the card's data statistics and metrics (None: the card says the
    adapter was not evaluated).
    """
    from radis_core.model_card import render_model_card

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".tmp-{out_dir.name}-"))
    try:
        model.save_pretrained(str(tmp), safe_serialization=True)
        lora = _name_public_base(tmp / "adapter_config.json", meta.get("base_model_id"))
        meta = dict(meta)
        meta["library_versions"] = library_versions()
        (tmp / "README.md").write_text(render_model_card(meta, report, lora), encoding="utf-8")
        meta["files"] = {p.name: sha256_file(p) for p in sorted(tmp.iterdir()) if p.is_file()}
        write_json_atomic(tmp / "meta.json", meta)
        _replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def _name_public_base(config_path: Path, base_model_id: str | None) -> dict[str, Any]:
    """Point ``adapter_config.json`` at the public id (peft wrote the local folder's path); return the config."""
    config: dict[str, Any] = json.loads(config_path.read_text(encoding="utf-8"))
    if base_model_id:
        config["base_model_name_or_path"] = base_model_id
        write_json_atomic(config_path, config)
    return config


def export_merged(model: Any, tokenizer: Any, out_dir: Path) -> Path:
    """Merge the adapter into a copy of the base weights and save a plain HF model folder."""
    import copy

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".tmp-{out_dir.name}-"))
    try:
        merged = copy.deepcopy(model).merge_and_unload()
        merged.save_pretrained(str(tmp), safe_serialization=True)
        tokenizer.save_pretrained(str(tmp))
        _replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir
