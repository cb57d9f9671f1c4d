"""Fresh ids in every scheme the vendors use, and the per-district seed they are drawn from."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from edassets.sandbox.world.columns import ascii_rows, hex_ascii


class Ids:
    """Fresh ids of every scheme, drawn from the district's generator."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        # ObjectId layout: 4-byte creation second, 5 random "machine" bytes, 3-byte counter.
        # One machine value per district and a running counter make every id unique.
        self._machine = np.frombuffer(rng.bytes(5), dtype=np.uint8)
        self._counter = int(rng.integers(0, 1 << 23))

    def uuids(self, n: int) -> pd.Series:
        """Version-4 UUID strings (the OneRoster sourcedId shape)."""
        raw = np.frombuffer(self._rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
        raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
        raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
        digits = hex_ascii(raw)
        text = np.full((n, 36), ord("-"), dtype=np.uint8)
        for src, dst, width in ((0, 0, 8), (8, 9, 4), (12, 14, 4), (16, 19, 4), (20, 24, 12)):
            text[:, dst : dst + width] = digits[:, src : src + width]
        return ascii_rows(text)

    def object_ids(self, created: np.ndarray) -> pd.Series:
        """Clever ids (24 lower-case hex digits) for records created at ``created`` (UTC)."""
        n = len(created)
        raw = np.empty((n, 12), dtype=np.uint8)
        seconds = created.astype("datetime64[s]").astype(np.int64).astype(">u4")
        raw[:, :4] = seconds.view(np.uint8).reshape(n, 4)
        raw[:, 4:9] = self._machine
        counter = ((self._counter + np.arange(n)) & 0xFFFFFF).astype(">u4")
        raw[:, 9:] = counter.view(np.uint8).reshape(n, 4)[:, 1:]
        self._counter += n
        return ascii_rows(hex_ascii(raw))

    def numbers(self, n: int, digits: int) -> np.ndarray:
        """``n`` distinct random integers with exactly ``digits`` digits."""
        low = 10 ** (digits - 1)
        return self._rng.choice(9 * low, size=n, replace=False) + low


def district_seed(seed: int, district_id: str) -> list[int]:
    """The seed of one district's generators: the world's seed and a digest of the district id."""
    # A digest, not hash(): Python salts str hashes per process.
    digest = hashlib.blake2b(district_id.encode(), digest_size=8).digest()
    return [seed, int.from_bytes(digest, "big")]

