"""Runs one Lambda invocation in a child process, as the Lambda Python runtime would.

    python -P -m c360.local.lambda_bootstrap CODE_DIR MODULE.FUNCTION RESULT_FILE  < event.json

The function's code folder (its unpacked deployment zip) is put at the *end* of sys.path: locally the code
runs on the workbench's Python with its installed packages, and the zip's vendored wheels (built for the
AWS runtime, Python 3.12) only fill in what is not installed (docs/ARCHITECTURE.md "Two targets"). The result
(or the error, in Lambda's errorMessage/errorType/stackTrace shape) goes to RESULT_FILE; what the code
prints goes to stdout/stderr, which the emulator forwards to CloudWatch Logs.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback


class LambdaContext:
    def __init__(self, deadline: float):
        self._deadline = deadline
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = os.environ.get("C360_FUNCTION_ARN", "")
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.aws_request_id = os.environ.get("C360_REQUEST_ID", "")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def main() -> int:
    code_dir, handler, result_path = sys.argv[1:4]
    sys.path.append(code_dir)
    deadline = time.time() + float(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "3"))
    try:
        event = json.load(sys.stdin)
        module_name, _, func_name = handler.rpartition(".")
        if not module_name:
            raise ValueError(f"Bad handler {handler!r}: expected MODULE.FUNCTION")
        function = getattr(importlib.import_module(module_name.replace("/", ".")), func_name)
        payload, ok = json.dumps(function(event, LambdaContext(deadline))), True
    except Exception as e:  # what the Lambda runtime reports for an unhandled error
        traceback.print_exc()
        payload = json.dumps({"errorMessage": str(e), "errorType": type(e).__name__,
                              "requestId": os.environ.get("C360_REQUEST_ID", ""),
                              "stackTrace": traceback.format_tb(e.__traceback__)})
        ok = False
    sys.stdout.flush()
    with open(result_path, "w", encoding="utf-8") as f:
        json.dump({"ok": ok, "payload": payload}, f)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
