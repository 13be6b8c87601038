"""The local EventBridge input transformer: values inside a JSON string are escaped, elsewhere inserted as JSON."""

from __future__ import annotations

from c360.local.eventbridge import transform

EVENT = {"detail": {"jobName": "customer360-etl", "state": "FAILED", "attempt": 2,
                    "message": 'Traceback (most recent call last):\n  raise ValueError("bad \\\\ input")'}}
PATHS = {"job": "$.detail.jobName", "state": "$.detail.state", "message": "$.detail.message",
         "attempt": "$.detail.attempt", "missing": "$.detail.nothing"}


def test_a_message_with_quotes_and_newlines_stays_text_inside_a_string_template():
    out = transform('"Glue job <job> ended <state>: <message>"', PATHS, EVENT)
    assert out == f"Glue job customer360-etl ended FAILED: {EVENT['detail']['message']}"


def test_values_outside_strings_are_json_and_an_object_template_stays_an_object():
    out = transform('{"job": <job>, "attempt": <attempt>, "gone": <missing>, "text": "run <attempt> of <job>"}',
                    PATHS, EVENT)
    assert out == {"job": "customer360-etl", "attempt": 2, "gone": None, "text": "run 2 of customer360-etl"}


def test_a_template_that_is_not_json_is_delivered_as_text():
    assert transform("job <job> is <state>", PATHS, EVENT) == 'job "customer360-etl" is "FAILED"'


def test_a_target_without_input_settings_gets_the_event_itself():
    from c360.local.eventbridge import _payload

    assert _payload({"Id": "t", "Arn": "arn:aws:sns:us-east-1:123456789012:t"}, EVENT) == EVENT
