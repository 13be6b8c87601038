"""What every emulator extension shares: where state lives, the endpoint children use, the clock."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from c360 import aws, config

ACCOUNT_ID = "123456789012"  # moto's default account
ASYNC_WORKERS = 8


@dataclass
class EmulatorContext:
    state_dir: Path
    port: int
    region: str = config.DEFAULT_REGION
    # 60 means a minute of AWS time (retry delays, alarm periods) passes in one second here.
    clock_speed: float = 1.0
    # Fault injection for the reliability tests (POST /_c360/faults): S3 notifications delivered `copies` times
    # (a [min, max] range), each copy after a random delay of up to `max_delay_s` real seconds, so copies and
    # events of different objects arrive out of order. S3 promises at-least-once delivery, not order.
    s3_event_copies: tuple[int, int] = (1, 1)
    s3_event_max_delay_s: float = 0.0
    # Asynchronous Lambda invocations run here, ASYNC_WORKERS at a time (AWS runs up to 1,000: each one here is a
    # Python process on a 2-core machine, so more would only queue on the CPU).
    executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(ASYNC_WORKERS, thread_name_prefix="c360-async"))
    stopping: threading.Event = field(default_factory=threading.Event)
    frozen: threading.Event = field(default_factory=threading.Event)  # stopping: only the snapshot is served
    stop_requested: threading.Event = field(default_factory=threading.Event)  # SIGTERM or POST /_c360/stop
    in_flight: int = 0  # API requests being served (the freeze waits for them)
    in_flight_lock: threading.Lock = field(default_factory=threading.Lock)
    sessions: object = None  # iam.Sessions: the roles' credentials for the runners (None: IAM not enforced)

    @property
    def endpoint(self) -> str:
        return f"http://{config.LOCAL_HOST}:{self.port}"

    def settings(self) -> config.Settings:
        return config.Settings(config.LOCAL, self.region, None, self.endpoint, self.state_dir)

    def child_env(self) -> dict[str, str]:
        """A clean environment for code the emulator runs (Lambda functions, Glue scripts)."""
        keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "JAVA_HOME", "PYSPARK_PYTHON", "SPARK_LOCAL_IP", "TZ")
        env = {k: os.environ[k] for k in keep if k in os.environ}
        env.update(aws.subprocess_env(self.settings()))
        return env

    def sleep(self, aws_seconds: float) -> bool:
        """Sleep for an AWS-time duration; False if the emulator is stopping."""
        return not self.stopping.wait(aws_seconds / self.clock_speed)

    def now(self) -> float:
        return time.time()

    def put_logs(self, group: str, stream: str, lines: list[str], creds: dict[str, str] | None = None) -> bool:
        """Write lines to CloudWatch Logs inside the emulator, creating the group and stream as needed. With a
        role's `creds` (iam.Sessions) they are written through the API as that role, as Lambda and Glue write a
        function's or job's logs: a role without logs:CreateLogStream / logs:PutLogEvents on the group loses them,
        as on AWS (the denial is in the emulator's IAM log). False when they were lost."""
        lines = [line for line in lines if line]
        if creds is not None:
            return _put_logs_as(self, creds, group, stream, lines)
        from moto.logs import logs_backends

        backend = logs_backends[ACCOUNT_ID][self.region]
        if group not in backend.groups:
            backend.create_log_group(group, tags={})
        if stream not in backend.groups[group].streams:
            backend.create_log_stream(group, stream)
        now = int(time.time() * 1000)
        for i in range(0, len(lines), 5000):  # PutLogEvents takes at most 10,000 events
            backend.put_log_events(group, stream, [{"timestamp": now, "message": ln} for ln in lines[i:i + 5000]])
        return True

    def path(self, *parts: str) -> Path:
        p = self.state_dir.joinpath(*parts)
        p.mkdir(parents=True, exist_ok=True)
        return p


def _put_logs_as(ctx: EmulatorContext, creds: dict[str, str], group: str, stream: str, lines: list[str]) -> bool:
    from botocore.exceptions import ClientError

    from c360.local import iam

    logs = iam.role_client(ctx, "logs", creds)
    now = int(time.time() * 1000)
    try:
        try:
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
        except ClientError as e:
            code = e.response["Error"]["Code"]
            if code == "ResourceNotFoundException":  # no group yet: the service creates it, with the role's rights
                try:
                    logs.create_log_group(logGroupName=group)
                except ClientError as again:  # another invocation created it meanwhile
                    if again.response["Error"]["Code"] != "ResourceAlreadyExistsException":
                        raise
                logs.create_log_stream(logGroupName=group, logStreamName=stream)
            elif code != "ResourceAlreadyExistsException":
                raise
        for i in range(0, len(lines), 5000):
            logs.put_log_events(logGroupName=group, logStreamName=stream,
                                logEvents=[{"timestamp": now, "message": ln} for ln in lines[i:i + 5000]])
        return True
    except ClientError as e:
        print(f"logs for {group}/{stream} lost: {e}", flush=True)
        return False
