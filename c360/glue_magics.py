"""Local stand-ins for the AWS Glue interactive-session magics.

In Glue Studio (the `glue_pyspark` kernel) `%glue_version 6.0`, `%worker_type G.1X`, `%%configure` ... size
and start a remote session. Locally the same notebook runs on the project's plain Python kernel, where
those magics do not exist and papermill would fail on the first one. This IPython extension registers
harmless versions: each validates its argument as Glue would, records it (see `%status`), prints one
line saying it has no effect here, and returns. `%%sql` runs on the active local SparkSession.

The project's kernel loads this extension through a startup file in the virtualenv's IPython config
folder (`c360 setup-kernel`, run by `make`); the Glue kernel never sees it.
On load it also points PySpark's Python workers at this interpreter (PYSPARK_PYTHON), as a Glue
session's workers run the session's Python: otherwise they start the system python3 without pandas.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from importlib import metadata

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class

GLUE_VERSIONS = {"0.9", "1.0", "2.0", "3.0", "4.0", "5.0", "6.0"}
WORKER_TYPES = {"Standard", "G.025X", "G.1X", "G.2X", "G.4X", "G.8X", "G.12X", "G.16X", "R.1X", "R.2X",
                "R.4X", "R.8X", "Z.2X"}
SESSION_TYPES = {"etl", "streaming", "ray"}

# What the notebook asked for, as a Glue session would have been configured.
session_settings: dict[str, object] = {}


def _say(name: str, value: object) -> None:
    session_settings[name] = value
    print(f"[local] %{name} = {value!r} recorded (Glue session magic: no effect on the local kernel)")


def _strip(line: str) -> str:
    line = line.strip()
    if len(line) >= 2 and line[0] == line[-1] and line[0] in "'\"":
        line = line[1:-1]
    return line


def _positive_int(name: str, line: str) -> int:
    try:
        value = int(_strip(line))
    except ValueError:
        raise UsageError(f"%{name} expects a whole number, got {line!r}") from None
    if value < 1:
        raise UsageError(f"%{name} must be at least 1, got {value}")
    return value


def _csv_list(line: str) -> list[str]:
    return [p.strip() for p in _strip(line).split(",") if p.strip()]


@magics_class
class LocalGlueMagics(Magics):
    # --- session shape -------------------------------------------------------------------------
    @line_magic
    def glue_version(self, line: str) -> None:
        v = _strip(line)
        if v not in GLUE_VERSIONS:
            raise UsageError(f"%glue_version: unknown version {v!r}; Glue has {', '.join(sorted(GLUE_VERSIONS))}")
        _say("glue_version", v)

    @line_magic
    def worker_type(self, line: str) -> None:
        v = _strip(line)
        if v not in WORKER_TYPES:
            raise UsageError(f"%worker_type: unknown worker type {v!r}")
        _say("worker_type", v)

    @line_magic
    def number_of_workers(self, line: str) -> None:
        _say("number_of_workers", _positive_int("number_of_workers", line))

    @line_magic
    def idle_timeout(self, line: str) -> None:
        _say("idle_timeout", _positive_int("idle_timeout", line))

    @line_magic
    def timeout(self, line: str) -> None:
        _say("timeout", _positive_int("timeout", line))

    @line_magic
    def session_type(self, line: str) -> None:
        v = _strip(line).lower()
        if v not in SESSION_TYPES:
            raise UsageError(f"%session_type: expected one of {', '.join(sorted(SESSION_TYPES))}, got {v!r}")
        _say("session_type", v)

    @line_magic
    def etl(self, line: str) -> None:
        _say("session_type", "etl")

    @line_magic
    def streaming(self, line: str) -> None:
        _say("session_type", "streaming")

    # --- code and connections ------------------------------------------------------------------
    @line_magic
    def additional_python_modules(self, line: str) -> None:
        modules = _csv_list(line)
        _say("additional_python_modules", modules)
        missing = []
        for spec in modules:
            name = spec.split("==")[0].split(">=")[0].split("[")[0].strip()
            if name.endswith((".whl", ".zip")) or name.startswith("s3://"):
                continue
            try:
                metadata.version(name)
            except metadata.PackageNotFoundError:
                missing.append(name)
        if missing:
            print(f"[local] not installed in this kernel: {', '.join(missing)} (add them to pyproject.toml)")

    @line_magic
    def extra_py_files(self, line: str) -> None:
        _say("extra_py_files", _csv_list(line))

    @line_magic
    def extra_jars(self, line: str) -> None:
        _say("extra_jars", _csv_list(line))

    @line_magic
    def connections(self, line: str) -> None:
        _say("connections", _csv_list(line))

    @line_magic
    def spark_conf(self, line: str) -> None:
        _say("spark_conf", _strip(line))

    @cell_magic
    def configure(self, line: str, cell: str) -> None:
        try:
            conf = json.loads(cell)
        except json.JSONDecodeError as e:
            raise UsageError(f"%%configure expects a JSON object: {e}") from None
        if not isinstance(conf, dict):
            raise UsageError("%%configure expects a JSON object")
        _say("configure", conf)

    @cell_magic
    def tags(self, line: str, cell: str) -> None:
        try:
            tags = json.loads(cell)
        except json.JSONDecodeError as e:
            raise UsageError(f"%%tags expects a JSON object: {e}") from None
        _say("tags", tags)

    # --- identity and endpoint: the local kernel uses the workbench's target instead -------------
    @line_magic
    def iam_role(self, line: str) -> None:
        _say("iam_role", _strip(line))

    @line_magic
    def profile(self, line: str) -> None:
        _say("profile", _strip(line))

    @line_magic
    def region(self, line: str) -> None:
        _say("region", _strip(line))

    @line_magic
    def endpoint(self, line: str) -> None:
        _say("endpoint", _strip(line))

    @line_magic
    def security_config(self, line: str) -> None:
        _say("security_config", _strip(line))

    @cell_magic
    def assume_role(self, line: str, cell: str) -> None:
        _say("assume_role", cell.strip())

    # --- session lifecycle --------------------------------------------------------------------------
    @line_magic
    def session_id_prefix(self, line: str) -> None:
        _say("session_id_prefix", _strip(line))

    @line_magic
    def session_id(self, line: str) -> None:
        print("[local] no Glue session: this kernel runs Spark locally")

    @line_magic
    def list_sessions(self, line: str) -> None:
        print("[local] no Glue sessions: this kernel runs Spark locally")

    @line_magic
    def reconnect(self, line: str) -> None:
        print("[local] nothing to reconnect: this kernel runs Spark locally")

    @line_magic
    def status(self, line: str) -> None:
        print("[local] Glue session settings recorded by this notebook:")
        for k, v in session_settings.items():
            print(f"  {k}: {v!r}")
        spark = _active_spark()
        print(f"  local SparkSession: {'running, Spark ' + spark.version if spark else 'not started'}")

    @line_magic
    def stop_session(self, line: str) -> None:
        spark = _active_spark()
        if spark is not None:
            spark.stop()
            print("[local] stopped the local SparkSession")
        else:
            print("[local] no local SparkSession to stop")

    @cell_magic
    def sql(self, line: str, cell: str):
        spark = _active_spark()
        if spark is None:
            raise UsageError("%%sql needs a running SparkSession: create one first (SparkSession.builder...)")
        opts = shlex.split(line)
        limit = 20
        if "--limit" in opts:
            limit = int(opts[opts.index("--limit") + 1])
        return spark.sql(cell).limit(limit).toPandas()

    @line_magic("help")
    def glue_help(self, line: str) -> None:
        print("Local stand-ins for the Glue session magics (c360.glue_magics):")
        print("  " + " ".join(sorted(n for n in self.magics["line"])))
        print("  cell: " + " ".join(sorted(n for n in self.magics["cell"])))


def _active_spark():
    if "pyspark" not in sys.modules:
        return None
    from pyspark.sql import SparkSession

    return SparkSession.getActiveSession()


def configure_spark_env() -> None:
    """Point PySpark workers at this interpreter and keep Spark on loopback (see docs/ARCHITECTURE.md, "Facts")."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


def load_ipython_extension(ipython) -> None:
    configure_spark_env()
    ipython.register_magics(LocalGlueMagics)
