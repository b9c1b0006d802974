"""The one whole-file sha256 helper."""

import hashlib

from radis_core.hashing import sha256_file


def test_sha256_file_matches_hashlib_across_chunk_boundaries(tmp_path):
    for size in (0, 1, (1 << 20) - 1, 1 << 20, (1 << 20) + 7, 3 * (1 << 20)):
        data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
        path = tmp_path / f"f{size}"
        path.write_bytes(data)
        assert sha256_file(path) == sha256_file(str(path)) == hashlib.sha256(data).hexdigest()
