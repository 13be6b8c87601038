"""Benchmark: the load into PostgreSQL (exported_jobs/load_rds.py) beside a bare COPY of the same rows.

Input: a job output's curated/ folder (`--curated`), or, without it, a generated data set (100k customers /
500k purchases / 100k feedback by default, `c360 generate --validated`) run through the job first (bench/etl_bench's
runner). The database is a real PostgreSQL started by the local stack's rds:CreateDBInstance (a temporary state
folder), reached through its Secrets Manager secret as the job reaches it.

- **bare COPY** (the yardstick): per table, pyarrow reads the Parquet, writes it as CSV and one connection COPYs it
  into an empty table of the same columns, with no index, constraint or transaction around the tables.
- **load, first**: `load_rds.load` into the empty schema: COPY into staging (tables of at most `DRIVER_BYTES` of
  Parquet from the driver, the larger ones from the Spark tasks, in parallel), then the one-transaction switch
  (inserts, indexes, integrity checks).
- **load, again**: the same input once more: staging, then a switch that finds nothing to change.

Rows per second count every row of the six tables; under each load, its steps' seconds (the summary's `steps`) and
per table how it was staged, its seconds reading and copying rows (summed over tasks) and comparing.
Run: `python bench/load_bench.py [--curated PATH]` (a small set: `--customers 1500 --purchases 6000 --feedback 2000`).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def curated_from_generated(work: Path, customers: int, purchases: int, feedback: int) -> Path:
    from etl_bench import run_job

    data = work / "data"
    subprocess.run([sys.executable, "-m", "c360.cli", "generate", "--out", str(data), "--customers", str(customers),
                    "--purchases", str(purchases), "--feedback", str(feedback), "--validated", "--force"],
                   check=True, stdout=subprocess.DEVNULL)
    print(f"job over {data} ...", flush=True)
    result = run_job(data, work / "out", workers=2)
    print(f"  job: {result.get('seconds')} s", flush=True)
    return work / "out" / "curated"


def bare_copy(dsn: str, curated: Path, tables) -> dict:
    """pyarrow Parquet -> CSV -> COPY into empty, unindexed tables; one connection, table after table."""
    import psycopg
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    rows, t0 = 0, time.perf_counter()
    with psycopg.connect(dsn, autocommit=True, options="-c TimeZone=UTC") as conn:
        for t in tables:
            conn.execute(f"DROP TABLE IF EXISTS bare_{t.name}")
            conn.execute(f"CREATE TABLE bare_{t.name} AS SELECT {', '.join(t.columns)} FROM {t.name} WITH NO DATA")
        start = time.perf_counter()
        for t in tables:
            data = pq.read_table(curated / t.name)
            if "source_customer_ids" in data.column_names:  # the one list column: as a PostgreSQL array literal
                import pyarrow as pa

                lists = data.column("source_customer_ids").to_pylist()
                data = data.set_column(data.column_names.index("source_customer_ids"), "source_customer_ids",
                                       pa.array(["{" + ",".join(f'"{x}"' for x in v) + "}" for v in lists]))
            if "reject_id" in t.columns:
                import pyarrow as pa

                data = data.append_column("reject_id", pa.array([f"r{i}" for i in range(data.num_rows)]))
            with conn.cursor().copy(f"COPY bare_{t.name} ({', '.join(t.columns)}) FROM STDIN (FORMAT csv)") as cp:
                for batch in data.select(list(t.columns)).to_batches():
                    if batch.num_rows:  # batch by batch: pyarrow 22 garbles a table whose first chunk is empty
                        buf = io.BytesIO()
                        pacsv.write_csv(batch, buf, pacsv.WriteOptions(include_header=False))
                        cp.write(buf.getbuffer())
            rows += data.num_rows
        seconds = time.perf_counter() - start
        for t in tables:
            conn.execute(f"DROP TABLE bare_{t.name}")
    return {"rows": rows, "seconds": round(seconds, 2), "rows_per_s": round(rows / seconds),
            "with_setup_seconds": round(time.perf_counter() - t0, 2)}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--curated", help="a job output's curated/ folder (default: generate and run the job)")
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--purchases", type=int, default=500_000)
    ap.add_argument("--feedback", type=int, default=100_000)
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="c360-load-bench-"))
    os.environ.update(C360_STATE_DIR=str(work / "state"), C360_LOCAL_PORT=str(_free_port()), C360_TARGET="local")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from c360 import aws, config
    from c360.local import stack
    from c360.shipped import job_module

    curated = Path(args.curated) if args.curated else curated_from_generated(
        work, args.customers, args.purchases, args.feedback)
    settings = config.settings()
    stack.up(settings)
    try:
        os.environ.update(aws.subprocess_env(settings))
        rds, sm = aws.client("rds"), aws.client("secretsmanager")
        password = "bench-Pw-1"  # pragma: allowlist secret
        rds.create_db_instance(DBInstanceIdentifier="bench", Engine="postgres", DBInstanceClass="db.t3.micro",
                               AllocatedStorage=20, MasterUsername="c360_admin", MasterUserPassword=password,
                               DBName="customer360")
        ep = rds.describe_db_instances(DBInstanceIdentifier="bench")["DBInstances"][0]["Endpoint"]
        sm.create_secret(Name="bench/rds", SecretString=json.dumps({"username": "c360_admin", "password": password,
                                                                    "host": ep["Address"], "port": ep["Port"],
                                                                    "dbname": "customer360"}))
        load_rds = job_module("load_rds")
        from pyspark import cloudpickle
        from pyspark.sql import SparkSession

        cloudpickle.register_pickle_by_value(load_rds)
        dsn = load_rds.dsn_from_secret(load_rds.read_secret("bench/rds"))
        spark = (SparkSession.builder.master("local[2]").config("spark.sql.session.timeZone", "UTC")
                 .config("spark.driver.memory", "4g").config("spark.ui.enabled", "false").getOrCreate())
        spark.sparkContext.setLogLevel("ERROR")
        import psycopg

        with psycopg.connect(dsn, autocommit=True) as conn:
            load_rds.migrate(conn)
        bare = bare_copy(dsn, curated, load_rds.TABLES)
        print(f"bare COPY      {bare['rows']:>10,} rows in {bare['seconds']:7.2f} s = {bare['rows_per_s']:>9,} rows/s",
              flush=True)
        report = {"curated": str(curated), "bare_copy": bare}
        for name in ("first", "again"):
            r = load_rds.load(spark, f"{curated}/", dsn)
            rows = sum(r["rows"].values())
            rate = rows / r["seconds"]
            report[f"load_{name}"] = dict(r, rows_total=rows, rows_per_s=round(rate),
                                          vs_bare=round(rate / bare["rows_per_s"], 3))
            print(f"load, {name:6s}  {rows:>10,} rows in {r['seconds']:7.2f} s = {round(rate):>9,} rows/s "
                  f"({rate / bare['rows_per_s']:.2f}x bare; staging {r['stage_seconds']} s, switch "
                  f"{r['switch_seconds']} s)", flush=True)
            print("    steps: " + ", ".join(f"{k} {v:.2f}" for k, v in r["steps"].items()), flush=True)
            for table, t in r["tables"].items():
                print(f"    {table:20s} {t['rows']:>10,} rows by {t['by']:6s} ({t['partitions']} part.) read "
                      f"{t['read_seconds']:6.2f} s, copy {t['copy_seconds']:6.2f} s, "
                      f"compare {t['compare_seconds']:6.2f} s", flush=True)
        print(json.dumps(report, indent=1, default=str))
        spark.stop()
    finally:
        stack.down(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
