"""A KV cache whose rows are allocated once, with room for every decode step.

transformers' ``DynamicLayer`` grows by ``torch.cat`` at every step, which copies the whole cache
each time: with 16 rows of ~400 positions that copy was 28 % of batched decoding on the CPU
(torch.profiler, BENCHMARKS.md target 1). Here each layer writes the new step into a buffer
reserved up front and hands attention a view of the filled part.

Imports transformers: :mod:`radis_core.generation` imports this module only when it decodes.
"""

from __future__ import annotations

from typing import Any

from transformers.cache_utils import DynamicCache, DynamicLayer


def reserved_cache(layers: list[tuple[Any, Any]], extra_positions: int) -> DynamicCache:
    """A ``DynamicCache`` holding ``layers`` (keys, values per layer) with room for ``extra_positions`` more."""
    cache = DynamicCache()
    cache.layers = [ReservedLayer(k, v, extra_positions) for k, v in layers]
    return cache


class ReservedLayer(DynamicLayer):
    """One layer's keys and values in preallocated ``[batch, heads, capacity, dim]`` buffers."""

    def __init__(self, keys: Any, values: Any, extra_positions: int):
        super().__init__()  # type: ignore[no-untyped-call]  # transformers' DynamicLayer.__init__ is unannotated
        batch, heads, length, _ = keys.shape
        self._k = keys.new_empty((batch, heads, length + extra_positions, keys.shape[-1]))
        self._v = values.new_empty((batch, heads, length + extra_positions, values.shape[-1]))
        self._k[:, :, :length] = keys
        self._v[:, :, :length] = values
        self.length: int = length
        self.device = keys.device
        self.is_initialized = True
        self._refresh()

    def _refresh(self) -> None:
        self.keys = self._k[:, :, : self.length]
        self.values = self._v[:, :, : self.length]

    def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        n = key_states.shape[-2]
        if self.length + n > self._k.shape[-2]:
            raise RuntimeError("reserved KV cache is full: more steps decoded than were reserved")
        self._k[:, :, self.length : self.length + n] = key_states
        self._v[:, :, self.length : self.length + n] = value_states
        self.length += n
        self._refresh()
        return self.keys, self.values

    def get_seq_length(self, *args: Any, **kwargs: Any) -> int:
        return self.length

    def batch_select_indices(self, indices: Any) -> None:
        self._k = self._k[indices]
        self._v = self._v[indices]
        self._refresh()
