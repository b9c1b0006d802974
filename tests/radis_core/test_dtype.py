"""The base weights' dtype: ``auto`` follows the device's flags, an explicit choice is kept, the reason is said."""

from __future__ import annotations

from pathlib import Path

import pytest

from radis_core.dtype import choose_dtype, cpu_flags, read_cpu_flags, resolve_dtype

#: Flag sets as /proc/cpuinfo shows them (trimmed): Sapphire Rapids, Zen 4 (the machine the rule was measured on), Zen 2.
SAPPHIRE_RAPIDS = frozenset(["fpu", "sse2", "avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "amx_int8"])
ZEN4 = frozenset(["fpu", "sse2", "avx2", "avx512f", "avx512_bf16", "avx512_vnni"])
ZEN2 = frozenset(["fpu", "sse2", "avx2", "fma"])


@pytest.mark.parametrize(
    ("flags", "name", "says"),
    [
        (SAPPHIRE_RAPIDS, "bfloat16", "amx_bf16"),
        (ZEN4, "float32", "AVX-512 BF16 but no AMX"),  # measured slower end to end (radis_core.dtype)
        (ZEN2, "float32", "no native bf16"),
        (frozenset(), "float32", "no native bf16"),
    ],
)
def test_auto_on_a_cpu_follows_its_bf16_flags(flags, name, says):
    chosen = choose_dtype("auto", device="cpu", cuda_bf16=False, flags=flags)
    assert chosen.name == name and says in chosen.reason and chosen.reason.startswith("auto")


def test_auto_on_cuda_follows_the_card_not_the_host_cpu():
    assert choose_dtype("auto", device="cuda", cuda_bf16=True, flags=ZEN2).name == "bfloat16"
    assert choose_dtype("auto", device="cuda:1", cuda_bf16=False, flags=SAPPHIRE_RAPIDS).name == "float32"


def test_auto_on_another_device_stays_float32():
    chosen = choose_dtype("auto", device="mps", cuda_bf16=False, flags=SAPPHIRE_RAPIDS)
    assert chosen.name == "float32" and "mps" in chosen.reason


@pytest.mark.parametrize("asked", ["float32", "bfloat16"])
def test_an_explicit_choice_is_kept_whatever_the_hardware(asked):
    for flags in (SAPPHIRE_RAPIDS, ZEN2):
        chosen = choose_dtype(asked, device="cpu", cuda_bf16=False, flags=flags)
        assert (chosen.name, chosen.reason) == (asked, f"asked for {asked}")


def test_flags_are_read_from_the_first_flags_or_features_line(tmp_path: Path):
    x86 = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx512_bf16 sse2\n\nprocessor\t: 1\nflags\t: fpu\n"
    assert cpu_flags(x86) == {"fpu", "avx512_bf16", "sse2"}
    arm = "processor\t: 0\nFeatures\t: fp asimd bf16 sve\n"
    assert "bf16" in cpu_flags(arm)
    assert cpu_flags("model name : something\n") == frozenset()
    (tmp_path / "cpuinfo").write_text(x86)
    assert read_cpu_flags(tmp_path / "cpuinfo") == {"fpu", "avx512_bf16", "sse2"}
    assert read_cpu_flags(tmp_path / "absent") == frozenset()


def test_resolve_on_this_cpu_matches_the_rule_applied_to_its_flags():
    assert resolve_dtype("auto", "cpu") == choose_dtype("auto", device="cpu", cuda_bf16=False, flags=read_cpu_flags())
