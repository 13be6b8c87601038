"""Benchmark: one tick of the local alarm evaluator (c360/local/alarms.py) as the stack's metrics pile up.

moto in-process; 6 queues' two depth metrics (what the emulator publishes every AWS minute) and 8 alarms. For each
datapoint count: the seconds of `AlarmEvaluator.evaluate_all` (the index: only new datapoints are read, each alarm
reads its own window), beside the yardstick: every datapoint filtered for every alarm, what a tick cost before the
index (a whole core from about 8,000 datapoints at the tests' 600x clock, where a tick comes every 17 ms).

Run: `python bench/alarm_tick_bench.py` (seconds). Not a test.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")  # pragma: allowlist secret


def main() -> None:
    from moto import mock_aws

    from c360 import aws

    with mock_aws():
        from moto.cloudwatch import cloudwatch_backends

        from c360.local.alarms import AlarmEvaluator, _aware
        from c360.local.emulator_context import ACCOUNT_ID

        class Ctx:
            region, clock_speed = "us-east-1", 600.0

        cw = aws.client("cloudwatch", endpoint_url=None, region_name="us-east-1")  # moto in-process
        queues = [f"q{i}" for i in range(6)]
        for q in queues[:4]:
            cw.put_metric_alarm(AlarmName=f"depth-{q}", Namespace="AWS/SQS",
                                MetricName="ApproximateNumberOfMessagesVisible", Dimensions=[
                                    {"Name": "QueueName", "Value": q}], Statistic="Maximum", Period=60,
                                EvaluationPeriods=1, Threshold=0, ComparisonOperator="GreaterThanThreshold",
                                TreatMissingData="notBreaching")
        for i in range(4):
            cw.put_metric_alarm(AlarmName=f"custom-{i}", Namespace="Customer360", MetricName=f"M{i}",
                                Statistic="Sum", Period=60, EvaluationPeriods=2, Threshold=5,
                                ComparisonOperator="GreaterThanThreshold")
        backend = cloudwatch_backends[ACCOUNT_ID]["us-east-1"]
        evaluator, now, put = AlarmEvaluator(Ctx()), datetime.now(UTC), 0
        for total in (12_000, 48_000, 120_000):
            while put < total:
                ts = now - timedelta(seconds=(total - put) * 0.01)
                backend.put_metric_data("AWS/SQS", [{"MetricName": m, "Value": 0.0, "Unit": "Count", "Timestamp": ts,
                                                     "Dimensions": [{"Name": "QueueName", "Value": q}]}
                                                    for q in queues for m in ("ApproximateNumberOfMessagesVisible",
                                                                              "ApproximateNumberOfMessagesNotVisible")])
                put += 12
            evaluator.evaluate_all()  # reads what arrived since the last tick
            t0 = time.perf_counter()
            for _ in range(20):
                evaluator.evaluate_all()
            tick = (time.perf_counter() - t0) / 20
            t0 = time.perf_counter()
            for alarm in backend.alarms.values():  # the yardstick: a full scan per alarm
                dims = {(d.name, d.value) for d in alarm.dimensions}
                [m for m in backend.get_all_metrics() if m.namespace == alarm.namespace and m.name ==
                 alarm.metric_name and {(d.name, d.value) for d in m.dimensions} == dims and _aware(m.timestamp)]
            scan = time.perf_counter() - t0
            print(f"{total:8,} datapoints: a tick {tick * 1000:7.2f} ms  (yardstick, a full scan per alarm: "
                  f"{scan * 1000:7.1f} ms)", flush=True)


if __name__ == "__main__":
    main()
