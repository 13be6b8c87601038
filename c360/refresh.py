"""`c360 full-refresh`: recompute everything from validated/ with the deployed job (after a rule change, for a
backfill, or to check that the incremental runs still equal the reference).

It starts the job with `--incremental true --full_refresh true` once no run is active (the job allows one run at a
time; it waits up to `wait_s` for an active run to end), then follows the run to its end, reporting its state, and
returns its id, final state, error message and seconds. The run recomputes every VALID file, rewrites the state
under curated/_state/ and loads every row into PostgreSQL (a new epoch: the load compares every row, as a first
load does). Nothing is lost if it fails: the state is left uncommitted, so the next run makes a full refresh.
"""

from __future__ import annotations

import time

from c360 import aws, config
from c360.reconcile import ACTIVE

FULL_REFRESH = {"--incremental": "true", "--full_refresh": "true"}


def full_refresh(settings: config.Settings, outputs: dict, wait_s: float = 1800, timeout_s: float = 7200,
                 poll_s: float = 2.0, progress=print) -> dict:
    """Start a full-refresh run of the job `outputs` names and follow it; returns {"job_run", "state", "error",
    "seconds"}. `wait_s`: how long an active run may keep it from starting (TimeoutError after); `timeout_s`: how
    long to follow the run (its state so far is returned after, the run goes on)."""
    glue = aws.client("glue", settings)
    job = outputs["glue_job"]
    deadline = time.monotonic() + wait_s
    while active := [r["Id"] for r in glue.get_job_runs(JobName=job).get("JobRuns", [])
                     if r["JobRunState"] in ACTIVE]:
        if time.monotonic() > deadline:
            raise TimeoutError(f"run {active[0]} of {job} is still active after {wait_s:.0f} s: try again later")
        progress(f"waiting for run {active[0]} of {job} to end")
        time.sleep(poll_s)
    run_id = glue.start_job_run(JobName=job, Arguments=FULL_REFRESH)["JobRunId"]
    progress(f"full refresh started: run {run_id} of {job}")
    started, state, seen = time.monotonic(), "STARTING", None
    run: dict = {}
    while time.monotonic() - started < timeout_s:
        run = glue.get_job_run(JobName=job, RunId=run_id)["JobRun"]
        state = run["JobRunState"]
        if state != seen:
            progress(f"run {run_id}: {state} after {time.monotonic() - started:.0f} s")
            seen = state
        if state not in ACTIVE:
            break
        time.sleep(poll_s)
    return {"job_run": run_id, "state": state, "error": run.get("ErrorMessage"),
            "seconds": round(time.monotonic() - started, 1)}
