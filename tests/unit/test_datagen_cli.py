"""`c360 generate` from the command line: exit codes, summary, flat memory."""

from __future__ import annotations

import json
import subprocess
import sys


def _c360(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "c360.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def test_generate_prints_a_summary_and_refuses_to_overwrite(tmp_path):
    out = tmp_path / "d"
    run = _c360("generate", "--out", str(out), "--customers", "200", "--purchases", "400", "--feedback", "100",
                "--no-progress")
    assert run.returncode == 0, run.stderr
    assert "customer_details" in run.stdout and "true pairs" in run.stdout
    assert json.loads((out / "manifest.json").read_text())["datasets"]["purchases"]["records"] >= 400
    again = _c360("generate", "--out", str(out), "--no-progress")
    assert again.returncode == 2 and "--force" in again.stderr


def test_bad_arguments_exit_2_with_a_reason(tmp_path):
    run = _c360("generate", "--out", str(tmp_path), "--defect-rate", "2")
    assert run.returncode == 2 and "defect_rate" in run.stderr
    run = _c360("generate", "--out", str(tmp_path), "--customers", "many")
    assert run.returncode == 2 and "invalid int value" in run.stderr


def _peak_mb(tmp_path, n: int) -> float:
    code = ("import resource; from pathlib import Path; from c360.datagen import Params, generate; "
            f"generate(Params(customers={n}, purchases={n * 5}, feedback={n}), Path({str(tmp_path / str(n))!r}),"
            " progress=False); print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    return float(run.stdout.strip())


def test_memory_does_not_grow_with_size(tmp_path):
    small, large = _peak_mb(tmp_path, 2_000), _peak_mb(tmp_path, 20_000)  # 14k vs 140k records
    assert large - small < 15, (small, large)


def test_local_status_reports_a_stopped_stack(tmp_path, monkeypatch):
    monkeypatch.setenv("C360_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("C360_LOCAL_PORT", "1")  # nothing listens there
    run = _c360("local", "status", "--json")
    assert run.returncode == 0, run.stderr
    status = json.loads(run.stdout)
    assert status["running"] is False and status["endpoint"] == "http://127.0.0.1:1"
    assert status["mailbox"] == str(tmp_path / "state" / "mailbox")


def test_validate_cli_exit_codes_and_json_verdict(generated, tmp_path):
    out, _ = generated
    ok = _c360("validate", str(out / "raw" / "feedback" / "feedback_0001.csv"))
    assert ok.returncode == 0, ok.stderr
    verdict = json.loads(ok.stdout)
    assert verdict["valid"] is True and verdict["dataset"] == "feedback" and verdict["records"] > 0
    bad = _c360("validate", str(out / "raw" / "purchases" / "bad_duplicate_keys_02.json"))
    assert bad.returncode == 1 and json.loads(bad.stdout)["errors"][0]["code"] == "duplicate_key"
    wrong_ext = _c360("validate", str(out / "raw" / "purchases" / "bad_wrong_extension_03.csv"))
    assert wrong_ext.returncode == 1 and "does not fit purchases" in wrong_ext.stdout
    loose = tmp_path / "x.xml"
    loose.write_text("<customers/>")
    assert _c360("validate", str(loose)).returncode == 2  # which dataset?
    assert _c360("validate", str(loose), "--dataset", "customer_details").returncode == 0
    assert _c360("validate", str(tmp_path / "missing.csv"), "--dataset", "feedback").returncode == 2
