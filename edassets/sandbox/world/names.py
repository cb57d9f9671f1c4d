"""Synthetic names: Faker pools drawn once per district, indexed with NumPy for thousands of people."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from faker import Faker

from edassets.sandbox.world.columns import as_text
from edassets.sandbox.world.spec import STRING

_MIDDLE_NAME_SHARE = 0.35
_NAME_POOL = 300  # Faker draws per name list; indexing the pools is what makes names fast


@dataclass(frozen=True)
class Names:
    """Faker name pools, indexed with NumPy to name thousands of people at once."""

    female: np.ndarray
    male: np.ndarray
    family: np.ndarray
    school_stems: tuple[str, ...]

    @classmethod
    def draw(cls, seed: list[int], schools: int) -> Names:
        """Name pools and ``schools`` distinct school-name stems from a Faker seeded by ``seed``."""
        fake = Faker("en_US")
        fake.seed_instance(seed[0] * 1_000_003 + seed[1])
        stems: list[str] = []
        while len(stems) < schools:  # one pass per school: a handful of schools, not students
            stem = fake.last_name()
            if stem not in stems:
                stems.append(stem)
        return cls(
            female=np.array([fake.first_name_female() for _ in range(_NAME_POOL)], dtype=object),
            male=np.array([fake.first_name_male() for _ in range(_NAME_POOL)], dtype=object),
            family=np.array([fake.last_name() for _ in range(2 * _NAME_POOL)], dtype=object),
            school_stems=tuple(stems),
        )

    def people(self, rng: np.random.Generator, female: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(given, middle or None, family) names for people of the given sexes."""
        n = len(female)
        given = np.where(female, self.female[rng.integers(0, _NAME_POOL, n)], self.male[rng.integers(0, _NAME_POOL, n)])
        middle_pool = np.where(female, self.female[rng.integers(0, _NAME_POOL, n)],
                               self.male[rng.integers(0, _NAME_POOL, n)])
        middle = np.where(rng.random(n) < _MIDDLE_NAME_SHARE, middle_pool, np.full(n, None, dtype=object))
        family = self.family[rng.integers(0, len(self.family), n)]
        return given, middle, family


def unique_usernames(given: np.ndarray, family: np.ndarray) -> pd.Series:
    """``given.family`` in lower case, with 2, 3… appended to repeats so each is unique."""
    base = (as_text(given) + "." + as_text(family)).str.lower().str.replace(r"[^a-z.]", "", regex=True)
    repeat = base.groupby(base, sort=False).cumcount()
    # A base has no digits, so a numbered name can never collide with another base.
    return base + (repeat + 1).astype(STRING).where(repeat > 0, "")
