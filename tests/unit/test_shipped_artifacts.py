"""The exported Lambda handler and Glue job modules, imported the way the workbench loads them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from c360 import shipped


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
    """Copied alone to another folder (as Glue stores it in S3), the script runs as a script."""
    script = tmp_path / "customer360_etl.py"
    shutil.copy(root / "exported_jobs" / "customer360_etl.py", script)
    run = subprocess.run([sys.executable, "-I", str(script), "--bucket", "lake"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert json.loads(run.stdout.splitlines()[0])["arguments"]["bucket"] == "lake"
    assert run.returncode == 3 and "not built yet" in run.stderr  # says so instead of faking the ETL


def test_secret_becomes_a_dsn_with_escaped_credentials():
    load = shipped.job_module("load_rds")
    secret = {"username": "u@x", "password": "a/b:c?", "host": "db.local", "port": "5433", "dbname": "customer360"}
    assert load.dsn_from_secret(json.dumps(secret)) == "postgresql://u%40x:a%2Fb%3Ac%3F@db.local:5433/customer360"
    with pytest.raises(ValueError, match="password"):
        load.dsn_from_secret({"username": "u", "host": "h", "port": 1})


def test_shipped_code_never_imports_the_workbench(root):
    for folder in ("lambda", "exported_jobs"):
        for path in (root / folder).glob("*.py"):
            text = path.read_text()
            assert "import c360" not in text and "from c360" not in text, path
