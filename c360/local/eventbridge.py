"""EventBridge extension: rules deliver to SNS topics and Lambda functions, not only SQS and log groups.

What it does: a matching event goes to each SNS target (published as the message, after the target's input
transformer or input path) and each Lambda target (invoked asynchronously, with retries, through the Lambda
extension). moto's own delivery handles the other target kinds (SQS, log groups, archives, buses).
How it differs from AWS: no retry policy or dead-letter queue on the target itself; delivery is immediate.
"""

from __future__ import annotations

import json
import threading

from c360.local.emulator_context import ACCOUNT_ID, EmulatorContext

OURS = ("sns", "lambda")
_swap = threading.Lock()


def _path(event: dict, path: str):
    value = event
    for part in path.lstrip("$").strip(".").split("."):
        if part:
            value = value.get(part) if isinstance(value, dict) else None
    return value


def transform(template: str, paths: dict[str, str], event: dict):
    """An InputTransformer's output, as EventBridge builds it: a value placed inside a JSON string is inserted
    escaped (quotes, backslashes and newlines in a Glue error message stay text), elsewhere as JSON; the result is
    parsed when it is JSON, else delivered as the text it is. (moto's parser pasted values raw, so an error message
    with a quote broke the template and the alert.)"""
    out, in_string, i = [], False, 0
    while i < len(template):
        ch = template[i]
        if ch == "<":
            end = template.find(">", i)
            name = template[i + 1:end] if end > 0 else ""
            if name in paths:
                value = _path(event, paths[name])
                if in_string:
                    text = value if isinstance(value, str) else json.dumps(value)
                    out.append(json.dumps(text)[1:-1])
                else:
                    out.append(json.dumps(value))
                i = end + 1
                continue
        if ch == '"' and (i == 0 or template[i - 1] != "\\"):
            in_string = not in_string
        out.append(ch)
        i += 1
    text = "".join(out)
    try:
        return json.loads(text)
    except ValueError:
        return text


def _payload(target: dict, event: dict):
    if "Input" in target:
        return json.loads(target["Input"]) if target["Input"].strip().startswith(("{", "[")) else target["Input"]
    if "InputPath" in target:
        return _path(event, target["InputPath"])
    transformer = target.get("InputTransformer")
    if not transformer:  # no input settings: the matched event itself
        return event
    return transform(transformer.get("InputTemplate", ""), transformer.get("InputPathsMap", {}), event)


def install(ctx: EmulatorContext, runner) -> None:
    from moto.events import models as events_models
    from moto.sns import sns_backends
    from moto.utilities.arns import parse_arn

    Rule = events_models.Rule
    original = Rule.send_to_targets

    def send_to_targets(self, original_event, transform_input=True):
        if not self.event_pattern.matches_event(original_event):
            return
        ours = [t for t in self.targets if parse_arn(t["Arn"]).service in OURS]
        for target in ours:
            arn = parse_arn(target["Arn"])
            payload = _payload(target, original_event) if transform_input else original_event
            text = payload if isinstance(payload, str) else json.dumps(payload)
            if arn.service == "sns":
                sns_backends[arn.account or ACCOUNT_ID][arn.region].publish(text, arn=target["Arn"])
            else:
                from moto.awslambda.utils import get_backend

                fn = get_backend(arn.account or ACCOUNT_ID, arn.region).get_function(target["Arn"])
                runner.invoke_async(fn, payload)
        others = [t for t in self.targets if t not in ours]
        if others:
            with _swap:  # moto's delivery walks self.targets: show it only the kinds it knows
                everything = self.targets
                self.targets = others
                try:
                    original(self, original_event, transform_input)
                finally:
                    self.targets = everything

    Rule.send_to_targets = send_to_targets
