"""Benchmark: Spark settings for the tests' small data (tests/conftest.py's shared SparkSession).

Generates the incremental tests' data (tests/unit/test_incremental.py's `validated`: seed 23, 200 customers, 7
files), then, for each setting, in a fresh Python and JVM: the job in folder mode, incremental, over the first half
of the files (a full refresh), then over the rest (an incremental feed). Prints each setting's seconds beside
Spark's defaults measured in the same run (the yardstick), and the golden row count (the same for every setting).

Run: `python bench/small_data_spark_bench.py` (about 5 minutes on 2 cores). Not a test: timings depend on the
machine and its load; compare settings measured back to back.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOW = "2026-06-01T00:00:00+00:00"
SETTINGS = {  # name -> Spark SQL settings on top of the job's local session (etl_runtime.spark_session)
    "defaults": {},
    "no whole-stage codegen": {"spark.sql.codegen.wholeStage": "false"},
    "two shuffle partitions": {"spark.sql.shuffle.partitions": "2"},
    "both (tests/conftest.py)": {"spark.sql.codegen.wholeStage": "false", "spark.sql.shuffle.partitions": "2"},
}


def one(source: Path, work: Path, settings: dict[str, str]) -> dict:
    """The two runs under `settings` (this process: its own JVM)."""
    from pyspark import cloudpickle

    from c360 import shipped

    job = shipped.glue_job()
    for module in job.modules:
        cloudpickle.register_pickle_by_value(module)
    spark = job.spark_session("local[2]")
    spark.sparkContext.setLogLevel("ERROR")
    for k, v in settings.items():
        spark.conf.set(k, v)
    files = sorted(p for p in source.rglob("*") if p.is_file())
    args = job.parse_job_args(["--ledger_table", "", "--input_root", f"{work}/in/", "--output_root", f"{work}/out/",
                               "--rules_root", f"{ROOT / 'schemas'}/", "--now", NOW, "--incremental", "true"])
    seconds = []
    for batch in (files[:len(files) // 2], files[len(files) // 2:]):
        for p in batch:
            dest = work / "in" / p.relative_to(source)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(p, dest)
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # the job's JSON log
            job.run(spark, args)
        seconds.append(round(time.perf_counter() - t0, 1))
    golden = spark.read.parquet(f"{work}/out/curated/customer360_golden").count()
    return {"full refresh": seconds[0], "incremental": seconds[1], "total": round(sum(seconds), 1), "golden": golden}


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--one":  # a child: one setting
        result = one(Path(sys.argv[2]), Path(sys.argv[3]), json.loads(sys.argv[4]))
        print("RESULT " + json.dumps(result))
        return
    from c360.datagen import Params, generate
    from c360.datagen.validated import validated_copy

    with tempfile.TemporaryDirectory(prefix="c360-spark-settings-") as tmp:
        out = Path(tmp) / "gen"
        params = Params(seed=23, customers=200, purchases=700, feedback=260, files=2, bad_files=0, defect_rate=0.08,
                        duplicate_person_rate=0.15, exact_duplicate_rate=0.03, update_rate=0.06)
        source = Path(validated_copy(out, generate(params, out, progress=False), out / "validated"))
        results = {}
        for name, settings in SETTINGS.items():
            work = Path(tmp) / f"work-{len(results)}"
            done = subprocess.run([sys.executable, __file__, "--one", str(source), str(work), json.dumps(settings)],
                                  capture_output=True, text=True, check=True)
            results[name] = json.loads(done.stdout.rsplit("RESULT ", 1)[1])
            r, base = results[name], results["defaults"]
            print(f"{name:28} full refresh {r['full refresh']:5.1f} s  incremental {r['incremental']:5.1f} s  "
                  f"total {r['total']:5.1f} s  (yardstick, Spark's defaults: {base['total']:5.1f} s, "
                  f"{100 * (r['total'] / base['total'] - 1):+.0f} %)  golden rows {r['golden']}", flush=True)


if __name__ == "__main__":
    main()
