"""Benchmark: the Glue job (exported_jobs/customer360_etl.py) on generated data with local Spark, beside DuckDB.

Generates 1M customers / 5M purchases / 1M feedback rows (or uses --data, a `c360 generate --validated` folder),
runs the exported job with `spark-submit --master local[2]` in folder mode (no ledger), and prints its wall time,
records per second and the peak memory (RSS) of its process tree. Then DuckDB, as a single-machine yardstick,
reads the same purchases and feedback files, drops exact duplicates and computes the per-customer aggregations of
the golden table (orders, USD spend, first/last purchase, feedback count, average rating); it has no XML reader,
and does none of the job's cleaning, DQ rules, identity resolution or sentiment. Run:
`python bench/etl_bench.py` (about 25 minutes on 2 cores), or `--customers 100000 ...` for a quick look.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _tree_rss_mb(pgid: int) -> float:
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:  # field 5 of /proc/<pid>/stat: the process group
                status = (stat.parent / "status").read_text()
                total += int(status.split("VmRSS:")[1].split()[0])
        except (OSError, IndexError, ValueError):
            continue
    return total / 1024


def run_job(data: Path, out: Path, workers: int) -> dict:
    cmd = [str(Path(sys.executable).parent / "spark-submit"), "--master", f"local[{workers}]",
           "--driver-memory", "8g", "--conf", "spark.ui.enabled=false",
           "--conf", f"spark.sql.shuffle.partitions={4 * workers}",
           str(ROOT / "exported_jobs" / "customer360_etl.py"), "--ledger_table", "",
           "--input_root", f"{data / 'validated'}/", "--output_root", f"{out}/", "--rules_root", f"{ROOT / 'schemas'}/"]
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, SPARK_LOCAL_IP="127.0.0.1")
    peak = 0.0
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True,
                            start_new_session=True)
    stop = threading.Event()

    def watch():
        nonlocal peak
        while not stop.wait(1.0):
            peak = max(peak, _tree_rss_mb(proc.pid))
    threading.Thread(target=watch, daemon=True).start()
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("{"):
            print("   ", line.strip()[:160], flush=True)
    rc = proc.wait()
    stop.set()
    seconds = time.perf_counter() - t0
    if rc != 0:
        raise SystemExit(f"the job failed ({rc}):\n" + "".join(lines[-30:]))
    summary = json.loads([ln for ln in lines if '"job finished"' in ln][-1])
    return {"seconds": seconds, "peak_rss_mb": peak, **summary}


def run_duckdb(data: Path) -> dict:
    import duckdb

    v = data / "validated"
    items = "STRUCT(sku VARCHAR, product_name VARCHAR, category VARCHAR, quantity BIGINT, unit_price DECIMAL(18,6))[]"
    columns = (f"{{purchase_id: 'VARCHAR', customer_id: 'VARCHAR', purchase_ts: 'TIMESTAMPTZ', currency: 'VARCHAR', "
               f"items: '{items}', total_amount: 'DECIMAL(18,6)', payment_method: 'VARCHAR', channel: 'VARCHAR', "
               f"store_id: 'VARCHAR'}}")
    arrays = sorted(str(p) for p in (v / "purchases").glob("*.json"))
    lines = sorted(str(p) for p in (v / "purchases").iterdir() if p.suffix in (".jsonl", ".ndjson"))
    reads = [f"SELECT * FROM read_json({arrays!r}, format='array', columns={columns})" if arrays else None,
             f"SELECT * FROM read_json({lines!r}, format='newline_delimited', columns={columns})" if lines else None]
    con = duckdb.connect()
    t0 = time.perf_counter()
    con.execute("SET threads = 2")
    con.execute(f"CREATE TABLE rates AS SELECT * FROM read_csv('{ROOT / 'schemas' / 'currency_rates.csv'}')")
    con.execute("CREATE TABLE purchases AS SELECT DISTINCT * FROM (" + " UNION ALL ".join(r for r in reads if r) + ")")
    con.execute(f"CREATE TABLE feedback AS SELECT DISTINCT * FROM read_csv('{v / 'feedback'}/*.csv', header=true, "
                "all_varchar=true)")
    n = con.execute("""
        CREATE TABLE golden AS
        WITH o AS (SELECT p.customer_id, count(*) AS order_count, round(sum(p.total_amount * r.usd_per_unit), 2)
                          AS total_spend, min(purchase_ts) AS first_purchase_at, max(purchase_ts) AS last_purchase_at
                   FROM purchases p JOIN rates r USING (currency) GROUP BY p.customer_id),
             f AS (SELECT customer_id, count(*) AS feedback_count, round(avg(CAST(rating AS INTEGER)), 2) AS avg_rating
                   FROM feedback GROUP BY customer_id)
        SELECT * FROM o FULL JOIN f USING (customer_id)""").fetchall()
    rows = con.execute("SELECT count(*) FROM golden").fetchone()[0]
    counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("purchases", "feedback")}
    del n
    return {"seconds": time.perf_counter() - t0, "golden_rows": rows, **counts}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", help="an existing `c360 generate --validated` folder")
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--purchases", type=int, default=5_000_000)
    ap.add_argument("--feedback", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(args.data) if args.data else Path(tmp) / "data"
        if not args.data:
            subprocess.run([sys.executable, "-m", "c360.cli", "generate", "--out", str(data), "--customers",
                            str(args.customers), "--purchases", str(args.purchases), "--feedback", str(args.feedback),
                            "--files", "2", "--bad-files", "0", "--validated"], check=True)
        manifest = json.loads((data / "manifest.json").read_text())
        size = sum(p.stat().st_size for p in (data / "validated").rglob("*") if p.is_file()) / 1e6
        records = sum(d["records"] for d in manifest["datasets"].values())
        print(f"data: {records:,} records, {size:,.0f} MB in {data / 'validated'}")
        print(f"the Glue job, spark-submit local[{args.workers}], folder mode:")
        job = run_job(data, Path(tmp) / "out", args.workers)
        print(f"  wall {job['seconds']:.0f} s, {records / job['seconds']:,.0f} records/s, peak RSS of the process "
              f"tree {job['peak_rss_mb']:,.0f} MB, DQ failure {job['dq_failure_percent']:.2f}%")
        duck = run_duckdb(data)
        print(f"DuckDB (2 threads): purchases + feedback read, exact duplicates dropped, per-customer aggregates: "
              f"{duck['seconds']:.1f} s ({duck['purchases']:,} purchases, {duck['feedback']:,} feedback, "
              f"{duck['golden_rows']:,} customers)")
        print(f"ratio: the job takes {job['seconds'] / duck['seconds']:.1f}x DuckDB's time (it also parses the XML, "
              "cleans, judges every DQ rule, resolves identities, labels sentiment and writes Parquet)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
