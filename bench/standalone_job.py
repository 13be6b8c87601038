"""Run the exported Glue script standalone, as Glue runs it (`python -E -s <script> ...`, a cold JVM, local Spark):
the one runner of bench/job_overhead_bench.py and bench/incremental_bench.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path


def run_script(script: Path, args: list[str], cwd: Path, timeout: float = 900,
               submit_args: str = "") -> tuple[list[dict], float]:
    """The script's JSON log lines and the run's wall seconds; a failed run stops the benchmark with its output.
    `submit_args`: spark-submit options for the session the script starts (PYSPARK_SUBMIT_ARGS), e.g. its master and
    driver memory; none: pyspark's defaults (local[*], 1 GB)."""
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, SPARK_LOCAL_IP="127.0.0.1")
    if submit_args:
        env["PYSPARK_SUBMIT_ARGS"] = f"{submit_args} pyspark-shell"
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-E", "-s", str(script), *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=timeout)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"job failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")], wall
