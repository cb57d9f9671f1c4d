"""Where the real sample files live: read in place from the shared folder, never copied into the repo."""

import os
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parents[1]


def shared_fixture(relative_path: str) -> Path:
    """Path of a real sample file or folder under `<shared>/fixtures/`.

    `<shared>` is `$EDASSETS_SHARED_DIR` when set, else `<repo>/../shared`.

    Args:
        relative_path: path below `fixtures/`, e.g. "oneroster_csv/v1p1_edfi_lmstoolkit_grandbend".

    Returns:
        The existing path; the calling test is skipped when the sample files are not there.
    """
    configured = os.environ.get("EDASSETS_SHARED_DIR")
    shared = Path(configured) if configured else _REPO.parent / "shared"
    path = shared / "fixtures" / relative_path
    if not path.exists():
        pytest.skip("real sample files not found: set EDASSETS_SHARED_DIR (CI always has ../shared)")
    return path
