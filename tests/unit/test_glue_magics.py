"""The local stand-ins for Glue session magics, in an in-process IPython shell."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError
from IPython.testing.globalipapp import get_ipython

from c360 import glue_magics


@pytest.fixture(scope="module")
def ip():
    shell = get_ipython()
    shell.extension_manager.load_extension("c360.glue_magics")
    return shell


def test_session_magics_are_recorded(ip, capsys):
    ip.run_line_magic("glue_version", "6.0")
    ip.run_line_magic("worker_type", "G.2X")
    ip.run_line_magic("number_of_workers", "5")
    ip.run_line_magic("idle_timeout", "'15'")
    ip.run_cell_magic("configure", "", '{"--conf": "spark.sql.shuffle.partitions=4"}')
    s = glue_magics.session_settings
    assert (s["glue_version"], s["worker_type"], s["number_of_workers"], s["idle_timeout"]) == ("6.0", "G.2X", 5, 15)
    assert s["configure"] == {"--conf": "spark.sql.shuffle.partitions=4"}
    assert "no effect on the local kernel" in capsys.readouterr().out


@pytest.mark.parametrize("magic, arg", [("glue_version", "9.9"), ("worker_type", "G.3X"),
                                        ("number_of_workers", "two"), ("number_of_workers", "0"),
                                        ("session_type", "batch")])
def test_bad_values_fail_as_glue_would(ip, magic, arg):
    with pytest.raises(UsageError):
        ip.run_line_magic(magic, arg)


def test_configure_needs_a_json_object(ip):
    with pytest.raises(UsageError):
        ip.run_cell_magic("configure", "", "{not json")
    with pytest.raises(UsageError):
        ip.run_cell_magic("configure", "", "[1, 2]")


def test_missing_additional_modules_are_named(ip, capsys):
    ip.run_line_magic("additional_python_modules", "textblob==0.20.1,surely-not-installed-pkg==1.0")
    out = capsys.readouterr().out
    assert "surely-not-installed-pkg" in out and "textblob" not in out.split("not installed")[1]


def test_loading_points_spark_workers_at_this_python(monkeypatch):
    import sys

    monkeypatch.delenv("PYSPARK_PYTHON", raising=False)
    glue_magics.configure_spark_env()
    import os

    assert os.environ["PYSPARK_PYTHON"] == sys.executable


def test_sql_without_spark_is_a_clear_error(ip, monkeypatch):
    monkeypatch.setattr(glue_magics, "_active_spark", lambda: None)
    with pytest.raises(UsageError, match="SparkSession"):
        ip.run_cell_magic("sql", "", "SELECT 1")
