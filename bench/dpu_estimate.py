"""On paper: Glue DPU-hours a day for 100 files a day after one year of history, today's recompute against incremental.

Not a measurement: an extrapolation from `bench/incremental_bench.py`'s measured seconds (its defaults are the
1M / 5M / 1M numbers at commit 1b62f26, 2 local cores), under the assumptions printed with the result:

- the history after a year is `--year-records` (10M customers / 50M purchases / 10M feedback: 70M records), 100
  files a day, each file `--file-records` records, each record of another person (the usual purchases file);
- **today** (every run recomputes every file): seconds per record of history from the default run;
- **incremental**: a fixed part (the 3-row file), plus the rewrite of every state bucket a file's persons fall in
  (buckets are sized to about 50,000 records, a power of two: 2,048 at 70M records, so 1,930 persons touch 61% of
  them), priced per rewritten record from the 1k-record file (which touched 98% of the 256 buckets at 1M), plus
  reading the reached persons' records, priced the same way;
- a Glue DPU is 4 vCPUs; one local core does the work of one vCPU; Spark spreads it evenly (no skew, no idle
  executors); every run is billed at least Glue's one minute on `--min-dpus` DPUs; S3 renames are server-side
  copies (no DPU time).

Run: `python bench/dpu_estimate.py`; `--help` for each input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def touched_fraction(persons: int, buckets: int) -> float:
    """The expected share of buckets that `persons` uniformly hashed persons fall in."""
    return 1 - (1 - 1 / buckets) ** persons


def dpu_hours(seconds_on_cores: float, cores: int, min_dpus: float) -> float:
    return max(seconds_on_cores * cores / 4 / 3600, min_dpus / 60)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--history-records", type=float, default=7_060_921, help="records of the measured history")
    ap.add_argument("--default-run-s", type=float, default=426.0, help="measured: the default run over it")
    ap.add_argument("--small-file-s", type=float, default=30.1, help="measured: a 3-row file on it (fixed part)")
    ap.add_argument("--write-1k-s", type=float, default=216.8, help="measured: the 1k-record file's state write")
    ap.add_argument("--reach-1k-s", type=float, default=62.4, help="measured: its 'components reached' step")
    ap.add_argument("--measured-buckets", type=int, default=256, help="the measured state's bucket count")
    ap.add_argument("--cores", type=int, default=2, help="cores the measurements ran on")
    ap.add_argument("--year-records", type=float, default=70e6, help="the history after a year")
    ap.add_argument("--files-per-day", type=int, default=100)
    ap.add_argument("--file-records", type=int, default=1_930, help="records per file (70M / 36,500 files)")
    ap.add_argument("--min-dpus", type=float, default=2, help="the smallest job: 2 G.1X workers")
    ap.add_argument("--usd-per-dpu-hour", type=float, default=0.44)
    a = ap.parse_args()
    from c360.shipped import job_module

    bucket_count = job_module("etl_state").bucket_count  # the job's own sizing of the state

    per_record_today = a.default_run_s / a.history_records  # seconds of the measured cores per history record
    share_1k = touched_fraction(1000, a.measured_buckets)
    per_rewritten = (a.write_1k_s + a.reach_1k_s) / (share_1k * a.history_records)
    buckets = bucket_count(int(a.year_records))
    share = touched_fraction(a.file_records, buckets)

    today_s = per_record_today * a.year_records
    incr_s = a.small_file_s + per_rewritten * share * a.year_records
    small_s = a.small_file_s
    rows = [("today: every run recomputes the history", today_s),
            (f"incremental: a {a.file_records:,}-record file ({share:.0%} of {buckets:,} buckets rewritten)", incr_s),
            ("incremental: a file of a few persons (the fixed part)", small_s)]
    print(f"After a year ({a.year_records / 1e6:.0f}M records), {a.files_per_day} files a day, a run per file:")
    print(f"  {'':70s} {'s/run':>8s} {'DPU-h/run':>10s} {'DPU-h/day':>10s} {'USD/day':>8s}")
    for name, s in rows:
        dph = dpu_hours(s, a.cores, a.min_dpus)
        print(f"  {name:70s} {s:8.0f} {dph:10.3f} {dph * a.files_per_day:10.1f} "
              f"{dph * a.files_per_day * a.usd_per_dpu_hour:8.2f}")
    print(f"  yardstick: the per-record costs behind it: today {per_record_today * 1e6:.1f} us per history record; "
          f"incremental {per_rewritten * 1e6:.1f} us per record of a rewritten bucket ({a.cores} cores)")


if __name__ == "__main__":
    main()
