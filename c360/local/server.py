"""The emulator process: moto's server with the workbench's extensions, on 127.0.0.1.

    python -m c360.local.server --port 4566 --state-dir .c360 [--clock-speed 60]

Started and stopped by `c360 local up | down` (c360/local/stack.py). It installs each extension (one module
each: s3_consistency, s3_events, lambda_runner, mailbox, eventbridge, glue_runner, alarms, rds), replays the last
snapshot (persistence), writes `<state>/emulator.json` when ready, and on SIGTERM writes a new snapshot before it exits.
`GET /_c360/status` answers with what runs.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

from c360.local import emulator_context, persistence, s3_consistency

STATUS_PATH = "/_c360/status"
CLOCK_PATH = "/_c360/clock"  # POST {"speed": N}: change the clock of a running emulator (tests slow it down)
# POST {"s3_event_copies": [2, 3], "s3_event_max_delay_s": 3}: deliver each S3 notification 2-3 times, shuffled;
# POST {} puts back exactly-once, in-order delivery (EmulatorContext)
FAULTS_PATH = "/_c360/faults"
IAM_CHECK_PATH = "/_c360/iam/check"  # POST {"session", "action", "resource", "prefix"}: Spark's S3 requests (iam_fs)
STOP_PATH = "/_c360/stop"  # POST: stop as on SIGTERM (stack.down asks this way first, then signals)
FROZEN_PASS = "HTTP_" + persistence.SNAPSHOT_HEADER.upper().replace("-", "_")


def _json_object(environ) -> dict:
    """The JSON object in a control request's body ({} when empty); ValueError for anything else."""
    size = int(environ.get("CONTENT_LENGTH") or 0)
    body = json.loads(environ["wsgi.input"].read(size) or b"{}")
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


def _status_app(app, info: dict, ctx=None, audit=None):
    def reply(start_response, status: str, payload: dict):
        body = json.dumps(payload).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    def wsgi(environ, start_response):
        path = environ.get("PATH_INFO")
        if path == STATUS_PATH:
            return reply(start_response, "200 OK", {**info, **({"iam": audit.summary()} if audit else {})})
        if path == STOP_PATH and ctx is not None and environ.get("REQUEST_METHOD") == "POST":
            ctx.stop_requested.set()  # the main thread freezes, snapshots and exits (main)
            return reply(start_response, "202 Accepted", {"stopping": True})
        if ctx is not None and ctx.frozen.is_set() and not environ.get(FROZEN_PASS):
            return reply(start_response, "503 Service Unavailable", {"error": "the emulator is stopping"})
        if ctx is not None:
            with ctx.in_flight_lock:
                ctx.in_flight += 1
            try:
                return serve(environ, start_response)
            finally:
                with ctx.in_flight_lock:
                    ctx.in_flight -= 1
        return serve(environ, start_response)

    def serve(environ, start_response):
        path = environ.get("PATH_INFO")
        if path == CLOCK_PATH and ctx is not None and environ.get("REQUEST_METHOD") == "POST":
            try:
                speed = float(_json_object(environ)["speed"])
                if not 0 < speed <= 100_000:
                    raise ValueError("speed must be > 0 and <= 100000")
            except (ValueError, KeyError, TypeError) as e:
                return reply(start_response, "400 Bad Request", {"error": f"{type(e).__name__}: {e}"})
            ctx.clock_speed = info["clock_speed"] = speed  # read live by retries, alarm periods, Glue timeouts
            return reply(start_response, "200 OK", {"clock_speed": speed})
        if path == IAM_CHECK_PATH and audit is not None and environ.get("REQUEST_METHOD") == "POST":
            from c360.local import iam

            try:
                return reply(start_response, "200 OK", iam.check_session(audit, _json_object(environ)))
            except (ValueError, KeyError, TypeError) as e:
                return reply(start_response, "400 Bad Request", {"error": f"{type(e).__name__}: {e}"})
        if path == FAULTS_PATH and ctx is not None and environ.get("REQUEST_METHOD") == "POST":
            try:
                faults = _json_object(environ)
                low, high = (int(n) for n in faults.get("s3_event_copies", (1, 1)))
                delay = float(faults.get("s3_event_max_delay_s", 0.0))
                if not (1 <= low <= high <= 10 and 0 <= delay <= 600):
                    raise ValueError("s3_event_copies must be 1 <= min <= max <= 10, s3_event_max_delay_s 0..600")
            except (ValueError, TypeError) as e:
                return reply(start_response, "400 Bad Request", {"error": f"{type(e).__name__}: {e}"})
            ctx.s3_event_copies, ctx.s3_event_max_delay_s = (low, high), delay
            info["faults"] = {"s3_event_copies": [low, high], "s3_event_max_delay_s": delay}
            return reply(start_response, "200 OK", info["faults"])
        return app(environ, start_response)

    return wsgi


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="c360.local.server")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--clock-speed", type=float, default=float(os.environ.get("C360_CLOCK_SPEED", "1")))
    args = ap.parse_args(argv)

    state = Path(args.state_dir).resolve()
    state.mkdir(parents=True, exist_ok=True)
    ctx = emulator_context.EmulatorContext(state_dir=state, port=args.port, region=args.region,
                                           clock_speed=args.clock_speed)
    ready_file = state / "emulator.json"
    ready_file.unlink(missing_ok=True)

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    from c360.local import alarms, eventbridge, glue_runner, iam, lambda_runner, mailbox, quicksight, rds, s3_events

    audit, sessions = iam.install(ctx)  # before the rest: they act through it
    ctx.sessions = sessions
    s3_consistency.install(ctx)
    s3_events.install(ctx)
    runner = lambda_runner.install(ctx)
    box = mailbox.install(ctx)
    eventbridge.install(ctx, runner)
    glue = glue_runner.install(ctx)
    alarms.install(ctx)
    servers = rds.install(ctx)
    quicksight.install(ctx)

    info = {"pid": os.getpid(), "endpoint": ctx.endpoint, "port": args.port, "state_dir": str(state),
            "region": args.region, "clock_speed": args.clock_speed, "mailbox": str(box.root),
            "extensions": ["s3-consistency", "s3-events", "lambda", "sns-email", "eventbridge", "glue",
                           "cloudwatch-alarms", "rds-postgres", "quicksight", "persistence"],
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if audit is not None:
        info["extensions"].append("iam")
    app = _status_app(DomainDispatcherApplication(create_backend_app), info, ctx, audit)
    server = make_server("127.0.0.1", args.port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="c360-emulator", daemon=True)
    thread.start()

    restored = persistence.restore(ctx)
    try:
        restored["db_instances"] = rds.restore(ctx)
    except Exception as e:  # the rest of the stack is still useful; say why the database is not
        print(f"could not restart the local PostgreSQL servers: {e!r}", flush=True)
        restored["db_instances_error"] = str(e)
    info["restored"] = restored
    ready_file.write_text(json.dumps(info, indent=2))
    print(f"emulator ready on {ctx.endpoint} (pid {os.getpid()}), restored {restored}", flush=True)

    stop = ctx.stop_requested
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(0.5):  # a timed wait: a busy emulator once sat through SIGTERM for a minute
        pass
    # Freeze: from now on only the snapshot's own requests are served, and no retry or new attempt starts. A
    # Lambda or Glue run still going fails at its next request, as in a crash at this moment; the snapshot is
    # then one consistent moment of S3 and the ledger (not S3 before a move and the ledger after it).
    ctx.frozen.set()
    ctx.stopping.set()
    deadline = time.monotonic() + 10
    while ctx.in_flight and time.monotonic() < deadline:  # requests already inside finish first
        time.sleep(0.05)
    print("stopping: writing snapshot", flush=True)
    try:
        saved = persistence.snapshot(ctx)
        print(f"snapshot written: {saved}", flush=True)
    except Exception as e:  # never lose the chance to shut down cleanly; say what was not saved
        print(f"snapshot FAILED: {e!r}", flush=True)
    rds.stop_all(servers)
    glue.close()  # the warm Spark drivers
    ready_file.unlink(missing_ok=True)
    # No server.shutdown(): it would join request threads that clients keep alive. Asynchronous work still
    # in flight (a Lambda retry, a Glue run) is abandoned as on a crash; the launcher then ends this
    # process group, children included.
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
