"""Benchmark: an incremental run (--incremental true) against a full recompute, at growing history sizes.

For each history size (generated: customers / purchases / feedback = 1 : 4 : 1 unless told otherwise, 2 files
each, seed 7, then `validated_copy`), in folder mode with the exported job run standalone as Glue runs it (`python -E -s
customer360_etl.py ...`, a cold JVM every run, with bench/etl_bench.py's Spark settings: local[2], an 8 GB driver,
8 shuffle partitions):

1. **full refresh**: `--incremental true` on the history with no state (it builds the state);
2. **3-row file**: a feedback file of three rows (copied from the history, new ids, so it refers to existing
   customers and purchases) dropped in, then an incremental run;
3. **1k-record file**: a purchases file of 1,000 purchases (copied, new ids) dropped in, then an incremental run;
4. the yardstick, measured in the same way beside them: **today's default run** (no `--incremental`), which
   recomputes every file, over the same files as step 3.

With `--identity probabilistic` every run scores pairs with the shipped model (etl_matching), the history has
realistic duplicates (`--identity-noise realistic`), and a fifth run measures the matching step's cost per new
customers: **1k-customer file**, 1,000 customer records of the history with new source ids (each finds its
original through the blocking index), then an incremental run; the step's own seconds ("state: probabilistic
links") are printed beside each run's.

Prints the job's own seconds ("job finished") and the wall seconds of each run, and the slowest steps. Not a test:
timings depend on the machine and its load.

Run: `python bench/incremental_bench.py` (sizes 500, 5000, 20000 customers: about 10 minutes on 2 cores);
`--sizes 500,5000` to choose; `--sizes 1000000 --purchases-per-customer 5` for the 1M / 5M / 1M history (about an
hour: generation, the full refresh and the default run dominate); `--json` for machine-readable output.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import tempfile
from pathlib import Path

from splink.backends.spark import similarity_jar_location
from standalone_job import run_script  # bench/: beside this script

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def history(folder: Path, customers: int, per_customer: int = 4, noise: str = "light") -> Path:
    from c360.datagen import Params, generate
    from c360.datagen.validated import validated_copy

    params = Params(seed=7, customers=customers, purchases=per_customer * customers, feedback=customers, files=2,
                    bad_files=0, identity_noise=noise)
    manifest = generate(params, folder / "generated", progress=False)
    return Path(validated_copy(folder / "generated", manifest, folder / "validated"))


def tiny_feedback(validated: Path, dest: Path) -> None:
    """Three feedback rows of the history, with new feedback ids."""
    source = sorted((validated / "feedback").glob("*.csv"))[0]
    with source.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[:3]
    with dest.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:
            w.writerow(dict(r, feedback_id=r["feedback_id"] + "-bench"))


def thousand_purchases(validated: Path, dest: Path) -> None:
    """1,000 purchases of the history, with new purchase ids."""
    source = sorted((validated / "purchases").glob("*.json"))[0]
    purchases = json.loads(source.read_text(encoding="utf-8"))[:1000]
    dest.write_text(json.dumps([dict(p, purchase_id=p["purchase_id"] + "-bench") for p in purchases]),
                    encoding="utf-8")


def thousand_customers(validated: Path, dest: Path) -> None:
    """1,000 customer records of the history (our own generated XML), with new source ids."""
    import xml.etree.ElementTree as ET  # noqa: S405 - the generator's own file, not input from outside

    source = sorted((validated / "customer_details").glob("*.xml"))[0]
    tree = ET.parse(source)  # noqa: S314
    root = tree.getroot()
    for extra in list(root)[1000:]:
        root.remove(extra)
    for customer in root:
        customer.set("id", customer.get("id") + "-bench")
    tree.write(dest, encoding="UTF-8", xml_declaration=True)


# bench/etl_bench.py's settings, so the default run here is the full run that benchmark measures
SUBMIT = "--master local[2] --driver-memory 8g --conf spark.sql.shuffle.partitions=8 --conf spark.ui.enabled=false"


def run_job(work: Path, data: Path, out: Path, *extra: str) -> dict:
    events, wall = run_script(work / "customer360_etl.py", [
        "--bucket", "lake", "--ledger_table", "", "--input_root", f"{data}/", "--output_root", f"{out}/",
        "--rules_root", f"{work / 'schemas'}/", *extra], work, timeout=3 * 3600,
        submit_args=f"{SUBMIT} --jars {similarity_jar_location()}")  # Splink's, as --extra-jars gives it on Glue
    finished = next(e for e in reversed(events) if e.get("event") == "job finished")
    top = sorted(finished["steps"].items(), key=lambda kv: -kv[1])[:4]
    result = {"wall": round(wall, 1), "job": finished["seconds"], "mode": finished.get("mode", "recompute"),
              "records": finished.get("records"), "top_steps": top,
              "matching": finished["steps"].get("state: probabilistic links")}
    print(f"  ... {' '.join(extra) or 'default run'}: {json.dumps(result)}", file=sys.stderr, flush=True)  # progress
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="500,5000,20000", help="customers per history, comma-separated")
    ap.add_argument("--purchases-per-customer", type=int, default=4, help="5 for the 1M / 5M / 1M history")
    ap.add_argument("--identity", choices=("keys", "probabilistic"), default="keys",
                    help="probabilistic: realistic duplicates, the model scores pairs, and a 1k-customer file")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    identity = ("--identity", a.identity)
    results = []
    with tempfile.TemporaryDirectory(prefix="c360-incremental-bench-") as tmp:
        work = Path(tmp)
        for module in (ROOT / "exported_jobs").glob("*.py"):
            shutil.copy(module, work / module.name)
        shutil.copytree(ROOT / "schemas", work / "schemas")
        for size in (int(s) for s in a.sizes.split(",")):
            folder = work / f"h{size}"
            data = history(folder, size, a.purchases_per_customer,
                           "realistic" if a.identity == "probabilistic" else "light")
            records = sum(1 for _ in data.rglob("*") if _.is_file())
            row = {"customers": size, "files": records}
            state = (work, data, folder / "state", "--incremental", "true", *identity)
            row["full refresh"] = run_job(*state)
            tiny_feedback(data, data / "feedback" / "zz-bench-3-rows.csv")
            row["3-row file"] = run_job(*state)
            thousand_purchases(data, data / "purchases" / "zz-bench-1k.json")
            row["1k-record file"] = run_job(*state)
            if a.identity == "probabilistic":
                thousand_customers(data, data / "customer_details" / "zz-bench-1k.xml")
                row["1k-customer file"] = run_job(*state)
            row["yardstick: default run, every file"] = run_job(work, data, folder / "default", *identity)
            results.append(row)
            if not a.json:
                print(f"history {size} customers / {a.purchases_per_customer * size} purchases / {size} feedback "
                      f"({records} files):")
                for k, v in row.items():
                    if isinstance(v, dict):
                        step = f"  matching {v['matching']:6.1f} s" if v["matching"] is not None else ""
                        print(f"  {k:38s} job {v['job']:7.1f} s   wall {v['wall']:7.1f} s   {v['mode']:12s}{step}"
                              f"  slowest: {', '.join(f'{n} {s:.1f}' for n, s in v['top_steps'])}")
                sys.stdout.flush()
    if a.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
