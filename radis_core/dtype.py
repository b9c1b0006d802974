"""Which dtype the frozen base weights compute in: ``float32`` or ``bfloat16``, and why.

A job asks for ``auto``, ``float32`` or ``bfloat16`` (the ``dtype`` hyperparameter). ``auto`` is resolved
by what the device is seen to support, never by its name:

- CUDA that reports bf16 support → bf16 (tensor cores; every card since Ampere).
- A CPU with AMX (``amx_bf16`` in ``/proc/cpuinfo``, Intel Sapphire Rapids and later) → bf16: its tile
  unit multiplies bf16 several times faster than fp32 (issue 17: 6.9× per matmul, 3.8× per prefill).
- A CPU with AVX-512 BF16 but no AMX (``avx512_bf16``: AMD Zen 4/5, Intel Cooper Lake) → fp32. Measured on
  an AMD EPYC with ``avx512_bf16`` and no AMX, torch 2.13, 2 threads, SmolLM2-135M-Instruct (bench/dtype.py,
  BENCHMARKS.md): bf16 matmuls run 2.4× faster, rationale generation 2.3× and LoRA training 4.8×, but the
  evaluation took 2.2× longer and the whole job 1.3× longer than in fp32; and bf16 batched greedy decoding
  gave the one-at-a-time text for 2 of 16 prompts only. Ask for ``bfloat16`` to get the faster generation and
  training there.
- Anything else (AVX2-only CPUs, Apple MPS, unknown) → fp32: without native bf16 instructions torch
  converts to fp32 and back around every matmul, slower than staying in fp32.

LoRA weights and optimizer state stay fp32 whatever is chosen (peft keeps adapters fp32 by default).
:func:`choose_dtype` is pure (flags in, choice out) so the rules are tested with flag sets; only
:func:`resolve_dtype` looks at the machine. Importable without torch (it is imported lazily for CUDA).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

#: What a job may ask for.
DtypeRequest = Literal["auto", "float32", "bfloat16"]
#: What the base weights end up in.
DtypeName = Literal["float32", "bfloat16"]

CPUINFO = Path("/proc/cpuinfo")


@dataclass(frozen=True)
class ResolvedDtype:
    """The dtype of the frozen base weights and the reason it was chosen (recorded in the report and meta.json)."""

    name: DtypeName
    reason: str


def cpu_flags(cpuinfo: str) -> frozenset[str]:
    """The feature flags of the first processor in a ``/proc/cpuinfo`` text (``flags`` on x86, ``Features`` on ARM)."""
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() in ("flags", "features"):
            return frozenset(value.split())
    return frozenset()


def read_cpu_flags(path: Path = CPUINFO) -> frozenset[str]:
    """This machine's CPU flags; empty where ``/proc/cpuinfo`` cannot be read (macOS, Windows): fp32 there."""
    try:
        return cpu_flags(path.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return frozenset()


def choose_dtype(requested: DtypeRequest, *, device: str, cuda_bf16: bool, flags: frozenset[str]) -> ResolvedDtype:
    """The base weights' dtype for ``requested`` on ``device`` (``cpu``, ``cuda``, ``cuda:1``, ``mps``).

    ``cuda_bf16`` says whether the CUDA device supports bf16; ``flags`` are the CPU's (see :func:`cpu_flags`).
    """
    if requested != "auto":
        return ResolvedDtype(requested, f"asked for {requested}")
    if device.startswith("cuda"):
        if cuda_bf16:
            return ResolvedDtype("bfloat16", "auto: the CUDA device supports bf16")
        return ResolvedDtype("float32", "auto: the CUDA device does not support bf16")
    if device != "cpu":
        return ResolvedDtype("float32", f"auto: no bf16 rule for device {device!r}")
    if "amx_bf16" in flags:
        return ResolvedDtype("bfloat16", "auto: the CPU has AMX (amx_bf16): native bf16 matmuls")
    if "avx512_bf16" in flags:
        # Measured (module docstring): faster generation and training, but a slower evaluation and job.
        return ResolvedDtype(
            "float32", "auto: the CPU has AVX-512 BF16 but no AMX: a bf16 job measured slower end to end (bench/dtype.py)"
        )
    return ResolvedDtype("float32", "auto: the CPU has no native bf16 instructions (no amx_bf16 or avx512_bf16)")


def resolve_dtype(requested: DtypeRequest, device: str) -> ResolvedDtype:
    """:func:`choose_dtype` on this machine: asks torch about CUDA only when ``device`` is a CUDA device."""
    cuda_bf16 = False
    if device.startswith("cuda"):
        import torch

        cuda_bf16 = bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    return choose_dtype(requested, device=device, cuda_bf16=cuda_bf16, flags=read_cpu_flags())
