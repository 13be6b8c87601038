"""Glue extension: `StartJobRun` really runs the job's script with local Spark.

What it does
- Honours `MaxConcurrentRuns` (`ConcurrentRunsExceededException` beyond it); merges the run's arguments over
  the job's `DefaultArguments` (`NonOverridableArguments` last), adds `--JOB_ID`, `--JOB_RUN_ID`, `--JOB_NAME`;
  `GetJobRun(s)` report the run's own `Arguments`, as AWS does.
- Stages every bucket's objects into `<state>/glue/runs/<run id>/stage/<bucket>/`, then runs
  `spark-submit --master local[N]` on the script from `Command.ScriptLocation` (`--extra-py-files` as
  `--py-files`, `--extra-jars` as `--jars`: Splink's similarity functions) with Hadoop's
  `ViewFileSystemOverloadScheme` mounting each staged bucket under `s3://` and `s3a://` (docs/ARCHITECTURE.md,
  "Facts"), so the script's S3 paths stay unchanged. Objects that arrive while
  the run goes on are staged too (every half second), so a run can pick up files that arrived after it started.
  Afterwards what the run wrote, changed or deleted goes back into the emulator's S3 (Spark's `.crc` side files
  are left out). `<state>/glue/runs/<run id>/result.json` keeps the return code, the objects staged, uploaded and
  deleted, and the seconds spent staging, in Spark and writing back (where a slow local run spends its time).
- A warm driver (`glue_warm_driver.py`) runs the scripts: one long-lived PySpark process per version of a job's code
  (script and `--extra-py-files`, by content; its jars) and worker count, started by the first run that needs it,
  serving one run at a time. Each run gets its own `__main__`, arguments, environment, freshly imported modules,
  mounts and logs; a run that finds its driver busy, or `C360_GLUE_WARM=0`, gets a cold `spark-submit` of its own.
  Stopping or timing out a run kills its driver; while a run runs, `<state>/glue/runs/<run id>/driver.pid` names
  its process. This saves the JVM and session start (about 10 s a run) and runs Spark on a warmed-up JVM (a small
  incremental run: 17 s of job time instead of 36 s).
- `GetJobRun(s)` report the real state (STARTING, RUNNING, SUCCEEDED, FAILED with the error message,
  TIMEOUT after the job's `Timeout` minutes, STOPPED after `BatchStopJobRun`), start and completion times and
  execution time. Driver output goes to CloudWatch Logs `/aws-glue/jobs/output` and `/aws-glue/jobs/error`
  (stream = run id), or to the job's `--continuous-log-logGroup` when it names one. Every state change puts a
  "Glue Job State Change" event (source `aws.glue`, detail jobName / jobRunId / state / severity / message) on
  the default EventBridge bus.

How it differs from AWS
- One local Spark with N = min(NumberOfWorkers, cores) threads instead of a cluster; no `awsglue` libraries
  (the script's Glue seam falls back to plain PySpark); no job bookmarks, retries (MaxRetries) or
  Flex/queuing; staging copies whole buckets (fine for development sizes, slow for very large ones).
- EventBridge gets RUNNING as well as the terminal states (AWS documents the terminal ones).
- An object that another writer changes in S3 while a run is writing the same key is overwritten by the run.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from botocore.exceptions import ClientError

from c360 import aws
from c360.local import iam, iam_fs
from c360.local.emulator_context import ACCOUNT_ID, EmulatorContext

DETAIL_TYPE = "Glue Job State Change"
TERMINAL = ("SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED", "ERROR")
ACTIVE = ("STARTING", "RUNNING", "STOPPING", "WAITING")


def spark_submit() -> str:
    path = Path(sys.executable).parent / "spark-submit"
    found = path if path.exists() else shutil.which("spark-submit")
    if not found:
        raise FileNotFoundError("spark-submit not found: pyspark is not installed in this environment")
    return str(found)


def _keys(s3, bucket: str) -> list[str]:
    """The bucket's object keys (folder markers left out)."""
    return [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for o in page.get("Contents", []) if not o["Key"].endswith("/")]


def _stage_object(s3, stage: Path, bucket: str, key: str, known: dict[str, str]) -> None:
    """Download one object under stage/<bucket>/ and record its md5 in `known`. It appears whole (a rename), and
    one that is gone by now (raw/ objects are moved away by the Lambda) is simply not staged."""
    target = stage / bucket / key
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(f".{target.name}.c360part")
    try:
        s3.download_file(bucket, key, str(part))
    except ClientError as e:
        part.unlink(missing_ok=True)
        if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
            return
        raise
    part.rename(target)
    known[key] = _file_md5(target)


def _file_md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class WarmDriver:
    """One warm driver process (glue_warm_driver.py) for one version of a job's code; one run at a time."""

    def __init__(self, folder: Path, code: list[Path], spark_args: list[str], env: dict[str, str]):
        self.folder, self.busy = folder, False
        self.code = folder / "code"  # copies: the staged files of the run that started it go away with that run
        self.code.mkdir(parents=True, exist_ok=True)
        for path in code:
            shutil.copy(path, self.code / path.name)
        py_files = ",".join(str(self.code / p.name) for p in code[1:])
        submit = [*spark_args, *(["--py-files", py_files] if py_files else []), "pyspark-shell"]
        env = dict(env, C360_WARM_DRIVER_LOG=str(folder / "driver.log"), PYSPARK_SUBMIT_ARGS=" ".join(submit))
        server = Path(__file__).with_name("glue_warm_driver.py")
        self.proc = subprocess.Popen([sys.executable, "-E", "-s", str(server)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=folder,
                                     start_new_session=True, text=True, bufsize=1)
        self.ready = False

    def alive(self) -> bool:
        return self.proc.poll() is None

    def run(self, request: dict, timeout: float) -> tuple[int, bool]:
        """Send one run; its exit code and whether it timed out (the driver is then killed). A driver that dies
        gives the code it died with, and what it logged meanwhile (a JVM that would not start, a crash) goes to the
        run's stderr, so the run's error says why."""
        deadline = time.monotonic() + timeout
        request = dict(request, script=str(self.code / Path(request["script"]).name))
        log = self.folder / "driver.log"
        since = log.stat().st_size if log.exists() else 0
        try:
            if not self.ready:  # the session starts before the first run: that run's time, as a cold start's
                self.ready = bool(self._reply(deadline))
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
            answer = self._reply(deadline)
        except BrokenPipeError:
            answer = None
        except TimeoutError:
            _terminate(self.proc)
            return self.proc.wait(), True
        if answer is not None:
            return int(answer["rc"]), False
        rc = self.proc.wait()
        if log.exists():
            with open(log, "rb") as driver, open(request["stderr"], "ab") as err:
                driver.seek(since)
                err.write(driver.read())
        return rc, False

    def _reply(self, deadline: float) -> dict | None:
        """The driver's next answer line; None if it died."""
        import selectors

        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                if sel.select(min(left, 1.0)):
                    line = self.proc.stdout.readline()
                    return json.loads(line) if line else None

    def close(self) -> None:
        if self.alive():
            _terminate(self.proc)


class GlueRunner:
    def __init__(self, ctx: EmulatorContext):
        self.ctx = ctx
        self.lock = threading.Lock()
        self.processes: dict[str, subprocess.Popen] = {}
        self.warm: dict[str, WarmDriver] = {}  # code version + workers -> its driver
        self.warm_enabled = os.environ.get("C360_GLUE_WARM", "1") != "0"

    def _warm_driver(self, code: list[Path], workers: int, spark_args: list[str],
                     env: dict[str, str]) -> WarmDriver | None:
        """The idle warm driver for this code and worker count (started if there is none); None: run cold (warm
        drivers off, or this one busy). Drivers of other code versions are closed: one version is current."""
        if not self.warm_enabled or not all(p.is_file() and p.suffix == ".py" for p in code):
            return None  # a missing or packaged module: spark-submit's own handling and error
        h = hashlib.sha256(str(workers).encode() + b"\0" + " ".join(spark_args).encode())
        for path in code:
            h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        key = h.hexdigest()[:16]
        with self.lock:
            for other in [k for k, d in self.warm.items() if (k != key and not d.busy) or not d.alive()]:
                self.warm.pop(other).close()
            driver = self.warm.get(key)
            if driver is not None and driver.busy:
                return None
            if driver is None:
                driver = self.warm[key] = WarmDriver(self.ctx.path("glue", "warm", key), code, spark_args, env)
            driver.busy = True
            return driver

    def close(self) -> None:
        with self.lock:
            for driver in self.warm.values():
                driver.close()
            self.warm.clear()

    # ------------------------------------------------------------------ state and events
    def set_state(self, run, state: str, message: str | None = None) -> None:
        run.c360_state = state
        run.modified_on = datetime.now(UTC)
        if message:
            run.c360_error = message
        if state in TERMINAL:
            run.completed_on = run.modified_on
            run.c360_execution_time = int(time.time() - run.c360_started)
        if state == "STARTING":
            return
        from moto.events import events_backends

        severity = "INFO" if state in ("RUNNING", "SUCCEEDED") else "ERROR"
        detail = {"jobName": run.job_name, "severity": severity, "state": state, "jobRunId": run.job_run_id,
                  "message": message or f"Job run {state.lower()}."}
        events_backends[ACCOUNT_ID][self.ctx.region].put_events([{
            "Source": "aws.glue", "DetailType": DETAIL_TYPE, "Detail": json.dumps(detail),
            "Resources": [], "EventBusName": "default"}])

    # ------------------------------------------------------------------ staging
    def _stage(self, stage: Path) -> dict[str, dict[str, str]]:
        """Download every bucket's objects; returns bucket -> key -> md5 of what was staged."""
        s3 = aws.client("s3", self.ctx.settings())
        staged: dict[str, dict[str, str]] = {}
        for bucket in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
            (stage / bucket).mkdir(parents=True, exist_ok=True)
            staged[bucket] = {}
            for key in _keys(s3, bucket):
                _stage_object(s3, stage, bucket, key, staged[bucket])
        return staged

    def _follow(self, stage: Path, staged: dict[str, dict[str, str]], stop: threading.Event) -> None:
        """While the run goes on, stage the objects that arrive in S3 after it started (S3 reads are live on AWS:
        a run that looks for files arriving meanwhile must find them). Keys the run wrote itself are left alone."""
        s3 = aws.client("s3", self.ctx.settings())
        while not stop.wait(0.5):
            for bucket, known in staged.items():
                try:
                    keys = _keys(s3, bucket)
                except Exception:  # the bucket went away: nothing more to follow there
                    continue
                for key in keys:
                    if key not in known and not (stage / bucket / key).exists():
                        try:
                            _stage_object(s3, stage, bucket, key, known)
                        except Exception:  # the follower must outlive a failed download: the next look retries
                            continue

    def _write_back(self, stage: Path, staged: dict[str, dict[str, str]]) -> dict[str, int]:
        s3 = aws.client("s3", self.ctx.settings())
        counts = {"uploaded": 0, "deleted": 0}
        for bucket, before in staged.items():
            root = stage / bucket
            now: dict[str, Path] = {}
            for path in root.rglob("*"):
                if path.is_file() and not (path.name.startswith(".") and path.name.endswith((".crc", ".c360part"))):
                    now[path.relative_to(root).as_posix()] = path
            for key, path in sorted(now.items()):
                if before.get(key) != _file_md5(path):
                    s3.upload_file(str(path), bucket, key)
                    counts["uploaded"] += 1
            gone = [k for k in before if k not in now]
            for i in range(0, len(gone), 1000):
                s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in gone[i:i + 1000]]})
                counts["deleted"] += len(gone[i:i + 1000])
        return counts

    # ------------------------------------------------------------------ running
    def start(self, job, run, arguments: dict[str, str]) -> None:
        run.c360_started = time.time()
        self.set_state(run, "STARTING")
        threading.Thread(target=self._run, args=(job, run, arguments), name=f"glue-{run.job_run_id[:12]}",
                         daemon=True).start()

    def _run(self, job, run, arguments: dict[str, str]) -> None:
        folder = self.ctx.path("glue", "runs", run.job_run_id)
        stage = folder / "stage"
        try:
            self._execute(job, run, arguments, folder, stage)
        except Exception as e:  # the emulator's own failure still ends the run, visibly
            self.set_state(run, "FAILED", f"local Glue runner error: {e!r}")
        finally:
            shutil.rmtree(stage, ignore_errors=True)

    def _execute(self, job, run, arguments, folder: Path, stage: Path) -> None:
        creds = None
        if self.ctx.sessions is not None:  # the job runs as its role, as on Glue
            try:
                creds = self.ctx.sessions.credentials(job.role, "glue.amazonaws.com", "GlueJobRunnerSession")
            except PermissionError as e:
                self.set_state(run, "FAILED", str(e))
                return
        t0 = time.monotonic()
        staged = self._stage(stage)
        timings = {"stage_s": round(time.monotonic() - t0, 2), "staged": sum(len(k) for k in staged.values())}
        script_loc = (job.command or {}).get("ScriptLocation", "")
        script = self._local_path(script_loc, stage)
        if script is None or not script.is_file():
            self.set_state(run, "FAILED", f"script {script_loc!r} not found in S3")
            return
        code = [script_loc, *(x.strip() for x in arguments.get("--extra-py-files", "").split(",") if x.strip()),
                *(x.strip() for x in arguments.get("--extra-jars", "").split(",") if x.strip())]
        denied = self._fetch_as_role(code, stage, creds) if creds else None
        if denied:
            self.set_state(run, "FAILED", denied)
            return
        py_files = [p for p in (self._local_path(x.strip(), stage)
                                for x in arguments.get("--extra-py-files", "").split(",") if x.strip()) if p]
        jars = []  # --extra-jars, as Glue adds them to the classpath: copied by content (a warm driver outlives runs)
        for loc in (x.strip() for x in arguments.get("--extra-jars", "").split(",") if x.strip()):
            jar = self._local_path(loc, stage)
            if jar is None or not jar.is_file():
                self.set_state(run, "FAILED", f"--extra-jars: {loc!r} not found in S3")
                return
            kept = self.ctx.path("glue", "jars") / f"{_file_md5(jar)[:16]}-{jar.name}"
            if not kept.exists():
                shutil.copy(jar, kept)
            jars.append(str(kept))
        workers = max(1, min(int(run.number_of_workers or job.number_of_workers or 2), os.cpu_count() or 2))
        spark_args = [*(["--jars", ",".join(jars)] if jars else []),
                      "--master", f"local[{workers}]", "--conf", "spark.ui.enabled=false",
                      "--conf", "spark.sql.session.timeZone=UTC",
                      # a small local cluster: a few shuffle partitions, not Spark's 200 (Glue sizes its own)
                      "--conf", f"spark.sql.shuffle.partitions={2 * workers}"]
        for scheme in ("s3", "s3a"):  # the staged buckets are mounted under s3:// and s3a:// (per run: see below)
            spark_args += ["--conf",
                           f"spark.hadoop.fs.{scheme}.impl=org.apache.hadoop.fs.viewfs.ViewFileSystemOverloadScheme"]
        args = {k: v for k, v in arguments.items() if k.startswith("--")}
        args.update({"--JOB_ID": f"j_{hashlib.sha1(job.name.encode()).hexdigest()}", "--JOB_RUN_ID": run.job_run_id,
                     "--JOB_NAME": job.name})
        argv = [str(x) for kv in args.items() for x in kv]
        env = self.ctx.child_env()
        env.update({"PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable,
                    "SPARK_LOCAL_IP": "127.0.0.1", "C360_GLUE_LOCAL": "1"})
        mount_scheme, hadoop = "file", {}
        if creds:  # boto3 in the script acts as the role; Spark's S3 requests are checked as the role (iam_fs)
            env.update(creds)
            mount_scheme = iam_fs.SCHEME
            hadoop = iam_fs.spark_conf(stage, self.ctx.endpoint, creds["AWS_ACCESS_KEY_ID"], run.job_run_id)
            spark_args += ["--driver-class-path", str(iam_fs.jar(self.ctx.path("glue", "jars")))]
        timeout_s = float(run.timeout or job.timeout or 2880) * 60 / self.ctx.clock_speed
        out_path, err_path = folder / "stdout.log", folder / "stderr.log"
        stop_following = threading.Event()
        follower = threading.Thread(target=self._follow, args=(stage, staged, stop_following), daemon=True,
                                    name=f"glue-follow-{run.job_run_id[:12]}")
        follower.start()
        t0 = time.monotonic()
        warm = self._warm_driver([script, *py_files], workers, [
            *spark_args, "--name", f"{job.name}:warm", "--conf",
            f"spark.driver.extraJavaOptions=-Djava.io.tmpdir={self.ctx.path('glue', 'warm')}",
            # a FileSystem per use, so the mount table a run sets on the driver is the one in force
            "--conf", "spark.hadoop.fs.s3.impl.disable.cache=true",
            "--conf", "spark.hadoop.fs.s3a.impl.disable.cache=true"], env)
        if warm is not None:
            out_path.write_bytes(b"")
            err_path.write_bytes(b"")  # the driver may die before it opens them
            try:
                self._track(run, warm.proc, folder)
                rc, timed_out = warm.run({"script": str(script), "args": argv, "env": env, "cwd": str(folder),
                                          "mounts": {b: f"{mount_scheme}://{stage / b}" for b in staged},
                                          "hadoop": hadoop,
                                          "stdout": str(out_path), "stderr": str(err_path)}, timeout_s)
            finally:
                self._untrack(run, folder)
                warm.busy = False
        else:
            cmd = [spark_submit(), *spark_args, "--name", f"{job.name}:{run.job_run_id[:12]}",
                   "--conf", f"spark.driver.extraJavaOptions=-Djava.io.tmpdir={folder}"]
            for bucket in staged:
                cmd += ["--conf",
                        f"spark.hadoop.fs.viewfs.mounttable.{bucket}.linkFallback={mount_scheme}://{stage / bucket}"]
            for name, value in hadoop.items():
                cmd += ["--conf", f"spark.hadoop.{name}={value}"]
            if py_files:
                cmd += ["--py-files", ",".join(str(p) for p in py_files)]
            cmd += [str(script), *argv]
            with open(out_path, "wb") as out, open(err_path, "wb") as err:
                proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=folder, start_new_session=True)
                self._track(run, proc, folder)
                try:
                    rc = proc.wait(timeout=timeout_s)
                    timed_out = False
                except subprocess.TimeoutExpired:
                    _terminate(proc)
                    rc, timed_out = proc.wait(), True
                finally:
                    self._untrack(run, folder)
        stop_following.set()
        follower.join()
        timings["spark_s"] = round(time.monotonic() - t0, 2)
        stdout = out_path.read_text(errors="replace").splitlines()
        stderr = err_path.read_text(errors="replace").splitlines()
        custom = arguments.get("--continuous-log-logGroup")
        if custom:  # continuous logging into the job's own group: driver output and errors as two streams
            self.ctx.put_logs(custom, run.job_run_id, stdout or ["(no output)"], creds)
            self.ctx.put_logs(custom, f"{run.job_run_id}-driver-errors", stderr or ["(no output)"], creds)
        else:
            self.ctx.put_logs("/aws-glue/jobs/output", run.job_run_id, stdout or ["(no output)"], creds)
            self.ctx.put_logs("/aws-glue/jobs/error", run.job_run_id, stderr or ["(no output)"], creds)
        t0 = time.monotonic()
        written = self._write_back(stage, staged)
        timings["write_back_s"] = round(time.monotonic() - t0, 2)
        (folder / "result.json").write_text(json.dumps({"returncode": rc, "timed_out": timed_out, **written,
                                                        **timings}))
        if getattr(run, "c360_stop_requested", False):
            self.set_state(run, "STOPPED", "Job run stopped by BatchStopJobRun.")
        elif timed_out:
            self.set_state(run, "TIMEOUT", f"Job run timed out after {run.timeout or job.timeout} minutes.")
        elif rc == 0:
            self.set_state(run, "SUCCEEDED")
        else:
            # spark-submit relays the Python traceback on stdout, the JVM's errors on stderr
            self.set_state(run, "FAILED", _error_message(stdout, rc) if _has_traceback(stdout)
                           else _error_message(stderr, rc))

    def _fetch_as_role(self, locations: list[str], stage: Path, creds: dict[str, str]) -> str | None:
        """Glue fetches the script, --extra-py-files and --extra-jars with the job's role: so does the runner (over
        the staged copies). The run's error message when the role may not read one of them, else None."""
        s3 = iam.role_client(self.ctx, "s3", creds)
        for loc in locations:
            if not loc.startswith(("s3://", "s3a://")):
                continue
            bucket, _, key = loc.split("://", 1)[1].partition("/")
            try:
                body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            except ClientError as e:
                if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                    continue  # the run's own check says it is missing
                return f"Failed to download {loc} with the job's role: {e}"
            target = stage / bucket / key
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(body)
        return None

    def _track(self, run, proc: subprocess.Popen, folder: Path) -> None:
        """The process now running `run` (a warm driver or a cold spark-submit): stoppable, named in
        <run folder>/driver.pid for operators, and the run RUNNING unless a stop came first."""
        self.processes[run.job_run_id] = proc
        (folder / "driver.pid").write_text(str(proc.pid))
        if getattr(run, "c360_stop_requested", False):
            _terminate(proc)
        else:
            self.set_state(run, "RUNNING")

    def _untrack(self, run, folder: Path) -> None:
        """The run's process is done with it: a warm driver lives on to serve other runs, so driver.pid goes."""
        self.processes.pop(run.job_run_id, None)
        (folder / "driver.pid").unlink(missing_ok=True)

    def _local_path(self, location: str, stage: Path) -> Path | None:
        if location.startswith(("s3://", "s3a://")):
            bucket, _, key = location.split("://", 1)[1].partition("/")
            return stage / bucket / key
        return Path(location) if location else None

    def stop(self, run) -> None:
        run.c360_stop_requested = True
        proc = self.processes.get(run.job_run_id)
        if proc is not None:
            run.c360_state = "STOPPING"
            _terminate(proc)


def _terminate(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def _has_traceback(lines: list[str]) -> bool:
    return any(line.startswith("Traceback (most recent call last)") for line in lines)


_LOG_LINE = re.compile(r"^\d\d/\d\d/\d\d \d\d:\d\d:\d\d ")  # a Spark log line interleaved with a traceback


def _error_message(stderr: list[str], rc: int) -> str:
    """The Python exception line, as Glue's ErrorMessage shows it, else the last error-looking line."""
    starts = [i for i, line in enumerate(stderr) if line.startswith("Traceback (most recent call last)")]
    if starts:  # the line after the last traceback's frames: "module.Exception: message", whatever its name
        for i, line in enumerate(stderr[starts[-1] + 1:], start=starts[-1] + 1):
            if line.strip() and not line[0].isspace() and not _LOG_LINE.match(line):
                if line.startswith("py4j.protocol.Py4JJavaError"):  # "An error occurred while calling o84.text."
                    causes = [c for c in stderr[i + 1:] if c.startswith(("Caused by: ", ": "))]
                    if causes:  # the JVM's root cause: an S3 AccessDenied, a missing class
                        return f"{line.strip()} {causes[-1].removeprefix('Caused by: ').lstrip(': ')}"[:1000]
                return line.strip()[:1000]
    for line in reversed(stderr):
        s = line.strip()
        if s and not s.startswith(("at ", "File ", "^", "~")) and (
                "Error" in s or "Exception" in s) and "WARN" not in s and "INFO" not in s:
            return s[:1000]
    return f"spark-submit exited with code {rc}"


def install(ctx: EmulatorContext) -> GlueRunner:
    from moto.core.responses import ActionResult
    from moto.glue import models as glue_models
    from moto.glue import responses as glue_responses
    from moto.glue.exceptions import ConcurrentRunsExceededException

    runner = GlueRunner(ctx)
    Job, Run = glue_models.FakeJob, glue_models.FakeJobRun
    original_as_dict = Run.as_dict
    original_status = Run.status

    def start_job_run(self, allocated_capacity, max_capacity, timeout, worker_type, security_configuration,
                      number_of_workers, notification_property, previous_run_id, arguments):
        with runner.lock:
            active = [r for r in self.job_runs if r.status in ACTIVE]
            limit = self.execution_property.get("MaxConcurrentRuns", 1)
            if len(active) >= limit:
                raise ConcurrentRunsExceededException(
                    f"Concurrent runs exceeded for {self.name}: {len(active)} running, MaxConcurrentRuns={limit}")
            merged = dict(self.default_arguments or {})
            merged.update(arguments or {})
            merged.update(self.non_overridable_arguments or {})
            # GetJobRun reports the run's own Arguments, as AWS does; the script gets the merged set
            run = Run(job_name=self.name, arguments=dict(arguments or {}), allocated_capacity=allocated_capacity,
                      max_capacity=max_capacity or self.max_capacity, timeout=timeout or self.timeout,
                      worker_type=worker_type or self.worker_type,
                      security_configuration=security_configuration or self.security_configuration,
                      number_of_workers=number_of_workers or self.number_of_workers,
                      notification_property=notification_property or self.notification_property,
                      job_run_id=previous_run_id)
            run.c360_glue_version = self.glue_version
            self.job_runs.append(run)
            runner.start(self, run, merged)
        return run.job_run_id

    def status(self):
        return getattr(self, "c360_state", None) or original_status.fget(self)

    def advance(self):
        if not hasattr(self, "c360_state"):
            glue_models.ManagedState.advance(self)

    def as_dict(self):
        d = original_as_dict(self)
        if hasattr(self, "c360_state"):
            d["JobRunState"] = self.c360_state
            d["GlueVersion"] = getattr(self, "c360_glue_version", None) or "6.0"
            d["LogGroupName"] = "/aws-glue/jobs"
            d["Attempt"] = 0
            d["ExecutionTime"] = getattr(self, "c360_execution_time",
                                         int(time.time() - getattr(self, "c360_started", time.time())))
            if self.c360_state not in TERMINAL:
                d.pop("CompletedOn", None)
            if getattr(self, "c360_error", None) and self.c360_state != "SUCCEEDED":
                d["ErrorMessage"] = self.c360_error
        return d

    def batch_stop_job_run(self):
        params = self.parameters
        job = self.glue_backend.get_job(params["JobName"])
        ok, errors = [], []
        for run_id in params.get("JobRunIds", []):
            run = next((r for r in job.job_runs if r.job_run_id == run_id), None)
            if run is None or run.status in TERMINAL:
                errors.append({"JobName": job.name, "JobRunId": run_id, "ErrorDetail": {
                    "ErrorCode": "InvalidInputException",
                    "ErrorMessage": "Job run not found" if run is None else f"Job run is {run.status}"}})
            else:
                runner.stop(run)
                ok.append({"JobName": job.name, "JobRunId": run_id})
        return ActionResult({"SuccessfulSubmissions": ok, "Errors": errors})

    Job.start_job_run = start_job_run
    Run.status = property(status)
    Run.advance = advance
    Run.as_dict = as_dict
    glue_responses.GlueResponse.batch_stop_job_run = batch_stop_job_run
    return runner
