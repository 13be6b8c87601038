"""The local Glue runner's ErrorMessage: the failing exception's line, whatever the exception is called."""

from __future__ import annotations

from c360.local.glue_runner import _error_message

TRACE = [
    "26/11/26 06:02:23 INFO SparkContext: Running Spark version 4.1.1",
    "Traceback (most recent call last):",
    '  File "customer360_etl.py", line 900, in <module>',
    "26/11/26 06:02:24 INFO SparkContext: Invoking stop() from shutdown hook",
    "    raise ex.with_traceback(None)",
    "psycopg.errors.ReadOnlySqlTransaction: cannot execute CREATE TABLE in a read-only transaction",
    "26/11/26 06:02:25 INFO ShutdownHookManager: Shutdown hook called",
]


def test_the_exception_line_after_the_last_traceback_even_without_error_in_its_name():
    assert _error_message(TRACE, 1) == ("psycopg.errors.ReadOnlySqlTransaction: cannot execute CREATE TABLE in a "
                                        "read-only transaction")


def test_a_chained_exception_reports_the_last_one():
    chained = ["Traceback (most recent call last):", "  x", "KeyError: 'a'", "",
               "During handling of the above exception, another exception occurred:", "",
               "Traceback (most recent call last):", "  y", "RuntimeError: load failed"]
    assert _error_message(chained, 1) == "RuntimeError: load failed"


def test_without_a_traceback_the_last_error_looking_line_or_the_exit_code():
    assert _error_message(["INFO fine", "Exception in thread main: java.io.IOException: disk"], 1).startswith(
        "Exception in thread main")
    assert _error_message(["nothing useful"], 137) == "spark-submit exited with code 137"
