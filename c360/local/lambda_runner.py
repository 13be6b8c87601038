"""Lambda extension: an invoke runs the function's real code, not a Docker container moto cannot start.

What it does
- `Invoke` (RequestResponse) runs the handler from the function's deployment zip in a child process
  (`lambda_bootstrap`), with the function's environment variables, handler and timeout, and the emulator's
  endpoint in `AWS_ENDPOINT_URL`; the result or Lambda's error shape comes back as the payload, an error
  sets `X-Amz-Function-Error: Unhandled`.
- `Invoke` with `InvocationType=Event`, S3 object-created notifications and SNS deliveries are
  asynchronous: queued, retried twice on error (delays 60 s then 120 s of emulator time, `MaximumRetryAttempts`
  of the function's event-invoke config honoured), then sent to the on-failure destination (SQS or SNS) or the
  dead-letter queue (`DeadLetterConfig`), in AWS's record shapes.
- Output goes to CloudWatch Logs `/aws/lambda/<name>` (START / END / REPORT lines as on AWS); the
  `Invocations`, `Errors` and `Duration` metrics go to CloudWatch (namespace AWS/Lambda, dimension FunctionName).

How it differs from AWS
- The code runs on the workbench's Python (3.11+) with its installed packages, not the 3.12 runtime image; the
  zip's vendored packages only fill in what is not installed. No memory limit, no concurrency limit, no
  layers, no container reuse: every invocation is a fresh process (a cold start each time, about 0.7 s).
- Event age limits and on-success destinations are not implemented.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from c360.local.emulator_context import ACCOUNT_ID, EmulatorContext

RETRY_DELAYS = (60, 120)  # seconds between async attempts, as AWS documents for asynchronous invocation


@dataclass
class Invocation:
    ok: bool
    payload: str
    request_id: str
    duration_ms: float
    log_lines: list[str]


class LambdaRunner:
    def __init__(self, ctx: EmulatorContext):
        self.ctx = ctx
        self._unpack_lock = threading.Lock()

    # ------------------------------------------------------------------ running code
    def code_dir(self, fn) -> Path:
        digest = hashlib.sha256(fn.code_bytes).hexdigest()[:16]
        target = self.ctx.state_dir / "lambda" / fn.function_name / digest
        with self._unpack_lock:
            if not target.is_dir():
                tmp = Path(tempfile.mkdtemp(dir=self.ctx.path("lambda", fn.function_name)))
                with zipfile.ZipFile(io.BytesIO(fn.code_bytes)) as z:
                    z.extractall(tmp)
                tmp.rename(target)
        return target

    def run(self, fn, event: Any) -> Invocation:
        request_id = str(uuid.uuid4())
        stream = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        group = f"/aws/lambda/{fn.function_name}"
        env = self.ctx.child_env()
        env.update({
            "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(getattr(fn, "memory_size", 128) or 128),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(fn.timeout),
            "AWS_LAMBDA_LOG_GROUP_NAME": group,
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}",
            "_HANDLER": fn.handler or "",
            "C360_REQUEST_ID": request_id,
            "C360_FUNCTION_ARN": fn.function_arn,
            "PYTHONUNBUFFERED": "1",
        })
        env.update({k: str(v) for k, v in (fn.environment_vars or {}).items()})
        try:
            creds = self.role_credentials(fn)
        except PermissionError as e:  # no function code runs without its role
            payload = json.dumps({"errorMessage": str(e), "errorType": "Runtime.InvalidRole"})
            return Invocation(False, payload, request_id, 0.0, [str(e)])
        if creds:
            env.update(creds)
        code = self.code_dir(fn)
        with tempfile.TemporaryDirectory() as tmp:
            result_file = Path(tmp) / "result.json"
            start = time.perf_counter()
            try:
                proc = subprocess.run(
                    [sys.executable, "-P", "-m", "c360.local.lambda_bootstrap", str(code), fn.handler or "",
                     str(result_file)],
                    input=json.dumps(event) if not isinstance(event, str) else event, text=True,
                    capture_output=True, cwd=code, env=env, timeout=float(fn.timeout))
                output = (proc.stdout + proc.stderr).splitlines()
                if result_file.is_file():
                    result = json.loads(result_file.read_text())
                    ok, payload = result["ok"], result["payload"]
                else:  # the process died before writing a result (killed, out of memory, import crash)
                    ok = False
                    payload = json.dumps({"errorMessage": f"Runtime exited with error: exit status {proc.returncode}",
                                          "errorType": "Runtime.ExitError"})
            except subprocess.TimeoutExpired as e:
                output = _text(e.stdout).splitlines() + _text(e.stderr).splitlines()
                ok = False
                stamp = f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%S.%fZ}"
                message = f"{stamp} {request_id} Task timed out after {float(fn.timeout):.2f} seconds"
                payload = json.dumps({"errorMessage": message, "errorType": "Sandbox.Timedout"})
            duration = (time.perf_counter() - start) * 1000
        lines = [f"START RequestId: {request_id} Version: $LATEST", *output,
                 f"END RequestId: {request_id}",
                 f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\t"
                 f"Billed Duration: {int(duration) + 1} ms\tMemory Size: {getattr(fn, 'memory_size', 128)} MB"]
        self.ctx.put_logs(group, stream, lines, creds)
        self._metrics(fn.function_name, ok, duration)
        return Invocation(ok, payload, request_id, duration, lines)

    def role_credentials(self, fn) -> dict[str, str] | None:
        """The function's execution role's temporary credentials (None when IAM is not enforced)."""
        if self.ctx.sessions is None:
            return None
        return self.ctx.sessions.credentials(fn.role, "lambda.amazonaws.com", fn.function_name)

    def _metrics(self, name: str, ok: bool, duration_ms: float) -> None:
        from moto.cloudwatch import cloudwatch_backends

        dims = [{"Name": "FunctionName", "Value": name}]
        cloudwatch_backends[ACCOUNT_ID][self.ctx.region].put_metric_data("AWS/Lambda", [
            {"MetricName": "Invocations", "Value": 1.0, "Unit": "Count", "Dimensions": dims},
            {"MetricName": "Errors", "Value": 0.0 if ok else 1.0, "Unit": "Count", "Dimensions": dims},
            {"MetricName": "Duration", "Value": duration_ms, "Unit": "Milliseconds", "Dimensions": dims},
        ])

    # ------------------------------------------------------------------ asynchronous invocation
    def invoke_async(self, fn, event: Any) -> str:
        request_id = str(uuid.uuid4())
        self.ctx.executor.submit(self._async, fn, event, request_id)
        return request_id

    def _async(self, fn, event: Any, request_id: str, attempt: int = 0) -> None:
        if self.ctx.stopping.is_set():
            return
        config = fn.event_invoke_config[0].config if fn.event_invoke_config else {}
        attempts = 1 + int(config.get("MaximumRetryAttempts", 2))
        try:
            result = self.run(fn, event)
        except Exception as e:  # the emulator's own failure: report it like a runtime error
            result = Invocation(False, json.dumps({"errorMessage": str(e), "errorType": "EmulatorError"}),
                                request_id, 0.0, [])
        if result.ok:
            return
        if attempt + 1 < attempts:
            # The retry waits on a timer, not in the pool: a sleeping retry must not hold back other invocations
            # (with 4 workers asleep, failures stopped counting and the lambda-errors alarm could not fire).
            delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)] / self.ctx.clock_speed
            timer = threading.Timer(delay, self.ctx.executor.submit, (self._async, fn, event, request_id, attempt + 1))
            timer.daemon = True
            timer.start()
            return
        self._on_failure(fn, event, result, attempts, config)

    def _on_failure(self, fn, event: Any, result: Invocation, attempts: int, config: dict) -> None:
        destination = config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        if destination:
            record = {
                "version": "1.0",
                "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z",
                "requestContext": {"requestId": result.request_id, "functionArn": f"{fn.function_arn}:$LATEST",
                                   "condition": "RetriesExhausted", "approximateInvokeCount": attempts},
                "requestPayload": event if not isinstance(event, str) else json.loads(event),
                "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
                "responsePayload": json.loads(result.payload),
            }
            self._deliver(fn, destination, json.dumps(record))
        dlq = getattr(fn, "c360_dead_letter_arn", None)
        if dlq:
            error = json.loads(result.payload)
            self._deliver(fn, dlq, event if isinstance(event, str) else json.dumps(event), attributes={
                "RequestID": result.request_id, "ErrorCode": "200",
                "ErrorMessage": str(error.get("errorMessage", ""))[:1024]})


    def _deliver(self, fn, arn: str, body: str, attributes: dict[str, str] | None = None) -> None:
        """A failed event to its destination, sent with the function's role as Lambda sends it (sqs:SendMessage,
        sns:Publish): a role without the permission loses it, as on AWS, and the emulator's log says so."""
        try:
            creds = self.role_credentials(fn)
        except PermissionError as e:
            print(f"{fn.function_name}: failed event not delivered to {arn}: {e}", flush=True)
            return
        if creds is None:
            _deliver(arn, body, self.ctx.region, attributes)
            return
        from botocore.exceptions import ClientError

        from c360.local import iam

        service = arn.split(":")[2]
        try:
            if service == "sqs":
                account, name = arn.split(":")[4:6]  # by its ARN, as Lambda sends: no sqs:GetQueueUrl needed
                iam.role_client(self.ctx, "sqs", creds).send_message(
                    QueueUrl=f"{self.ctx.endpoint}/{account}/{name}", MessageBody=body, MessageAttributes={
                    k: {"DataType": "String", "StringValue": v} for k, v in (attributes or {}).items()})
            elif service == "sns":
                iam.role_client(self.ctx, "sns", creds).publish(TopicArn=arn, Message=body)
            else:
                raise ValueError(f"unsupported failure destination {arn}")
        except ClientError as e:
            print(f"{fn.function_name}: failed event not delivered to {arn}: {e}", flush=True)


def _deliver(arn: str, body: str, region: str, attributes: dict[str, str] | None = None) -> None:
    """Send a message to an SQS queue or SNS topic ARN inside the emulator."""
    parts = arn.split(":")
    service, arn_region, name = parts[2], parts[3] or region, parts[5]
    if service == "sqs":
        from moto.sqs import sqs_backends

        attrs = {k: {"DataType": "String", "StringValue": v} for k, v in (attributes or {}).items()}
        sqs_backends[ACCOUNT_ID][arn_region].send_message(name, body, message_attributes=attrs)
    elif service == "sns":
        from moto.sns import sns_backends

        sns_backends[ACCOUNT_ID][arn_region].publish(body, arn=arn)
    else:
        raise ValueError(f"unsupported failure destination {arn}")



def _text(value) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def install(ctx: EmulatorContext) -> LambdaRunner:
    """Route moto's Lambda invocations (API, S3 notifications, SNS) through the runner."""
    from moto.awslambda import models as lambda_models
    from moto.s3 import notifications

    runner = LambdaRunner(ctx)
    Function = lambda_models.LambdaFunction
    original_init = Function.__init__
    original_update = Function.update_configuration
    original_config = Function.get_configuration

    def __init__(self, account_id, spec, region, version=1):
        original_init(self, account_id, spec, region, version)
        self.c360_dead_letter_arn = (spec.get("DeadLetterConfig") or {}).get("TargetArn")

    def update_configuration(self, config_updates):
        if "DeadLetterConfig" in config_updates:
            self.c360_dead_letter_arn = (config_updates["DeadLetterConfig"] or {}).get("TargetArn")
        return original_update(self, config_updates)

    def get_configuration(self, *args, **kwargs):
        conf = original_config(self, *args, **kwargs)
        if getattr(self, "c360_dead_letter_arn", None):
            conf["DeadLetterConfig"] = {"TargetArn": self.c360_dead_letter_arn}
        return conf

    def invoke(self, body, request_headers, response_headers):
        event = json.loads(body) if body else {}
        if request_headers.get("x-amz-invocation-type", "RequestResponse") == "Event":
            response_headers["x-amzn-RequestId"] = runner.invoke_async(self, event)
            return b""
        result = runner.run(self, event)
        if not result.ok:
            response_headers["x-amz-function-error"] = "Unhandled"
        if request_headers.get("x-amz-log-type") == "Tail":
            tail = "\n".join(result.log_lines).encode()[-4096:]
            response_headers["x-amz-log-result"] = base64.b64encode(tail).decode()
        response_headers["x-amzn-RequestId"] = result.request_id
        return result.payload.encode()

    def s3_invoke(account_id, event_body, fn_arn, region_name):
        from moto.awslambda.utils import get_backend

        try:
            fn = get_backend(account_id, region_name).get_function(fn_arn)
        except Exception:  # a notification to a deleted function is dropped, as on AWS
            return
        low, high = runner.ctx.s3_event_copies
        if high <= 1 and not runner.ctx.s3_event_max_delay_s:
            runner.invoke_async(fn, event_body)
            return
        for _ in range(random.randint(low, high)):  # injected: at-least-once, out of order (server.FAULTS_PATH)
            timer = threading.Timer(random.uniform(0, runner.ctx.s3_event_max_delay_s), runner.invoke_async,
                                    (fn, event_body))
            timer.daemon = True
            timer.start()

    def send_sns_message(self, function_name, message, subject=None, qualifier=None):
        fn = self._lambdas.get_function_by_name_or_arn_with_qualifier(function_name, qualifier)
        runner.invoke_async(fn, _sns_event(message, subject))

    Function.__init__ = __init__
    Function.update_configuration = update_configuration
    Function.get_configuration = get_configuration
    Function.invoke = invoke
    notifications._invoke_awslambda = s3_invoke
    lambda_models.LambdaBackend.send_sns_message = send_sns_message
    return runner


def _sns_event(message: str, subject: str | None, topic_arn: str = "") -> dict:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"
    return {"Records": [{
        "EventVersion": "1.0", "EventSource": "aws:sns", "EventSubscriptionArn": f"{topic_arn}:local",
        "Sns": {"Type": "Notification", "MessageId": str(uuid.uuid4()), "TopicArn": topic_arn,
                "Subject": subject, "Message": message, "Timestamp": now, "MessageAttributes": {}},
    }]}


