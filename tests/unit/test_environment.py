"""Java detection and the kernel's startup file."""

from __future__ import annotations

import stat
import sys

from c360 import environment


def _fake_java(tmp_path, text: str):
    java = tmp_path / "bin" / "java"
    java.parent.mkdir()
    java.write_text(f"#!/bin/sh\necho '{text}' >&2\n")
    java.chmod(java.stat().st_mode | stat.S_IEXEC)
    return tmp_path


def test_java_17_is_accepted(monkeypatch, tmp_path):
    monkeypatch.setenv("JAVA_HOME", str(_fake_java(tmp_path, 'openjdk version "17.0.15" 2025-04-15')))
    ok, said = environment.check_java()
    assert ok and "Java 17" in said


def test_java_8_is_refused_with_instructions(monkeypatch, tmp_path):
    monkeypatch.setenv("JAVA_HOME", str(_fake_java(tmp_path, 'java version "1.8.0_402"')))
    assert environment.java_version()[0] == 8
    ok, said = environment.check_java()
    assert not ok and "openjdk-17-jdk-headless" in said


def test_missing_java_is_explained(monkeypatch, tmp_path):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "nowhere"))
    ok, said = environment.check_java()
    assert not ok and "not found" in said


def test_this_machine_has_a_supported_java():
    ok, said = environment.check_java()
    assert ok, said


def test_startup_file_lives_in_this_virtualenv():
    path = environment.startup_file()
    assert path.is_relative_to(sys.prefix)
    assert path.is_file(), "run `make setup` (c360 setup-kernel)"
    assert "c360.glue_magics" in path.read_text()
