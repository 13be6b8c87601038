"""Where the team's peer corpora are: shared/corpora beside the checkout (as CI lays it), or C360_CORPORA_DIR."""

from __future__ import annotations

import os
from pathlib import Path

CORPORA = Path(os.environ.get("C360_CORPORA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "corpora")
