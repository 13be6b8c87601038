"""Shared fixtures: the project root and one generated data set for the whole session."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

# Spark's Python workers must run this interpreter (docs/ARCHITECTURE.md, "Facts"); make sets these, plain
# pytest may not.
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("C360_HOME", str(ROOT))


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def generated(tmp_path_factory):
    """A small data set with every kind of whole bad file; (folder, manifest)."""
    from c360.datagen import Params, generate

    out = tmp_path_factory.mktemp("generated")
    params = Params(seed=7, customers=1500, purchases=6000, feedback=2000, files=3, bad_files=11,
                    defect_rate=0.05, duplicate_person_rate=0.1)
    manifest = generate(params, out, progress=False)
    return out, manifest


@pytest.fixture(scope="session")
def etl():
    """The exported Glue job (exported_jobs/customer360_etl.py and its etl_* step modules) as one namespace."""
    from pyspark import cloudpickle

    from c360 import shipped

    job = shipped.glue_job()
    for module in job.modules:
        cloudpickle.register_pickle_by_value(module)  # Spark's workers cannot import them by their loaders' names
    return job


@pytest.fixture(scope="session")
def load_rds():
    """The exported load module (exported_jobs/load_rds.py), picklable by value for Spark's workers."""
    from pyspark import cloudpickle

    from c360 import shipped

    module = shipped.job_module("load_rds")
    cloudpickle.register_pickle_by_value(module)
    return module


@pytest.fixture(scope="session")
def job_run(etl, spark, generated, root, tmp_path_factory):
    """The job run once in folder mode over the generated set's good files: (validated folder, output folder,
    summary, manifest, now)."""
    from datetime import UTC, datetime

    from job_runs import run_job

    from c360.datagen.validated import validated_copy

    out, manifest = generated
    folder = validated_copy(out, manifest, tmp_path_factory.mktemp("validated"))
    output = tmp_path_factory.mktemp("run1")
    now = datetime.now(UTC).replace(microsecond=0)
    return folder, output, run_job(etl, spark, folder, output, root, now), manifest, now


@pytest.fixture(scope="session")
def spark(etl):
    """One local SparkSession for every test that needs one (the job's own builder)."""
    session = etl.spark_session("local[2]")
    session.sparkContext.setLogLevel("ERROR")
    # The tests' frames have a few hundred rows: compiling each plan's Java code costs more than it saves, and two
    # shuffle partitions (one per core) halve the tasks. 7-23 % off a job run here (bench/small_data_spark_bench.py,
    # docs/ARCHITECTURE.md "Facts"); the results are the same.
    session.conf.set("spark.sql.codegen.wholeStage", "false")
    session.conf.set("spark.sql.shuffle.partitions", "2")
    yield session
    session.stop()
