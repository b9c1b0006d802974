import pytest

from radis_core.kv_cache import reserved_cache


def test_reserved_cache_appends_in_place_and_drops_rows():
    import torch

    keys = torch.arange(2 * 1 * 3 * 2, dtype=torch.float32).reshape(2, 1, 3, 2)
    cache = reserved_cache([(keys, keys + 100)], extra_positions=2)
    assert cache.get_seq_length() == 3
    step = torch.full((2, 1, 1, 2), -1.0)
    k, v = cache.update(step, step - 1, 0)
    assert k.shape == (2, 1, 4, 2) and torch.equal(k[:, :, :3], keys) and torch.equal(k[:, :, 3:], step)
    assert torch.equal(v[:, :, :3], keys + 100)
    cache.batch_select_indices(torch.tensor([1]))
    assert torch.equal(cache.layers[0].keys, torch.cat([keys[1:], step[1:]], dim=2))
    cache.update(step[:1], step[:1], 0)
    assert cache.get_seq_length() == 5
    with pytest.raises(RuntimeError, match="full"):
        cache.update(step[:1], step[:1], 0)
