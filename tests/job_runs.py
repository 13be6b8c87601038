"""Running the exported Glue job in folder mode (no ledger), as the tests and fixtures do."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path


def run_job(etl, spark, folder: Path, out: Path, root: Path, now: datetime, *extra: str,
            rules: Path | None = None) -> dict:
    """The job over `folder` (validated files), curated/ written under `out`, processing time `now`; `extra`
    arguments after the others, `rules` instead of the project's schemas/."""
    args = etl.parse_job_args(["--ledger_table", "", "--input_root", f"{folder}/", "--output_root", f"{out}/",
                               "--rules_root", f"{rules or root / 'schemas'}/", "--now", now.isoformat(), *extra])
    return etl.run(spark, args)
