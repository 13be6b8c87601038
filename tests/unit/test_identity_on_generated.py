"""The job's probabilistic identity matching (`--identity probabilistic`, the shipped model) on generated data: it
keeps the match keys' precision and recall where duplicates keep an e-mail or a phone, and finds the realistic
duplicates the keys miss (`c360 generate --identity-noise realistic`, another seed than the model was trained on)."""

from __future__ import annotations

import csv
import json
import shutil
from datetime import UTC, datetime

import pandas as pd
import pytest
from job_runs import run_job

NOW = datetime(2026, 7, 1, tzinfo=UTC)


def _scores(etl, out, truth_csv):
    with open(truth_csv, newline="") as fh:
        person = {r["source_customer_id"]: r["person_id"] for r in csv.DictReader(fh)}
    c = pd.read_parquet(out / "curated" / "customers", columns=["source_customer_id", "customer_id"])
    return etl.pair_scores(dict(zip(c.source_customer_id, c.customer_id, strict=True)), person)


@pytest.fixture(scope="module")
def realistic(tmp_path_factory):
    from c360.datagen import Params, generate
    from c360.datagen.validated import validated_copy

    out = tmp_path_factory.mktemp("realistic")
    manifest = generate(Params(seed=11, customers=2500, purchases=200, feedback=50, files=2, bad_files=0,
                               identity_noise="realistic", duplicate_person_rate=0.15), out, progress=False)
    return validated_copy(out, manifest), out / "ground_truth.csv"


@pytest.mark.reliability  # 31 s: make test keeps the realistic run below, whose e-mail links are the keys' too
def test_probabilistic_keeps_the_keys_results_on_light_duplicates(etl, spark, job_run, generated, root,
                                                                 tmp_path):
    folder = job_run[0]
    run_job(etl, spark, folder, tmp_path, root, NOW, "--identity", "probabilistic")
    scores = _scores(etl, tmp_path, generated[0] / "ground_truth.csv")
    assert scores["true_pairs"] >= 150
    assert scores["precision"] >= 0.99 and scores["recall"] >= 0.99, scores


@pytest.mark.slow
def test_probabilistic_finds_realistic_duplicates_the_keys_miss(etl, spark, realistic, root, tmp_path):
    folder, truth = realistic
    run_job(etl, spark, folder, tmp_path / "keys", root, NOW, "--identity", "keys")
    keys = _scores(etl, tmp_path / "keys", truth)
    run_job(etl, spark, folder, tmp_path / "model", root, NOW, "--identity", "probabilistic")
    model = _scores(etl, tmp_path / "model", truth)
    assert keys["true_pairs"] >= 300 and keys["precision"] == 1.0 and keys["recall"] < 0.5, keys
    assert model["precision"] >= 0.99 and model["recall"] >= 0.8, model
    assert model["correct"] > 2 * keys["correct"]
    # why they are one customer: every merged pair's chain of links is in identity_links, the model's with weights
    links = pd.read_parquet(tmp_path / "model" / "curated" / "identity_links")
    by = links.linked_by.value_counts()
    assert by["model"] > by.get("e-mail", 0) > 0
    scored = links[links.linked_by == "model"]
    assert (scored.match_probability >= 0.9).all() and scored.model_version.nunique() == 1
    weights = scored.match_weights.map(json.loads)
    assert set(weights.iloc[0]) == {"first_name", "last_name", "dob", "address", "email_local", "phone"}
    assert (scored.source_customer_id_a < scored.source_customer_id_b).all()
    customers = pd.read_parquet(tmp_path / "model" / "curated" / "customers")
    owner = dict(zip(customers.source_customer_id, customers.customer_id, strict=True))
    assert all(owner[a] == owner[b] == c for a, b, c in
               zip(links.source_customer_id_a, links.source_customer_id_b, links.customer_id, strict=True))
    # where each golden value came from: the record, its file and run; the record says what the golden row says
    golden = pd.read_parquet(tmp_path / "model" / "curated" / "customer360_golden").set_index("customer_id")
    prov = pd.read_parquet(tmp_path / "model" / "curated" / "golden_provenance")
    assert not prov.duplicated(["customer_id", "field"]).any()
    records = customers.set_index("source_customer_id")
    merged = set(golden.index[golden.source_customer_ids.map(len) > 1])
    checked = 0
    for r in prov.itertuples():
        if r.field in ("email", "phone", "city", "signup_date", "date_of_birth"):
            assert str(golden.at[r.customer_id, r.field]) == r.value, r
            assert str(records.at[r.source_customer_id, r.field]) == r.value, r
            assert records.at[r.source_customer_id, "source_file"] == r.source_file
            assert owner[r.source_customer_id] == r.customer_id
            checked += r.customer_id in merged
    assert checked > 300  # values of merged customers, each traced to one of their records
    assert set(prov.field) >= {"full_name", "email", "signup_date", "loyalty_tier"}


def test_identity_arguments_are_checked(etl, spark, realistic, root, tmp_path):
    folder, _ = realistic
    with pytest.raises(ValueError, match="keys or probabilistic"):
        run_job(etl, spark, folder, tmp_path / "a", root, NOW, "--identity", "fuzzy")
    with pytest.raises(ValueError, match="match_threshold"):
        run_job(etl, spark, folder, tmp_path / "c", root, NOW, "--identity", "probabilistic",
                "--match_threshold", "1.5")
    rules = shutil.copytree(root / "schemas", tmp_path / "rules", ignore=shutil.ignore_patterns("identity_model.json"))
    with pytest.raises(ValueError, match="identity model .* not found"):
        run_job(etl, spark, folder, tmp_path / "d", root, NOW, "--identity", "probabilistic", rules=rules)
    assert not (tmp_path / "d" / "curated").exists()  # nothing written

