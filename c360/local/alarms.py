"""CloudWatch extension: metric alarms are evaluated against the data put to them, and their actions fire.

What it does
- A background evaluator looks at every metric alarm each 10 s of emulator time, and after every
  PutMetricData: for each of the last `EvaluationPeriods` periods it computes the `Statistic` (SampleCount,
  Average, Sum, Minimum, Maximum) of the matching data points (namespace, metric name, exactly the alarm's
  dimensions), compares it to `Threshold` with `ComparisonOperator`, and goes to ALARM when at least
  `DatapointsToAlarm` (default: all) periods breach, OK when enough periods have data and fewer breach.
  `TreatMissingData`: `missing` (the default: with no data at all the state is INSUFFICIENT_DATA),
  `notBreaching`, `breaching`, `ignore` (keep the state).
- On every state change (the evaluator's or `SetAlarmState`'s) the alarm's `AlarmActions` / `OKActions` /
  `InsufficientDataActions` SNS topics get AWS's alarm message (JSON, subject `ALARM: "name" in <region>`).
- New alarms start in INSUFFICIENT_DATA, as on AWS.
- The emulator's clock speed compresses periods: at speed 60 a 60-second period lasts one real second.
- Like SQS on AWS, every minute (emulator time) each queue's `ApproximateNumberOfMessagesVisible` and
  `...NotVisible` go to the `AWS/SQS` namespace, so an alarm on a dead-letter queue's depth works.

How it differs from AWS: no metric-math or composite alarms (they stay as they are), no extended
(percentile) statistics, no anomaly detection, no alarm history API; evaluation happens every 10 s of
emulator time rather than each minute.
"""

from __future__ import annotations

import bisect
import json
import operator
import threading
from datetime import UTC, datetime, timedelta

from c360.local.emulator_context import ACCOUNT_ID, EmulatorContext

TICK_AWS_SECONDS = 10
COMPARE = {
    "GreaterThanThreshold": operator.gt,
    "GreaterThanOrEqualToThreshold": operator.ge,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}
REGION_NAMES = {"us-east-1": "US East (N. Virginia)", "us-east-2": "US East (Ohio)", "us-west-2": "US West (Oregon)",
                "eu-west-1": "EU (Ireland)", "eu-central-1": "EU (Frankfurt)"}


def _statistic(values: list[tuple], stat: str) -> float | None:
    """values: (sample_count, sum, min, max) per datum."""
    if not values:
        return None
    count = sum(v[0] for v in values)
    total = sum(v[1] for v in values)
    if stat == "SampleCount":
        return count
    if stat == "Sum":
        return total
    if stat == "Average":
        return total / count if count else None
    if stat == "Minimum":
        return min(v[2] for v in values)
    if stat == "Maximum":
        return max(v[3] for v in values)
    return None


def _datum(m) -> tuple | None:
    if hasattr(m, "value"):
        v = float(m.value)
        return (1.0, v, v, v)
    if hasattr(m, "sum"):
        return (float(m.sample_count), float(m.sum), float(m.min), float(m.max))
    return None


class AlarmEvaluator:
    def __init__(self, ctx: EmulatorContext):
        self.ctx = ctx
        self.lock = threading.RLock()  # the background tick and PutMetricData both evaluate
        self._index = _MetricIndex()

    def backend(self):
        from moto.cloudwatch import cloudwatch_backends

        return cloudwatch_backends[ACCOUNT_ID][self.ctx.region]

    def publish_queue_metrics(self) -> None:
        """What SQS publishes on AWS each minute: every queue's visible and in-flight message counts."""
        from moto.sqs import sqs_backends

        data = []
        for queue in list(sqs_backends[ACCOUNT_ID][self.ctx.region].queues.values()):
            dims = [{"Name": "QueueName", "Value": queue.name}]
            data += [{"MetricName": "ApproximateNumberOfMessagesVisible", "Value": float(
                        queue.approximate_number_of_messages), "Unit": "Count", "Dimensions": dims},
                     {"MetricName": "ApproximateNumberOfMessagesNotVisible", "Value": float(
                        queue.approximate_number_of_messages_not_visible), "Unit": "Count", "Dimensions": dims}]
        if data:
            self.backend().put_metric_data("AWS/SQS", data)

    def loop(self) -> None:
        ticks = 0
        while self.ctx.sleep(TICK_AWS_SECONDS):
            ticks += 1
            try:
                if ticks % (60 // TICK_AWS_SECONDS) == 1:
                    self.publish_queue_metrics()
                self.evaluate_all()
            except Exception as e:  # keep evaluating; say what went wrong
                print(f"alarm evaluation failed: {e!r}", flush=True)

    def evaluate_all(self, now: datetime | None = None) -> None:
        with self.lock:
            backend = self.backend()
            now = now or datetime.now(UTC)
            self._index.update(backend)
            for alarm in list(backend.alarms.values()):
                if alarm.metric_data_queries or not alarm.metric_name or alarm.rule:
                    continue  # metric math and composite alarms are not evaluated here
                matching = self._index.get(_metric_key(alarm.namespace, alarm.metric_name, alarm.dimensions))
                new_state, reason = self.evaluate(alarm, matching, now)
                if new_state and new_state != alarm.state_value:
                    self.transition(alarm, new_state, reason)

    def evaluate(self, alarm, matching: tuple[list, list], now: datetime) -> tuple[str | None, str]:
        """The alarm's state from `matching`, its metric's datapoints (namespace, name and dimensions equal) as
        (timestamps, datapoints) sorted by time."""
        times, points = matching
        period = timedelta(seconds=alarm.period / self.ctx.clock_speed)
        n = int(alarm.evaluation_periods)
        needed = int(alarm.datapoints_to_alarm or n)
        compare = COMPARE.get(alarm.comparison_operator)
        if compare is None:
            return None, ""
        results, shown = [], []
        for i in range(n):  # newest period first
            end = now - i * period
            start = end - period
            window = points[bisect.bisect_left(times, start.timestamp()):bisect.bisect_left(times, end.timestamp())]
            values = [d for m in window if (d := _datum(m))]
            value = _statistic(values, alarm.statistic)
            shown.append(value)
            results.append(None if value is None else compare(value, float(alarm.threshold)))
        treat = alarm.treat_missing_data or "missing"
        if all(r is None for r in results):
            if treat == "ignore":
                return None, ""
            if treat == "missing":
                return "INSUFFICIENT_DATA", "Insufficient Data: no datapoints were received for the evaluation periods."
        filled = [(treat == "breaching") if r is None and treat in ("breaching", "notBreaching") else r
                  for r in results]
        breaching = sum(1 for r in filled if r)
        present = [v for v in shown if v is not None]
        if breaching >= needed:
            return "ALARM", (f"Threshold Crossed: {breaching} out of the last {n} datapoints {present} were "
                             f"{_words(alarm.comparison_operator)} the threshold ({float(alarm.threshold)}).")
        return "OK", (f"Threshold Crossed: {breaching} out of the last {n} datapoints {present} breached; "
                      f"{needed} needed for ALARM.")

    def transition(self, alarm, new_state: str, reason: str) -> None:
        with self.lock:
            old = alarm.state_value
            alarm.update_state(reason, json.dumps({"version": "1.0", "evaluator": "c360-local"}), new_state)
            self.notify(alarm, old, new_state, reason)

    def notify(self, alarm, old: str, new: str, reason: str) -> None:
        if not alarm.actions_enabled:
            return
        actions = {"ALARM": alarm.alarm_actions, "OK": alarm.ok_actions,
                   "INSUFFICIENT_DATA": alarm.insufficient_data_actions}.get(new) or []
        message = {
            "AlarmName": alarm.name, "AlarmDescription": alarm.description, "AWSAccountId": ACCOUNT_ID,
            "AlarmConfigurationUpdatedTimestamp": _iso(alarm.configuration_updated_timestamp),
            "NewStateValue": new, "NewStateReason": reason,
            "StateChangeTime": _iso(alarm.state_updated_timestamp), "Region": REGION_NAMES.get(
                self.ctx.region, self.ctx.region), "AlarmArn": alarm.alarm_arn, "OldStateValue": old,
            "Trigger": {"MetricName": alarm.metric_name, "Namespace": alarm.namespace, "StatisticType": "Statistic",
                        "Statistic": (alarm.statistic or "").upper(), "Unit": alarm.unit,
                        "Dimensions": [{"value": d.value, "name": d.name} for d in alarm.dimensions],
                        "Period": alarm.period, "EvaluationPeriods": alarm.evaluation_periods,
                        "ComparisonOperator": alarm.comparison_operator, "Threshold": alarm.threshold,
                        "TreatMissingData": alarm.treat_missing_data or "missing"},
        }
        subject = f'{new}: "{alarm.name}" in {REGION_NAMES.get(self.ctx.region, self.ctx.region)}'[:100]
        from moto.sns import sns_backends

        for arn in actions:
            if arn.startswith("arn:aws:sns:"):
                sns_backends[arn.split(":")[4]][arn.split(":")[3]].publish(json.dumps(message), arn=arn,
                                                                           subject=subject)


class _MetricIndex:
    """Each metric's datapoints sorted by time, kept up to date from moto's append-only `metric_data`: a tick reads
    only the datapoints put since the last one, and an alarm only its own metric's window (bisect). Scanning every
    datapoint for every alarm at every tick (60 a second at the tests' 600x clock) grew with the stack's age: after
    an hour of a suite's metrics (queue depths each AWS minute) the evaluator held the emulator's GIL and every
    request waited (a Glue run's staging took 88 s instead of 8). moto's computed metrics (`aws_metric_data`, made
    anew on each read, a few) are grouped again at each tick."""

    def __init__(self):
        self.source: list | None = None  # moto's list (by identity) and how many of its items are indexed
        self.seen = 0
        self.metrics: dict[tuple, tuple[list, list]] = {}
        self.computed: dict[tuple, tuple[list, list]] = {}

    def update(self, backend) -> None:
        data = backend.metric_data
        if data is not self.source or len(data) < self.seen:  # a new or reset backend: index it again
            self.source, self.seen, self.metrics = data, 0, {}
        _add(self.metrics, data[self.seen:])
        self.seen = len(data)
        self.computed = {}
        _add(self.computed, backend.aws_metric_data)

    def get(self, key: tuple) -> tuple[list, list]:
        times, points = self.metrics.get(key, ([], []))
        if key in self.computed:
            extra_times, extra_points = self.computed[key]
            merged = sorted(zip(times + extra_times, points + extra_points, strict=True), key=lambda x: x[0])
            return [t for t, _ in merged], [m for _, m in merged]
        return times, points


def _add(index: dict[tuple, tuple[list, list]], data) -> None:
    for m in data:
        times, points = index.setdefault(_metric_key(m.namespace, m.name, m.dimensions), ([], []))
        t = _aware(m.timestamp).timestamp()
        at = bisect.bisect_right(times, t)  # the end, unless it was put with an earlier timestamp
        times.insert(at, t)
        points.insert(at, m)


def _metric_key(namespace: str, name: str, dimensions) -> tuple:
    return namespace, name, frozenset((d.name, d.value) for d in dimensions)


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def _iso(ts) -> str:
    return _aware(ts).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000" if isinstance(ts, datetime) else str(ts)


def _words(op: str) -> str:
    return {"GreaterThanThreshold": "greater than", "GreaterThanOrEqualToThreshold": "greater than or equal to",
            "LessThanThreshold": "less than", "LessThanOrEqualToThreshold": "less than or equal to"}.get(op, op)


def install(ctx: EmulatorContext) -> AlarmEvaluator:
    from moto.cloudwatch import models as cw_models

    evaluator = AlarmEvaluator(ctx)
    Alarm, Backend = cw_models.Alarm, cw_models.CloudWatchBackend
    original_init = Alarm.__init__
    original_set = Backend.set_alarm_state

    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.state_value = "INSUFFICIENT_DATA"
        self.state_reason = "Unchecked: Initial alarm creation"

    def set_alarm_state(self, alarm_name, reason, reason_data, state_value):
        alarm = self.alarms.get(alarm_name)
        old = alarm.state_value if alarm else None
        original_set(self, alarm_name, reason, reason_data, state_value)
        if alarm is not None and old != state_value:
            evaluator.notify(alarm, old, state_value, reason)

    original_put = Backend.put_metric_data

    def put_metric_data(self, namespace, metric_data):
        original_put(self, namespace, metric_data)
        try:  # evaluate at once too: with a sped-up clock a period can be shorter than the evaluator's tick
            evaluator.evaluate_all()
        except Exception as e:
            print(f"alarm evaluation failed: {e!r}", flush=True)

    Alarm.__init__ = __init__
    Backend.set_alarm_state = set_alarm_state
    Backend.put_metric_data = put_metric_data
    threading.Thread(target=evaluator.loop, name="c360-alarms", daemon=True).start()
    return evaluator
