"""`c360`: the workbench's command line.

    c360 generate [--out DIR] [--seed N] [--customers N] [--purchases N] [--feedback N] ...
    c360 validate FILE [--dataset D]   the Lambda's validator on a local file (exit 0 valid, 1 invalid)
    c360 reprocess KEY [--file F]  put a refused error/ file (or a corrected one) back through raw/
    c360 reconcile                 re-send raw/'s events, start the job for PENDING files (after an outage)
    c360 sentiment [--analyzer A]  label<TAB>score per line of stdin, through the Glue job's own function
    c360 export [--check]          notebooks -> lambda/ and exported_jobs/
    c360 identity review [--list | --accept A B | --reject A B]  pairs the model was unsure of, for a person
    c360 doctor                    Java, Python, Spark workers, kernel magics
    c360 setup-kernel              install the local Glue magics into this virtualenv's kernels
    c360 config                    the resolved target, region, endpoint and state folder (JSON)
    c360 local up|down|status|reset
    c360 lab [--ip IP] [--port N]  JupyterLab on the notebooks (as root too, with no display); prints URL and kernel
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import fields
from pathlib import Path

from c360 import config


def _cmd_generate(args: argparse.Namespace) -> int:
    from c360.datagen import Params, generate

    values = {f.name: getattr(args, f.name) for f in fields(Params) if getattr(args, f.name, None) is not None}
    params = Params(**values)
    try:
        params.validate()
    except ValueError as e:
        print(f"c360 generate: {e}", file=sys.stderr)
        return 2
    out = Path(args.out)
    t0 = time.perf_counter()
    try:
        manifest = generate(params, out, progress=not args.no_progress, force=args.force)
        if args.validated:
            from c360.datagen.validated import validated_copy

            validated_copy(out, manifest)
    except FileExistsError as e:
        print(f"c360 generate: {e}", file=sys.stderr)
        return 2
    took = time.perf_counter() - t0
    ds = manifest["datasets"]
    print(f"generated in {took:.1f} s under {out}/ (seed {params.seed}):")
    for name, d in ds.items():
        print(f"  {name:17s} {d['files']} files + {d['bad_files']} bad, {d['records']:>10,} records, "
              f"{d['error_records']:,} with DQ defects, {d['exact_duplicates']:,} exact duplicates")
    ident = ds["customer_details"]["identity"]
    print(f"  identity          {ident['persons']:,} persons behind {ident['source_ids']:,} source ids "
          f"({ident['true_pairs']:,} true pairs)")
    print(f"  manifest: {out / 'manifest.json'}  injected: {out / 'injected.csv'}  truth: {out / 'ground_truth.csv'}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from c360 import export

    root = config.project_root()
    try:
        if args.check:
            problems = export.check(root)
            for p in problems:
                print(p, file=sys.stderr)
            if problems:
                print(f"c360 export --check: {len(problems)} exported file(s) differ from their notebooks; "
                      "edit the notebook and run `make export`", file=sys.stderr)
                return 1
            print("exported files match their notebooks")
            return 0
        changed = export.export(root)
    except export.ExportError as e:
        print(f"c360 export: {e}", file=sys.stderr)
        return 2
    print("\n".join(f"wrote {p}" for p in changed) or "exported files already up to date")
    return 0


def _cmd_sentiment(args: argparse.Namespace) -> int:
    """Each stdin line through the Glue job's `sentiment` (the same function its pandas UDF calls)."""
    from itertools import islice

    from c360 import shipped

    job = shipped.job_module("etl_cleaning")
    lines = (line.rstrip("\r\n") for line in sys.stdin)
    try:
        while batch := list(islice(lines, 1000)):
            for label, score in job.sentiment(batch, args.analyzer):
                sys.stdout.write(f"{label}\t{score}\n")
            sys.stdout.flush()
    except ValueError as e:
        print(f"c360 sentiment: {e}", file=sys.stderr)
        return 2
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    """The Lambda's own validator on a local file: JSON verdict, exit 0 valid, 1 invalid, 2 unusable input."""
    from c360 import shipped

    handler, validators = shipped.lambda_module("handler"), shipped.lambda_module("contract_validators")
    path = Path(args.file)
    dataset = args.dataset or path.parent.name
    if dataset not in handler.DATASETS:
        print(f"c360 validate: say which dataset {path.name} belongs to: --dataset "
              f"{{{','.join(handler.DATASETS)}}}", file=sys.stderr)
        return 2
    if not path.is_file():
        print(f"c360 validate: {path} is not a file", file=sys.stderr)
        return 2
    try:
        _, fmt = handler.classify_key(f"raw/{dataset}/{path.name}")
    except handler.UnknownKey as e:
        verdict = {"valid": False, "dataset": dataset, "format": None, "records": 0, "error_count": 1,
                   "errors": [{"code": "extension", "message": str(e)}]}
    else:
        with open(path, "rb") as f:
            verdict = validators.validate(f, dataset, fmt, path.name).as_dict()
    verdict["file"] = str(path)
    print(json.dumps(verdict, indent=2, ensure_ascii=False))
    return 0 if verdict["valid"] else 1


def _cmd_reprocess(args: argparse.Namespace) -> int:
    """Put an error/ file (or a corrected version of it) back through raw/, so the Lambda judges it again."""
    import re

    from c360 import aws
    from c360.provision import outputs_path

    s = config.settings()
    bucket = args.bucket
    if not bucket:
        out = outputs_path(s, args.env)
        if not out.is_file():
            print(f"c360 reprocess: no outputs file {out}: pass --bucket or run 00_provision", file=sys.stderr)
            return 2
        bucket = json.loads(out.read_text())["bucket"]
    key = args.key.removeprefix(f"s3://{bucket}/")
    m = re.fullmatch(r"error/(?P<path>.+)\.(?P<version>[^./]+)(?P<ext>\.[^./]+)", key)
    if not m or key.endswith(".error.json"):
        print(f"c360 reprocess: {key!r} is not a refused file under error/ (error/<dataset>/<name>.<version>.<ext>)",
              file=sys.stderr)
        return 2
    raw_key = f"raw/{m['path']}{m['ext']}"
    s3 = aws.client("s3", s)
    if args.file:
        with open(args.file, "rb") as body:
            put = s3.put_object(Bucket=bucket, Key=raw_key, Body=body)
    else:
        put = s3.copy_object(Bucket=bucket, Key=raw_key, CopySource={"Bucket": bucket, "Key": key})
    print(json.dumps({"reprocessed": f"s3://{bucket}/{key}", "as": f"s3://{bucket}/{raw_key}",
                      "version": put.get("VersionId"), "content": args.file or "the refused file as it was"}))
    return 0


def _provisioned(s: config.Settings, env: str, command: str) -> dict | None:
    """The outputs 00_provision wrote for `env`; None (the reason printed) when it has not run."""
    from c360.provision import outputs_path

    out = outputs_path(s, env)
    if not out.is_file():
        print(f"c360 {command}: no outputs file {out}: run 00_provision for env {env!r} first", file=sys.stderr)
        return None
    return json.loads(out.read_text())


def _cmd_reconcile(args: argparse.Namespace) -> int:
    """Re-send the S3 events of files still in raw/ and start the job for PENDING files (c360/reconcile.py)."""
    from c360.reconcile import reconcile

    s = config.settings()
    outputs = _provisioned(s, args.env, "reconcile")
    if outputs is None:
        return 2
    summary = reconcile(s, outputs, wait_s=args.wait,
                        progress=lambda line: print(line, file=sys.stderr, flush=True))
    print(json.dumps(summary, indent=2))
    return 1 if summary["errors"] else 0


def _cmd_full_refresh(args: argparse.Namespace) -> int:
    """Recompute everything from validated/ with the deployed job (c360/refresh.py)."""
    from c360.refresh import full_refresh

    s = config.settings()
    outputs = _provisioned(s, args.env, "full-refresh")
    if outputs is None:
        return 2
    try:
        summary = full_refresh(s, outputs, wait_s=args.wait, timeout_s=args.timeout,
                               progress=lambda line: print(line, file=sys.stderr, flush=True))
    except TimeoutError as e:
        print(f"c360 full-refresh: {e}", file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2))
    return 0 if summary["state"] == "SUCCEEDED" else 1


def _cmd_doctor(args: argparse.Namespace) -> int:
    import os

    from c360 import environment

    ok, said = environment.check_java()
    print(("ok   " if ok else "FAIL ") + said)
    print(f"ok   Python {sys.version.split()[0]} at {sys.executable}")
    worker = os.environ.get("PYSPARK_PYTHON")
    good_worker = worker and Path(worker).resolve() == Path(sys.executable).resolve()
    print(("ok   " if good_worker else "warn ") + f"PYSPARK_PYTHON={worker or '(unset)'}"
          + ("" if good_worker else f": Spark's Python workers should run {sys.executable} (make sets it)"))
    from c360.local import rds

    try:
        print(f"ok   PostgreSQL server binaries: {rds.pg_bin()}")
    except rds.PostgresNotFound as e:
        print(f"warn {e}")
    startup = environment.startup_file()
    print(("ok   " if startup.is_file() else "warn ") + f"Glue magics startup file: {startup}"
          + ("" if startup.is_file() else " missing (run `c360 setup-kernel`)"))
    return 0 if ok else 1


def _cmd_setup_kernel(args: argparse.Namespace) -> int:
    from c360 import environment

    try:
        path = environment.setup_kernel()
    except RuntimeError as e:
        print(f"c360 setup-kernel: {e}", file=sys.stderr)
        return 2
    print(f"local Glue magics load in every kernel of this virtualenv ({path})")
    return 0


def _cmd_dashboard(args: argparse.Namespace) -> int:
    """The four dashboards as one static HTML page, read from the database."""
    import psycopg

    from c360 import dashboards

    try:
        dsn = dashboards.database_dsn(env=args.env, secret_id=args.secret_id)
        data = dashboards.fetch(dsn, top_profiles=args.profiles)
    except (dashboards.NoDatabase, psycopg.Error) as e:
        print(f"c360 dashboard: {e}".rstrip(), file=sys.stderr)
        return 1
    if data.golden_rows == 0:
        print("c360 dashboard: customer360_golden is empty: run the pipeline first (make demo)", file=sys.stderr)
        return 1
    out = Path(args.out) if args.out else config.project_root() / dashboards.DEFAULT_HTML
    path = dashboards.write_html(data, out)
    print(f"{data.golden_rows:,} golden customers; dashboard written (open it in a browser, no server needed):",
          file=sys.stderr)
    print(path.resolve())
    return 0


def _cmd_identity_review(args: argparse.Namespace) -> int:
    """The review queue (c360/review.py): list it, decide one pair, or walk it one pair at a time."""
    import psycopg
    from botocore.exceptions import BotoCoreError, ClientError

    from c360 import dashboards, review

    s = config.settings()
    bucket = args.bucket
    if not bucket:
        outputs = _provisioned(s, args.env, "identity review")
        if outputs is None:
            return 2
        bucket = outputs["bucket"]
    try:
        if args.accept or args.reject:
            (a, b), decision = (args.accept, "accept") if args.accept else (args.reject, "reject")
            print(json.dumps(review.decide(bucket, a, b, decision, args.reviewer, settings=s)))
            print("stored; the job's next run applies it", file=sys.stderr)
            return 0
        dsn = dashboards.database_dsn(s, env=args.env, secret_id=args.secret_id)
        decided = review.decisions(bucket, s)
        pairs = review.queue(dsn, decided, args.limit)
    except ValueError as e:
        print(f"c360 identity review: {e}", file=sys.stderr)
        return 2
    except (dashboards.NoDatabase, psycopg.Error, BotoCoreError, ClientError) as e:
        print(f"c360 identity review: {e}".rstrip(), file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(pairs, indent=2, default=str))
        return 0
    print(f"{len(pairs)} pair(s) waiting for review; {len(decided)} decision(s) stored", file=sys.stderr)
    interactive = not args.list and sys.stdin.isatty()
    for i, pair in enumerate(pairs, 1):
        print(f"\n[{i}/{len(pairs)}] " + review.describe(pair))
        if not interactive:
            continue
        answer = ""
        while answer not in ("a", "r", "s", "q"):
            answer = input("  [a]ccept (one person), [r]eject (two people), [s]kip, [q]uit? ").strip().lower()[:1]
        if answer == "q":
            break
        if answer in ("a", "r"):
            review.decide(bucket, pair["a"], pair["b"], "accept" if answer == "a" else "reject", args.reviewer,
                          pair, settings=s)
    if interactive and pairs:
        print("decisions stored; the job's next run applies them", file=sys.stderr)
    return 0


def _cmd_config(args: argparse.Namespace) -> int:
    s = config.settings()
    print(json.dumps({"target": s.target, "region": s.region, "profile": s.profile,
                      "endpoint_url": s.endpoint_url, "state_dir": str(s.state_dir),
                      "project_root": str(config.project_root())}, indent=2))
    return 0


def _cmd_local(args: argparse.Namespace) -> int:
    from c360.local import stack

    s = config.settings(target=config.LOCAL)
    try:
        if args.action == "up":
            print(f"starting the local AWS stack (state: {s.state_dir}) ...", file=sys.stderr)
            result = stack.up(s, clock_speed=args.clock_speed)
        elif args.action == "down":
            result = stack.down(s)
        elif args.action == "clock":
            if not args.clock_speed:
                print("c360 local clock: give --clock-speed N (AWS seconds per real second)", file=sys.stderr)
                return 2
            speed = stack.set_clock(s, args.clock_speed)
            print(f"local AWS stack clock: {speed:g} AWS seconds per real second")
            return 0
        elif args.action == "reset":
            removed = stack.reset(s)
            result = stack.status(s)
            result["removed"] = removed
        else:
            result = stack.status(s)
    except stack.StackError as e:
        print(f"c360 local {args.action}: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, indent=2))
        return 0 if result["running"] or args.action in ("down", "status") else 1
    state = "running" if result["running"] else "stopped"
    print(f"local AWS stack: {state}")
    print(f"  endpoint   {result['endpoint']}" + (f"  (pid {result['pid']})" if result["running"] else ""))
    if "ready_seconds" in result:
        print(f"  ready in   {result['ready_seconds']} s")
    print(f"  state      {result['state_dir']}  (log: {result['log']})")
    print(f"  mailbox    {result['mailbox']}  ({result['mailbox_messages']} messages)")
    for name, dsn in result["postgres"].items():
        print(f"  postgres   {name}: {dsn}")
    if result["running"]:
        print(f"  runs       moto server + extensions: {', '.join(result['extensions'])}")
        iam = result.get("iam")
        said = (f"enforced: {iam['authorized']:,} requests authorized, {iam['denied']:,} denied (denials: "
                f"{result['state_dir']}/iam/denied.jsonl)") if iam else "not enforced (C360_IAM=off)"
        print(f"  iam        {said}")
        print("  use it     export AWS_ENDPOINT_URL=" + result["endpoint"] + "  (the workbench does this by itself)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from c360.datagen import Params

    d = Params()
    parser = argparse.ArgumentParser(prog="c360", description="Customer 360 Workbook command line")
    sub = parser.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="write synthetic customers XML, purchases JSON, feedback CSV",
                       description="Deterministic for a seed; streams to disk in constant memory.")
    g.add_argument("--out", default="data/generated", help="output folder (default: data/generated)")
    g.add_argument("--validated", action="store_true",
                   help="also write validated/<dataset>/: the good files as the Lambda leaves them (UTF-8, no BOM)")
    g.add_argument("--seed", type=int, help=f"random seed (default {d.seed})")
    g.add_argument("--customers", type=int, help=f"source customer records (default {d.customers})")
    g.add_argument("--purchases", type=int, help=f"distinct purchases (default {d.purchases})")
    g.add_argument("--feedback", type=int, help=f"distinct feedback rows (default {d.feedback})")
    g.add_argument("--files", type=int, help=f"base files per dataset (default {d.files})")
    g.add_argument("--duplicate-person-rate", type=float,
                   help=f"share of persons with more than one source id (default {d.duplicate_person_rate})")
    g.add_argument("--defect-rate", type=float, help=f"share of records with a DQ defect (default {d.defect_rate})")
    g.add_argument("--exact-duplicate-rate", type=float,
                   help=f"share of records repeated verbatim (default {d.exact_duplicate_rate})")
    g.add_argument("--update-rate", type=float,
                   help=f"share of customers re-sent as a newer version (default {d.update_rate})")
    g.add_argument("--bad-files", type=int, help=f"whole invalid files per dataset (default {d.bad_files})")
    g.add_argument("--identity-noise", choices=("light", "realistic"),
                   help="how a duplicated person's other records differ: light (e-mail case, phone format, one "
                        "typo: the e-mail or phone still links them) or realistic (keyboard typos, nicknames, swapped "
                        "names and dates, missing fields, half with a new e-mail and no phone) "
                        f"(default {d.identity_noise})")
    g.add_argument("--as-of", help=f"last business date in the data (default {d.as_of})")
    g.add_argument("--force", action="store_true", help="replace data generated earlier in --out")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    g.set_defaults(func=_cmd_generate)

    val = sub.add_parser("validate", help="validate a local file with the Lambda's own validator (JSON verdict)",
                         description="Exit 0: valid, 1: invalid, 2: unusable input; anything else is a crash.")
    val.add_argument("file")
    val.add_argument("--dataset", help="customer_details, purchases or feedback (default: the file's folder name)")
    val.set_defaults(func=_cmd_validate)

    sen = sub.add_parser("sentiment", help="label<TAB>score for each line of stdin (the Glue job's function)",
                         description="positive / neutral / negative and the polarity score, one line per input line.")
    sen.add_argument("--analyzer", default="textblob", help="textblob (default) or vader")
    sen.set_defaults(func=_cmd_sentiment)

    rep = sub.add_parser("reprocess", help="put a refused error/ file (or a corrected one) back through raw/")
    rep.add_argument("key", help="error/<dataset>/<name>.<version>.<ext> (or its s3:// URL)")
    rep.add_argument("--file", help="a corrected local file to upload instead of the refused one")
    rep.add_argument("--bucket", help="the data lake bucket (default: from 00_provision's outputs)")
    rep.add_argument("--env", default="c360-dev", help="the env 00_provision used (to find its outputs)")
    rep.set_defaults(func=_cmd_reprocess)
    rec = sub.add_parser("reconcile", help="re-send raw/'s S3 events and start the job for PENDING files")
    rec.add_argument("--env", default="c360-dev", help="the env 00_provision used")
    rec.add_argument("--wait", type=float, default=1800,
                     help="seconds to wait for an active run to end before starting one for PENDING files")
    rec.set_defaults(func=_cmd_reconcile)

    fr = sub.add_parser("full-refresh", help="recompute everything from validated/ with the deployed job (after a "
                                             "rule change, for a backfill)")
    fr.add_argument("--env", default="c360-dev", help="the env 00_provision used")
    fr.add_argument("--wait", type=float, default=1800, help="seconds to wait for an active run to end first")
    fr.add_argument("--timeout", type=float, default=7200, help="seconds to follow the run")
    fr.set_defaults(func=_cmd_full_refresh)

    e = sub.add_parser("export", help="write the marked notebook cells to lambda/ and exported_jobs/")
    e.add_argument("--check", action="store_true", help="fail if re-exporting would change a file")
    e.set_defaults(func=_cmd_export)

    dash = sub.add_parser("dashboard", help="write the four dashboards as one static HTML page; prints its path")
    dash.add_argument("--out", help="the page to write (default: <project>/data/dashboard/customer360.html)")
    dash.add_argument("--env", default="c360-dev", help="the env 00_provision used (to find the database secret)")
    dash.add_argument("--secret-id", help="the database secret (default: 00_provision's)")
    dash.add_argument("--profiles", type=int, default=200, help="customer profiles embedded for the search (top by "
                                                                 "spend; default 200)")
    dash.set_defaults(func=_cmd_dashboard)

    ident = sub.add_parser("identity", help="probabilistic identity matching").add_subparsers(dest="what",
                                                                                               required=True)
    rev = ident.add_parser("review", help="the pairs scored between --review_threshold and --match_threshold: "
                                          "list them, or accept or reject them (the job's next run applies it)",
                           description="Without --list, --json, --accept or --reject, and on a terminal: one pair "
                                       "at a time, asking accept, reject or skip.")
    what = rev.add_mutually_exclusive_group()
    what.add_argument("--list", action="store_true", help="list the queue and ask nothing")
    what.add_argument("--json", action="store_true", help="the queue as JSON")
    what.add_argument("--accept", nargs=2, metavar=("A", "B"), help="source customer ids A and B are one person")
    what.add_argument("--reject", nargs=2, metavar=("A", "B"), help="A and B are two people: never link them")
    rev.add_argument("--limit", type=int, help="at most this many pairs, likeliest first")
    rev.add_argument("--reviewer", help="who decides (default: the login name)")
    rev.add_argument("--env", default="c360-dev", help="the env 00_provision used")
    rev.add_argument("--secret-id", help="the database secret (default: 00_provision's)")
    rev.add_argument("--bucket", help="the data lake bucket (default: from 00_provision's outputs)")
    rev.set_defaults(func=_cmd_identity_review)

    sub.add_parser("doctor", help="check Java, Spark's Python and the kernel").set_defaults(func=_cmd_doctor)
    sub.add_parser("setup-kernel", help="install the local Glue session magics").set_defaults(func=_cmd_setup_kernel)
    sub.add_parser("config", help="print the resolved settings as JSON").set_defaults(func=_cmd_config)

    loc = sub.add_parser("local", help="the local AWS stack (emulator, PostgreSQL, mailbox)")
    loc.add_argument("action", choices=("up", "down", "status", "reset", "clock"))
    loc.add_argument("--json", action="store_true", help="machine-readable status")
    loc.add_argument("--clock-speed", type=float, help="with up or clock: AWS seconds per real second (tests use 60+)")
    loc.set_defaults(func=_cmd_local)

    lab = sub.add_parser("lab", help="JupyterLab on the notebooks; prints the URL with its token and the kernel to use")
    lab.add_argument("--ip", default="127.0.0.1", help="address to listen on (0.0.0.0 in a container whose port is "
                                                       "published; the token still guards it)")
    lab.add_argument("--port", type=int, default=8888, help="port (another free one if it is taken)")
    lab.add_argument("--no-browser", action="store_true", help="never open a browser (the default as root or with "
                                                                "no display)")
    lab.add_argument("--timeout", type=float, default=120, help="seconds to wait for the server to answer")
    lab.set_defaults(func=_cmd_lab)
    return parser


def _cmd_lab(args: argparse.Namespace) -> int:
    from c360 import lab

    notebooks = config.project_root() / "notebooks"
    try:
        return lab.run(notebooks, ip=args.ip, port=args.port, browser=False if args.no_browser else None,
                       timeout=args.timeout)
    except (RuntimeError, TimeoutError, OSError) as e:
        print(f"c360 lab: {e}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
