"""The local alarm evaluator's index of datapoints (c360/local/alarms.py): each metric's datapoints in time order,
read incrementally from moto's append-only list, so a tick's cost does not grow with the stack's age."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from c360.local.alarms import _metric_key, _MetricIndex

T0 = datetime(2026, 7, 1, tzinfo=UTC)


def _datum(name: str, seconds: float, queue: str = "q") -> SimpleNamespace:
    return SimpleNamespace(namespace="AWS/SQS", name=name, timestamp=T0 + timedelta(seconds=seconds),
                           dimensions=[SimpleNamespace(name="QueueName", value=queue)])


def _key(name: str, queue: str = "q") -> tuple:
    return _metric_key("AWS/SQS", name, [SimpleNamespace(name="QueueName", value=queue)])


def test_datapoints_are_indexed_by_metric_in_time_order_as_they_arrive():
    backend = SimpleNamespace(metric_data=[_datum("Visible", 10), _datum("Visible", 30), _datum("Visible", 5, "other")],
                              aws_metric_data=[])
    index = _MetricIndex()
    index.update(backend)
    assert index.get(_key("Visible"))[0] == [(T0 + timedelta(seconds=s)).timestamp() for s in (10, 30)]
    backend.metric_data.append(_datum("Visible", 20))  # put later with an earlier timestamp
    backend.metric_data.append(_datum("Visible", 40))
    index.update(backend)
    times, points = index.get(_key("Visible"))
    assert [p.timestamp for p in points] == [T0 + timedelta(seconds=s) for s in (10, 20, 30, 40)]
    assert times == sorted(times) and len(index.get(_key("Visible", "other"))[1]) == 1
    assert index.get(_key("Missing")) == ([], [])


def test_a_new_backend_is_indexed_again_and_computed_metrics_are_merged_each_tick():
    index = _MetricIndex()
    index.update(SimpleNamespace(metric_data=[_datum("Visible", 10)], aws_metric_data=[]))
    fresh = SimpleNamespace(metric_data=[_datum("Visible", 50)], aws_metric_data=[_datum("Visible", 45)])
    index.update(fresh)  # another list (moto reset): nothing of the old one stays
    assert [p.timestamp for p in index.get(_key("Visible"))[1]] == [T0 + timedelta(seconds=s) for s in (45, 50)]
    fresh.aws_metric_data = []  # computed anew at each read: only the latest counts
    index.update(fresh)
    assert [p.timestamp for p in index.get(_key("Visible"))[1]] == [T0 + timedelta(seconds=50)]
