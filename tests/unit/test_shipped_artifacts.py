"""The exported Lambda handler and Glue job modules, imported the way the workbench loads them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from c360 import shipped
from c360.datagen.validated import write_tiny


@pytest.fixture(scope="module")
def handler():
    return shipped.lambda_module()


@pytest.mark.parametrize("key, expected", [
    ("raw/customer_details/c.xml", ("customer_details", "xml")),
    ("raw/customer_details/C.XML", ("customer_details", "xml")),
    ("raw/purchases/2024/p.json", ("purchases", "json")),
    ("raw/purchases/p.JsonL", ("purchases", "json")),
    ("raw/purchases/p.ndjson", ("purchases", "json")),
    ("raw/feedback/f.csv", ("feedback", "csv")),
])
def test_keys_are_classified_by_prefix_and_extension(handler, key, expected):
    assert handler.classify_key(key) == expected


@pytest.mark.parametrize("key, reason", [
    ("validated/feedback/f.csv", "not under raw/"), ("raw/f.csv", "no dataset folder"),
    ("raw/orders/o.json", "unknown dataset"), ("raw/feedback/f.json", "does not fit feedback"),
    ("raw/purchases/p", "(none)"), ("raw/purchases/", "no dataset folder"),
])
def test_unroutable_keys_say_why(handler, key, reason):
    with pytest.raises(handler.UnknownKey, match=reason.replace("(", r"\(").replace(")", r"\)")):
        handler.classify_key(key)


def test_glue_arguments_parse_like_glue():
    etl = shipped.job_module("customer360_etl")
    args = etl.parse_job_args(["--JOB_NAME", "j", "--bucket=b", "--dq_threshold", "75"])
    assert args["JOB_NAME"] == "j" and args["bucket"] == "b" and args["dq_threshold"] == "75"
    assert args["ledger_table"] == "Customer360_table"  # default kept
    for bad in (["bucket", "b"], ["--bucket"], ["--bucket", "--x", "1"], ["--"]):
        with pytest.raises(ValueError):
            etl.parse_job_args(bad)


def test_glue_script_runs_standalone_outside_the_project(root, tmp_path):
    """Copied with its step modules and the ledger protocol alone to another folder (as Glue stores them in S3), the
    script runs as a script, on plain PySpark: the workers get the modules from ship_modules (on Glue, from
    --extra-py-files)."""
    script = tmp_path / "customer360_etl.py"
    for module in [*(root / "exported_jobs").glob("*.py"), root / "lambda" / "ledger.py"]:
        if module.name != "load_rds.py":  # not needed without a database
            shutil.copy(module, tmp_path / module.name)
    shutil.copytree(root / "schemas", tmp_path / "schemas")
    data = tmp_path / "validated"
    write_tiny(data)
    run = subprocess.run([sys.executable, "-E", "-s", str(script), "--bucket", "lake", "--ledger_table", "",
                          "--input_root", f"{data}/", "--output_root", f"{tmp_path}/out/",
                          "--rules_root", f"{tmp_path / 'schemas'}/"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    events = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert events[0]["event"] == "job started" and events[0]["arguments"]["bucket"] == "lake"
    shipped_to_workers = next(e["modules"] for e in events if e["event"] == "modules shipped to the workers")
    assert {"ledger.py", "etl_ledger.py", "etl_state.py"} <= set(shipped_to_workers)
    assert events[-1]["event"] == "job finished" and events[-1]["records"] == 3 and events[-1]["failed_records"] == 0
    import pandas as pd

    golden = pd.read_parquet(tmp_path / "out" / "curated" / "customer360_golden")
    row = golden.iloc[0]
    assert len(golden) == 1 and row.full_name == "Ann Lee" and str(row.total_spend) == "5.40"  # 5 EUR at 1.08
    assert row.top_category == "Toys" and row.latest_sentiment == "positive" and row.avg_rating == 5


def test_secret_becomes_a_dsn_with_escaped_credentials():
    load = shipped.job_module("load_rds")
    secret = {"username": "u@x", "password": "a/b:c?",  # pragma: allowlist secret
              "host": "db.local", "port": "5433", "dbname": "customer360"}
    want = "postgresql://u%40x:a%2Fb%3Ac%3F@db.local:5433/customer360"  # pragma: allowlist secret
    assert load.dsn_from_secret(json.dumps(secret)) == want
    with pytest.raises(ValueError, match="password"):
        load.dsn_from_secret({"username": "u", "host": "h", "port": 1})


def test_shipped_code_never_imports_the_workbench(root):
    for folder in ("lambda", "exported_jobs"):
        for path in (root / folder).glob("*.py"):
            text = path.read_text()
            assert "import c360" not in text and "from c360" not in text, path
