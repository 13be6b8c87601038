"""A warm Spark driver for the local Glue runner: one long-lived PySpark process runs job scripts one after another.

Why: a cold `spark-submit` costs about 10 s before a script's first line (the JVM, the session) and its first Spark
jobs run on an unwarmed JVM; a small incremental run then took 36 s of job time where a warm driver takes 17 s.
AWS Glue hides part of that cost with its own warm pools; this is the local stack's equivalent.

How: the runner (glue_runner.WarmDrivers) starts this file as a process with PYSPARK_SUBMIT_ARGS naming the master,
the Spark settings and the job's `--py-files` (copies, so a driver belongs to one version of the job's code), and
sends one JSON request per line on stdin: the script, its arguments, its environment, the staged buckets to mount
under s3:// and s3a://, and the run's log files. It answers on its original stdout, one JSON line per request:
{"rc": exit code}. While a run goes on, the process's stdout and stderr are the run's log files; the JVM's own
output (it keeps the file descriptors it was started with) goes to the driver's log, and the part written during
the run is appended to the run's stderr.

Each run starts as a script does under spark-submit: `__main__` from the script file, its own sys.argv, environment
and working directory, and the job's modules imported afresh (module state never crosses runs). After it, cached
frames are dropped and the garbage collected, so the JVM releases what the run held; a script that stops its
session gets a new one in the same JVM next time. A closed stdin (the emulator went away) ends the process.
Stdlib and pyspark only: no c360 imports.
"""

from __future__ import annotations

import gc
import json
import os
import runpy
import select
import sys
import traceback
from pathlib import Path

IDLE_EXIT_S = 900  # an idle driver gives its memory back after this long


def _session():
    """The session (a new one if a script stopped the last). The runner's Spark settings put s3:// and s3a:// on
    Hadoop's ViewFileSystemOverloadScheme with no FileSystem cache, so each run's mount table is the one in force."""
    from pyspark.sql import SparkSession

    return SparkSession.builder.getOrCreate()


def _mount(spark, mounts: dict[str, str], hadoop: dict[str, str], previous: set[str]) -> set[str]:
    """Point s3://<bucket>/ and s3a://<bucket>/ at this run's staged folders (URIs: file:// or, with IAM enforced,
    the role-checked c360s3://) and set the run's other Hadoop settings (the mount table and settings a cold run
    gets on its command line)."""
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    for bucket in previous - set(mounts):
        conf.unset(f"fs.viewfs.mounttable.{bucket}.linkFallback")
    for bucket, target in mounts.items():
        conf.set(f"fs.viewfs.mounttable.{bucket}.linkFallback", target)
    for name, value in hadoop.items():
        conf.set(name, value)
    return set(mounts)


def _run(request: dict, modules: set[str]) -> int:
    """One script run in this process, as spark-submit would run it; its exit code."""
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    sys.argv = [request["script"], *request["args"]]
    if (folder := str(Path(request["script"]).parent)) not in sys.path:  # as `python script.py` puts it first
        sys.path.insert(0, folder)
    for name in [m for m in sys.modules if m in modules]:  # the job's modules, imported afresh by this run
        del sys.modules[name]
    try:
        runpy.run_path(request["script"], run_name="__main__")
        return 0
    except SystemExit as e:
        if e.code is None or isinstance(e.code, int):
            return e.code or 0
        print(e.code, file=sys.stderr)
        return 1
    except BaseException:  # the script's failure, reported as Python reports an uncaught exception
        traceback.print_exc()
        return 1


def main() -> int:
    driver_log = Path(os.environ["C360_WARM_DRIVER_LOG"])
    reply = os.fdopen(os.dup(1), "w", buffering=1)
    log_fd = os.open(driver_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)  # the JVM inherits these: its output goes to the driver's log
    spark = _session()
    modules = {Path(p).stem for p in spark.sparkContext.getConf().get("spark.submit.pyFiles", "").split(",") if p}
    home, mounted = os.getcwd(), set()
    reply.write(json.dumps({"ready": True, "pid": os.getpid()}) + "\n")
    while True:
        if not select.select([sys.stdin], [], [], IDLE_EXIT_S)[0]:
            return 0
        line = sys.stdin.readline()
        if not line:  # the runner is gone
            return 0
        request = json.loads(line)
        spark = _session()  # a new one if the last script stopped it (the JVM stays warm)
        mounted = _mount(spark, request["mounts"], request.get("hadoop", {}), mounted)
        start = driver_log.stat().st_size
        sys.stdout.flush()
        sys.stderr.flush()
        out = os.open(request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        err = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(out, 1)
        os.dup2(err, 2)
        try:
            rc = _run(request, modules | {Path(request["script"]).stem})
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(log_fd, 1)
            os.dup2(log_fd, 2)
            os.close(out)
            os.close(err)
            os.chdir(home)
        with open(driver_log, "rb") as jvm, open(request["stderr"], "ab") as run_err:
            jvm.seek(start)
            run_err.write(jvm.read())
        if spark.sparkContext._jsc is not None:
            spark.catalog.clearCache()
        else:  # the script stopped the session: the next run starts another, with every mount set again
            mounted = set()
        gc.collect()
        reply.write(json.dumps({"rc": rc}) + "\n")


if __name__ == "__main__":
    sys.exit(main())
