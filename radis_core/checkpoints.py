"""Resumable training checkpoints: adapter weights, optimizer, scheduler, RNG state and step.

A checkpoint is written into a temporary folder and renamed into place, so a crash mid-write never
leaves a half checkpoint that looks complete; resuming takes the newest complete one.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_PREFIX = "step-"


@dataclass
class Checkpoint:
    """A saved point of a run."""

    step: int
    path: Path


def list_checkpoints(root: Path) -> list[Checkpoint]:
    """Complete checkpoints under ``root``, oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = []
    for p in root.iterdir():
        if p.is_dir() and p.name.startswith(_PREFIX) and (p / "state.pt").is_file():
            try:
                found.append(Checkpoint(int(p.name[len(_PREFIX) :]), p))
            except ValueError:
                continue
    return sorted(found, key=lambda c: c.step)


def latest_checkpoint(root: Path) -> Checkpoint | None:
    """The newest complete checkpoint, if any."""
    cps = list_checkpoints(root)
    return cps[-1] if cps else None


def save_checkpoint(
    root: Path, *, step: int, model: Any, optimizer: Any, scheduler: Any, extra: dict[str, Any], keep: int
) -> Checkpoint:
    """Write a checkpoint for ``step`` and prune all but the newest ``keep``."""
    import torch
    from peft import get_peft_model_state_dict
    from safetensors.torch import save_file

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"{_PREFIX}{step:08d}"
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=".tmp-"))
    try:
        adapter = {k: v.detach().cpu().contiguous() for k, v in get_peft_model_state_dict(model).items()}
        save_file(adapter, str(tmp / "adapter.safetensors"))
        state = {
            "step": step,
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng": {
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
                "python": random.getstate(),
            },
            "extra": extra,
        }
        torch.save(state, tmp / "state.pt")
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for old in list_checkpoints(root)[:-keep] if keep > 0 else []:
        shutil.rmtree(old.path, ignore_errors=True)
    return Checkpoint(step, final)


def load_checkpoint(cp: Checkpoint, *, model: Any, optimizer: Any, scheduler: Any) -> dict[str, Any]:
    """Restore model adapter, optimizer, scheduler and RNG from ``cp``; return its ``extra`` dict."""
    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    device = next(model.parameters()).device
    set_peft_model_state_dict(model, load_file(str(cp.path / "adapter.safetensors"), device=str(device)))
    state = torch.load(cp.path / "state.pt", map_location="cpu", weights_only=False)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["rng"]["torch"])
    if state["rng"]["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["rng"]["cuda"])
    random.setstate(state["rng"]["python"])
    return dict(state.get("extra") or {})
