"""The peer corpora of malformed and hostile files, vendored in tests/corpora/ (see tests/corpora/README.md).

C360_CORPORA_DIR points the tests at another copy (for example the team's shared/corpora); the vendored copy is the
default, so a fresh clone runs every corpus test.
"""

from __future__ import annotations

import os
from pathlib import Path

VENDORED = Path(__file__).resolve().parent / "corpora"
CORPORA = Path(os.environ.get("C360_CORPORA_DIR") or VENDORED)
