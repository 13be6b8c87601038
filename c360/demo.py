"""`make demo`: the whole flow on generated data, where to look, and a short summary.

Generated data; the local stack; 00_provision; the files uploaded and followed through the Lambda, the Glue job and
the load into PostgreSQL; 40_dashboards; 50_monitoring (each failure induced, each alert in the mailbox, a healthy
state restored). The notebooks run through papermill and are kept in `<out>/executed/`. It exits non-zero if any
stage failed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

from c360 import aws, config, environment, shipped
from c360.reconcile import ACTIVE

# 50_monitoring counts Lambda errors per 60 s of emulator time and waits out the Lambda's retries (1 and 2 minutes
# on AWS). At 5x a 60-second period is 12 s: room for more than 5 failed invocations even on a loaded machine (when
# the local Lambda ran 4 at a time with retries asleep in its workers, a busy machine at 10x fitted only 4 into 6 s
# and the alarm never fired). The stack's previous speed is restored afterwards.
MONITORING_CLOCK_SPEED = 5


def _step(n: int, total: int, text: str) -> None:
    print(f"[{n}/{total}] {text}", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="c360-demo")
    ap.add_argument("--out", default="data/demo")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--env", default="c360-dev")
    args = ap.parse_args(argv)
    t0, started = time.perf_counter(), time.time()
    out = Path(args.out)
    root = config.project_root()
    total = 9

    ok, said = environment.check_java()
    _step(1, total, f"environment: {said.splitlines()[0]}")
    if not ok:
        print(said, file=sys.stderr)
        return 1

    from c360.datagen import Params, generate

    _step(2, total, f"generating sample data into {out}/ (seed {args.seed})")
    manifest = generate(Params(seed=args.seed), out, progress=True, force=True)
    for name, d in manifest["datasets"].items():
        print(f"      {name:17s} {d['files']} files + {d['bad_files']} invalid, {d['records']:,} records, "
              f"{d['error_records']} with injected DQ defects")

    from c360.local import stack

    settings = config.settings(target=config.LOCAL)
    _step(3, total, "starting the local AWS stack")
    status = stack.up(settings)
    print(f"      {status['endpoint']} (state {status['state_dir']})")
    iam_before = stack.status(settings).get("iam")  # the emulator's IAM decisions so far (None: not enforced)

    import papermill as pm

    executed = out / "executed"
    executed.mkdir(parents=True, exist_ok=True)
    ran: list[str] = []  # the notebooks this run executed (kept in executed/)
    _step(4, total, "provisioning with notebooks/00_provision.ipynb (papermill)")
    t = time.perf_counter()
    try:
        pm.execute_notebook(str(root / "notebooks" / "00_provision.ipynb"), str(executed / "00_provision.ipynb"),
                            parameters={"env": args.env}, kernel_name="python3", cwd=str(root / "notebooks"),
                            progress_bar=False)
    except pm.PapermillExecutionError as e:
        print(f"\nFAILED: 00_provision: {e.ename}: {e.evalue} (see {executed}/00_provision.ipynb); "
              "nothing after it can run", file=sys.stderr)
        return 1
    ran.append("00_provision")
    from c360.provision import outputs_path

    outputs = json.loads(outputs_path(settings, args.env).read_text())
    print(f"      done in {time.perf_counter() - t:.1f} s: bucket {outputs['bucket']}, function "
          f"{outputs['function_name']}, job {outputs['glue_job']}, database {outputs['db_instance']}")

    files = sorted(p for p in (out / "raw").rglob("*") if p.is_file())
    _step(5, total, f"uploading {len(files)} files to s3://{outputs['bucket']}/raw/")
    s3 = aws.client("s3", settings)
    earlier = _golden_rows(s3, outputs["bucket"])  # a golden table already there: the stack kept an earlier run's data
    if earlier is not None:
        print(f"      (the stack's state holds an earlier run's data, {earlier:,} golden customers: files identical to "
              "earlier ones are duplicates, not judged again; `make local-reset` first for a fresh start)")
    uploaded = {}
    for p in files:
        key = p.relative_to(out).as_posix()
        with open(p, "rb") as body:
            uploaded[f"s3://{outputs['bucket']}/{key}?versionId="
                     f"{s3.put_object(Bucket=outputs['bucket'], Key=key, Body=body).get('VersionId', 'null')}"] = key

    _step(6, total, "waiting for the validation Lambda to route each file (S3 trigger -> validated/ or error/)")
    table = aws.resource("dynamodb", settings).Table(outputs["table"])
    ledger = shipped.lambda_module("ledger")  # the ledger protocol (lambda/ledger.py)
    items: dict[str, dict] = {}
    deadline = time.monotonic() + 180
    while len(items) < len(uploaded) and time.monotonic() < deadline:
        for page_item in ledger.all_items(table):  # every file uploaded, VALID or not: a Scan, for this summary
            if page_item["record_id"] in uploaded and page_item.get("moved"):
                items[page_item["record_id"]] = page_item
        print(f"\r      {len(items)}/{len(uploaded)} files routed", end="", flush=True)
        if len(items) < len(uploaded):
            time.sleep(1)
    print()
    valid = [i for i in items.values() if i["validation_status"] == ledger.VALID]
    invalid = [i for i in items.values() if i["validation_status"] != ledger.VALID]
    print(f"      {len(valid)} valid -> validated/ ({sum(int(i['record_count']) for i in valid):,} records), "
          f"{len(invalid)} refused -> error/ with a report:")
    for i in sorted(invalid, key=lambda i: i["source_key"]):
        print(f"        {i['source_key']}: {int(i['validation_error_count'])} error(s), report {i['error_report']}")

    _step(7, total, "waiting for the Glue job to complete every valid file (curated/, PostgreSQL, DQ in the ledger)")
    glue = aws.client("glue", settings)
    done = _wait_for_glue(table, {i["record_id"] for i in valid}, glue, outputs["glue_job"], timeout=900)
    for i in sorted(done.values(), key=lambda i: i["source_key"]):
        print(f"        {i['source_key']:45s} {int(i.get('records_read', 0)):>6,} records  "
              f"{int(i.get('error_count', 0)):>4} with DQ errors  dq_score {float(i.get('dq_score', 0)):6.2f}  "
              f"{i['status']}")
    _wait_for_runs_to_end(glue, outputs["glue_job"], timeout=300)
    golden = _golden_rows(s3, outputs["bucket"])  # written back to S3 when the run ends, after the ledger
    if golden is not None:
        print(f"      golden table: {golden:,} customers in s3://{outputs['bucket']}/curated/customer360_golden/")
    loaded = _loaded_rows(settings, args.env)
    if loaded is not None:
        print(f"      PostgreSQL: {loaded['customer360_golden']:,} rows in customer360_golden; "
              + ", ".join(f"{n:,} {t}" for t, n in loaded.items() if t != "customer360_golden"))

    from c360 import dashboards

    page = root / dashboards.DEFAULT_HTML
    dashboard_ok = False
    if loaded and loaded["customer360_golden"]:
        _step(8, total, "dashboards with notebooks/40_dashboards.ipynb (papermill): charts, static page, QuickSight")
        t = time.perf_counter()
        try:
            pm.execute_notebook(str(root / "notebooks" / "40_dashboards.ipynb"), str(executed / "40_dashboards.ipynb"),
                                parameters={"env": args.env, "html_out": str(page)}, kernel_name="python3",
                                cwd=str(root / "notebooks"), progress_bar=False)
            dashboard_ok = page.is_file()
            print(f"      done in {time.perf_counter() - t:.1f} s: dashboard page {page}")
        except pm.PapermillExecutionError as e:
            print(f"      40_dashboards failed: {e.ename}: {e.evalue}", file=sys.stderr)
        ran.append("40_dashboards")
    else:
        _step(8, total, "dashboards: skipped, the golden table is not in PostgreSQL")

    failures = []
    if len(items) < len(uploaded):
        failures.append(f"the Lambda routed {len(items)} of {len(uploaded)} files in time")
    if len(done) < len(valid) or golden is None:
        failures.append(f"the Glue job completed {len(done)} of {len(valid)} valid files in time (its logs: "
                        f"CloudWatch /aws-glue/jobs/{outputs['glue_job']})")
    if loaded is None or loaded["customer360_golden"] != golden:
        failures.append(f"PostgreSQL holds {loaded and loaded['customer360_golden']} golden rows, curated/ {golden}")
    if not dashboard_ok:
        failures.append(f"40_dashboards did not write {page} (see {executed}/40_dashboards.ipynb)")

    monitoring_result = None
    if failures:
        _step(9, total, "monitoring: skipped, an earlier stage failed (50_monitoring breaks a working pipeline "
                        "on purpose and needs one to start from)")
        monitoring_result = "not run (an earlier stage failed)"
    else:
        _step(9, total, f"monitoring with notebooks/50_monitoring.ipynb (papermill, emulator clock at "
                        f"{MONITORING_CLOCK_SPEED}x): each failure induced, each alert in the mailbox, then healthy "
                        "again (a few minutes)")
        t = time.perf_counter()
        progress = _NotebookProgress()
        previous_speed = stack.status(settings)["clock_speed"] or 1
        try:
            stack.set_clock(settings, MONITORING_CLOCK_SPEED)
            pm.execute_notebook(str(root / "notebooks" / "50_monitoring.ipynb"), str(executed / "50_monitoring.ipynb"),
                                parameters={"env": args.env}, kernel_name="python3", cwd=str(root / "notebooks"),
                                progress_bar=False, stdout_file=progress)
            progress.finish()
            monitoring_result = progress.last_line_with("alerts received") or "ran to the end"
            print(f"      done in {time.perf_counter() - t:.1f} s: {monitoring_result}")
        except pm.PapermillExecutionError as e:
            progress.finish()
            monitoring_result = f"FAILED in cell [{e.exec_count}]: {e.ename}: {_first_line(e.evalue)}"
            failures.append(f"50_monitoring failed: {e.ename}: {_first_line(e.evalue)} "
                            f"(see {executed}/50_monitoring.ipynb, cell [{e.exec_count}])")
        except stack.StackError as e:
            progress.finish()
            monitoring_result = f"not run: {e}"
            failures.append(f"50_monitoring could not run: {e}")
        finally:
            try:
                stack.set_clock(settings, previous_speed)
            except stack.StackError as e:
                print(f"      could not restore the emulator clock to {previous_speed:g}x: {e}", file=sys.stderr)
        if (executed / "50_monitoring.ipynb").is_file():
            ran.append("50_monitoring")

    status = stack.status(settings)
    print(f"\ndone in {time.perf_counter() - t0:.1f} s. Where to look:")
    rows = [
        (f"{out}/raw/", "the generated files (as uploaded to the bucket's raw/)"),
        (f"{out}/manifest.json", "what was generated and every defect injected, per file"),
        (f"{executed}/", f"the executed notebooks ({', '.join(ran)}), with their outputs"),
        (str(page), "the dashboards: one HTML page, open it in a browser (make dashboard rewrites it)"),
        (str(outputs_path(settings, args.env)), "names and ARNs of every resource"),
        (status["mailbox"], f"SNS e-mail (Maildir, {status['mailbox_messages']} messages)"),
        (status["log"], "the emulator's log"),
        (status["endpoint"], "the local AWS endpoint (aws --endpoint-url ..., or AWS_ENDPOINT_URL)"),
    ]
    for where, what in rows:
        print(f"  {where:55s} {what}")
    for name, dsn in status["postgres"].items():
        print(f"  {dsn:55s} PostgreSQL of RDS instance {name} (password: Secrets Manager {outputs['secret_id']})")
    print("  make lab                                                JupyterLab on the notebooks")
    print("  make test-reliability                                   the failure scenarios (duplicate events, a killed "
          "Spark job, PostgreSQL stopped, emulator restart, burst)")

    from c360 import monitoring

    alerts = [{**monitoring.mail_summary(m), "message": (m.get_payload(decode=True) or b"").decode(errors="replace")}
              for m in monitoring.mails(settings, started)]  # the whole message: mail_summary's is cut short
    print("\nsummary (files, data quality and golden rows: the demo data set's, as they stood before 50_monitoring "
          "added its own files)")
    if earlier is not None:
        print("  (on a stack that kept earlier runs' data: files that repeat earlier ones score 0 records, "
              "and the golden rows include earlier runs')")
    print(f"  files        {len(uploaded)} uploaded: {len(valid)} validated, {len(invalid)} rejected (reports in "
          f"error/)" + ("" if len(items) == len(uploaded) else f", {len(uploaded) - len(items)} not routed"))
    print(f"  data quality {_dq_line(done.values(), _dq_threshold(glue, outputs['glue_job']))}")
    print(f"  golden rows  {_golden_line(golden, loaded)}")
    print(f"  alerts       {_alerts_line(alerts)}")
    for line in _alert_lines(alerts):
        print(f"                 {line}")
    print(f"  monitoring   50_monitoring: {monitoring_result}")
    print(f"  IAM          {_iam_line(iam_before, stack.status(settings).get('iam'))}")
    print(f"  dashboard    {page if dashboard_ok else 'not written'}")
    print(f"  notebooks    {executed}/ ({', '.join(ran)})")
    print(f"  wall time    {time.perf_counter() - t0:.0f} s")
    for failure in failures:
        print(f"\nFAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


class _NotebookProgress:
    """papermill's `stdout_file`: shows the notebook's own progress as it runs, indented under the step.

    `c360.monitoring.wait_for` prints `\\r  waiting for X ... N s` while it waits and `X: after N s` when done: the
    first is shown on one line that keeps being rewritten, the second ends it. Other lines that start with a word
    (the notebook's results) are shown, cut to one terminal line; the rest (the rule as indented JSON) is not.
    """

    PREFIX, WIDTH = "      ", 118

    def __init__(self) -> None:
        self.buf, self.live, self.shown = "", 0, []  # live: length of the rewritten line on screen (0: none)

    def write(self, text: str) -> int:
        for piece in re.split(r"(\r|\n)", text):
            if piece in ("\r", "\n"):
                self._end(newline=piece == "\n")
            elif piece:
                self.buf += piece
                if self.buf.startswith("  waiting for "):
                    self._show_live(self.buf.strip())
        return len(text)

    def flush(self) -> None:
        sys.stdout.flush()

    def finish(self) -> None:
        self._end(newline=True)
        if self.live:
            sys.stdout.write("\n")
            self.live = 0
        sys.stdout.flush()

    def last_line_with(self, part: str) -> str | None:
        return next((line for line in reversed(self.shown) if part in line), None)

    def _show_live(self, line: str) -> None:
        line = self.PREFIX + line[:self.WIDTH]
        sys.stdout.write("\r" + line + " " * max(0, self.live - len(line)))
        sys.stdout.flush()
        self.live = len(line)

    def _end(self, newline: bool) -> None:
        segment, self.buf = self.buf, ""
        if not segment.strip() or segment.startswith("  waiting for "):
            return  # an empty piece, or a waiting line: already on screen, rewritten by what comes next
        if re.match(r"  \S.*: after \d+ s\s*$", segment) or segment[:1].isalnum():
            line = segment.strip()
            self.shown.append(line)
            line = self.PREFIX + (line if len(line) <= self.WIDTH else line[:self.WIDTH - 3] + "...")
            sys.stdout.write(("\r" if self.live else "") + line + " " * max(0, self.live - len(line)) + "\n")
            sys.stdout.flush()
            self.live = 0


def _first_line(text: str) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line[:300]


def _dq_threshold(glue, job: str) -> float | None:
    """The dq_score a file needs for SUCCESS: the job's --dq_threshold, else the script's default."""
    try:
        given = glue.get_job(JobName=job)["Job"].get("DefaultArguments", {}).get("--dq_threshold")
        if given is None:
            from c360 import shipped

            given = shipped.job_module("customer360_etl").DEFAULT_ARGS["dq_threshold"]
        return float(given)
    except Exception:  # only for the summary: leave the threshold out rather than fail the demo
        return None


def _dq_line(items, threshold: float | None) -> str:
    items = list(items)
    if not items:
        return "no file scored"
    scores = [float(i["dq_score"]) for i in items]
    states = {s: sum(1 for i in items if i["status"] == s) for s in ("SUCCESS", "FAILED")}
    return (f"{len(items)} files scored: dq_score min {min(scores):.2f} / mean {sum(scores) / len(scores):.2f}; "
            + ", ".join(f"{n} {s}" for s, n in states.items() if n)
            + (f" (threshold {threshold:g})" if threshold is not None else ""))


def _golden_line(golden: int | None, loaded: dict | None) -> str:
    in_pg = loaded["customer360_golden"] if loaded else None
    if golden is not None and golden == in_pg:
        return f"{golden:,} in curated/ and in PostgreSQL"
    return (f"{'none' if golden is None else f'{golden:,}'} in curated/, "
            f"{'unreadable' if in_pg is None else f'{in_pg:,}'} in PostgreSQL")


ALARM_STATES = ("ALARM", "OK", "INSUFFICIENT_DATA")


def _alert_kind(alert: dict) -> str:
    state = (alert["subject"] or "").split(":", 1)[0]
    if state in ALARM_STATES:
        return state
    ended = re.search(r"ended (\w+)", alert["message"])
    return f"Glue run {ended.group(1)}" if ended else "other"


def _iam_line(before: dict | None, after: dict | None) -> str:
    """The requests this demo made that the emulator authorized or denied, by principal (its IAM counts' difference;
    the denials themselves are in <state>/iam/denied.jsonl)."""
    if not after:
        return "not enforced (C360_IAM=off)"
    was = (before or {}).get("by_principal", {})
    counts = {who: {o: n - was.get(who, {}).get(o, 0) for o, n in c.items()}
              for who, c in after["by_principal"].items()}
    total = {o: sum(c[o] for c in counts.values()) for o in ("authorized", "denied")}
    roles = ", ".join(f"{who} {c['authorized']:,}/{c['denied']:,}" for who, c in sorted(counts.items())
                      if c["authorized"] or c["denied"])
    return (f"enforced: {total['authorized']:,} requests authorized, {total['denied']:,} denied "
            f"(authorized/denied: {roles})")


def _alerts_line(alerts: list[dict]) -> str:
    if not alerts:
        return "no e-mail since the demo started"
    kinds: dict[str, int] = {k: 0 for k in ALARM_STATES}
    for a in alerts:
        kinds[_alert_kind(a)] = kinds.get(_alert_kind(a), 0) + 1
    return (f"{len(alerts)} e-mail{'s' if len(alerts) != 1 else ''} since the demo started: "
            + ", ".join(f"{n} {k}" for k, n in kinds.items() if n))


def _alert_lines(alerts: list[dict]) -> list[str]:
    """The e-mails in short: per alarm the states it mailed, in order; other mails one line each."""
    alarms: dict[str, list[str]] = {}
    others = []
    for a in alerts:
        kind = _alert_kind(a)
        named = re.search(r'"([^"]+)"', a["subject"] or "")
        if kind in ALARM_STATES and named:
            alarms.setdefault(named.group(1), []).append(kind)
        else:
            glue = re.search(r"run (\S+) ended (\w+): *(.*)", a["message"])
            others.append(f"Glue run {glue.group(1)[:13]}... ended {glue.group(2)}: {glue.group(3)}" if glue
                          else f"{a['subject']}: {a['message']}")
    width = max((len(n) for n in alarms), default=0)
    return ([f"{name:{width}s}  {' -> '.join(states)}" for name, states in alarms.items()]
            + [_cut(line.splitlines()[0], 110) for line in others])


def _cut(line: str, width: int) -> str:
    return line if len(line) <= width else line[:width - 3].rstrip() + "..."


def _wait_for_glue(table, wanted: set[str], glue, job: str, timeout: float) -> dict[str, dict]:
    """Ledger items of `wanted` once the job has completed them; progress on one line while it runs."""
    ledger = shipped.lambda_module("ledger")
    done: dict[str, dict] = {}
    deadline = time.monotonic() + timeout
    while len(done) < len(wanted) and time.monotonic() < deadline:
        for item in ledger.all_items(table):
            if item["record_id"] in wanted and item.get("status") in (ledger.SUCCESS, ledger.FAILED) \
                    and "dq_score" in item:
                done[item["record_id"]] = item
        runs = glue.get_job_runs(JobName=job).get("JobRuns", [])
        states = ", ".join(f"{r['Id'][:10]} {r['JobRunState']}" for r in runs[:3]) or "no run yet"
        print(f"\r      {len(done)}/{len(wanted)} files completed; job runs: {states}   ", end="", flush=True)
        if any(r["JobRunState"] in ("FAILED", "TIMEOUT", "ERROR") for r in runs):
            print()
            bad = next(r for r in runs if r["JobRunState"] in ("FAILED", "TIMEOUT", "ERROR"))
            print(f"      job run {bad['Id']} {bad['JobRunState']}: {bad.get('ErrorMessage', '')[:300]}",
                  file=sys.stderr)
            break
        if len(done) < len(wanted):
            time.sleep(2)
    print()
    return done


def _wait_for_runs_to_end(glue, job: str, timeout: float) -> None:
    """The run that completed the ledger items may still look for late files and write curated/ back."""
    deadline, shown = time.monotonic() + timeout, False
    while time.monotonic() < deadline:
        runs = glue.get_job_runs(JobName=job).get("JobRuns", [])
        active = [r["Id"][:10] for r in runs if r["JobRunState"] in ACTIVE]
        if not active:
            break
        print(f"\r      waiting for run {', '.join(active)} to end   ", end="", flush=True)
        shown = True
        time.sleep(2)
    if shown:
        print()


def _golden_rows(s3, bucket: str) -> int | None:
    """Rows of curated/customer360_golden (its Parquet parts read with pyarrow), None when it is not there."""
    import tempfile

    import pyarrow.parquet as pq

    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="curated/customer360_golden/")
            .get("Contents", []) if o["Key"].endswith(".parquet")]
    if not keys:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        total = 0
        for n, key in enumerate(keys):
            path = f"{tmp}/{n}.parquet"
            s3.download_file(bucket, key, path)
            total += pq.ParquetFile(path).metadata.num_rows
        return total


def _loaded_rows(settings, env: str) -> dict[str, int] | None:
    """Row counts of the loaded tables, None when the database cannot be read."""
    import psycopg

    from c360 import dashboards

    try:
        with psycopg.connect(dashboards.database_dsn(settings, env), connect_timeout=10) as conn:
            return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                    for t in ("customer360_golden", "customers", "purchases", "feedback", "rejects")}
    except (dashboards.NoDatabase, psycopg.Error) as e:
        print(f"      PostgreSQL: cannot read the loaded tables: {e}", file=sys.stderr)
        return None


if __name__ == "__main__":
    sys.exit(main())
