"""Benchmark: the probabilistic matching step (etl_matching, `--identity probabilistic`) at scale.

Customer records are generated with realistic duplicates (`--identity-noise realistic`), read and cleaned by the
job's own functions, and 1,000 of them (whole source ids) are held out as "new". Then, on local[2] Spark:

1. **full scoring**: every candidate pair of the history scored by the shipped model (`score_pairs`, at the
   review threshold 0.5), what a full refresh does;
2. **1k new customers**: the incremental path for 1,000 new records on top of the history: the history's blocking
   index (a row per record and blocking key, bucketed by key as the state keeps it under `_state/blocks/`) is
   written once; the run reads only the buckets of the new records' keys, finds the candidates sharing a key, and
   scores the new records against them and each other (`Matching.new_pairs`).

Yardstick, printed beside: reading and cleaning the same customer records (every full run of the job pays it).
Not a test: timings depend on the machine and its load.

Run: `python bench/matching_bench.py` (100,000 customers, a few minutes); `--customers 1000000` for the 1M figure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "exported_jobs"))
os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT / "exported_jobs"), os.environ.get("PYTHONPATH", "")])
os.environ.setdefault("PYSPARK_SUBMIT_ARGS", "--driver-memory 8g pyspark-shell")

NEW = 1000


def timed(what: str, fn):
    t0 = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t0
    print(f"  ... {what}: {seconds:.1f} s", file=sys.stderr, flush=True)
    return out, seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    from c360.datagen import Params, generate
    from c360.datagen.validated import validated_copy

    with tempfile.TemporaryDirectory(prefix="c360-matching-bench-") as tmp:
        work = Path(tmp)
        params = Params(seed=7, customers=a.customers, purchases=max(1000, a.customers // 100), feedback=1000,
                        files=4, bad_files=0, identity_noise="realistic")
        (manifest, gen_s) = timed("generate", lambda: generate(params, work / "generated", progress=False))
        validated = Path(validated_copy(work / "generated", manifest, work / "validated"))

        from etl_cleaning import clean_customers
        from etl_matching import ID, Matching, block_rows, match_features, score_pairs
        from etl_readers import files_from_folder
        from etl_runtime import spark_session
        from etl_state import KEY_FANOUT, bucket_count, bucket_of, read_buckets, where_in
        from etl_transform import read_raw
        from pyspark.sql import functions as F

        spark = spark_session("local[2]")
        spark.conf.set("spark.sql.shuffle.partitions", "8")
        model = json.loads((ROOT / "schemas" / "identity_model.json").read_text())
        matching = Matching(model, 0.9, 0.5)
        files = [f for f in files_from_folder(str(validated)) if f.dataset == "customer_details"]

        def read():
            customers = clean_customers(read_raw(spark, files)["customer_details"])
            return match_features(customers.dropDuplicates(["source_customer_id"])).localCheckpoint(eager=True)
        features, read_s = timed("read and clean (yardstick)", read)
        records = features.count()
        # the new records: whole source ids, about NEW of them, chosen by a hash
        share = NEW / records
        is_new = (F.abs(F.xxhash64(ID)) % 1_000_000) < int(share * 1_000_000)
        new = features.where(is_new).localCheckpoint(eager=True)
        history = features.where(~is_new).localCheckpoint(eager=True)
        new_count, history_count = new.count(), history.count()

        full, full_s = timed("full scoring", lambda: score_pairs(history, model, 0.5).localCheckpoint(eager=True))
        full_pairs = full.count()

        buckets = bucket_count(history_count) * KEY_FANOUT
        index_path = str(work / "blocks")
        (block_rows(history).withColumn("bucket", bucket_of(F.col("key"), buckets))
         .write.partitionBy("bucket").parquet(index_path))
        schema = spark.read.parquet(index_path).schema

        def incremental():
            from etl_state import buckets_of

            new_blocks = block_rows(new).localCheckpoint(eager=True)
            keys = sorted({r.key for r in new_blocks.select("key").distinct().collect()})
            scope = buckets_of(keys, buckets)
            index = read_buckets(spark, index_path, schema, scope)
            candidates = where_in(index, "key", keys).select(*new.columns).distinct().localCheckpoint(eager=True)
            pairs = matching.new_pairs(new, candidates).localCheckpoint(eager=True)
            return len(scope), candidates.count(), pairs.count()
        (scope, candidates, new_pairs), new_s = timed("1k new customers", incremental)

    rows = {"customers generated": a.customers, "records (one per source id)": records,
            "history records": history_count, "new records": new_count,
            "yardstick: read and clean every record (s)": round(read_s, 1),
            "full scoring (s)": round(full_s, 1), "pairs scored >= 0.5": full_pairs,
            "1k new customers (s)": round(new_s, 1), "index buckets read": f"{scope} of {buckets}",
            "candidates found": candidates, "new pairs >= 0.5": new_pairs, "generation (s)": round(gen_s, 1)}
    if a.json:
        print(json.dumps(rows, indent=2))
    else:
        for k, v in rows.items():
            print(f"  {k:45s} {v}")


if __name__ == "__main__":
    main()
