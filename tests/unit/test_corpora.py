"""The vendored peer corpora are complete and byte-exact, so every corpus test runs in any clone (and in CI)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from corpora import CORPORA, VENDORED

SHARED = VENDORED.parents[2] / "shared" / "corpora"  # the team's copy, beside the checkout in CI's layout


def _sums() -> dict[str, str]:
    lines = (VENDORED / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    return {name.removeprefix("./"): digest for digest, name in (line.split("  ", 1) for line in lines)}


def test_every_vendored_corpus_file_is_there_and_unchanged():
    sums = _sums()
    assert len(sums) == 48 and any(n.endswith("xmltest.zip") for n in sums)
    bad = {n for n, d in sums.items()
           if not (VENDORED / n).is_file() or hashlib.sha256((VENDORED / n).read_bytes()).hexdigest() != d}
    assert not bad, f"corpus files missing or changed in {VENDORED}: {sorted(bad)}"
    listed = {str(p.relative_to(VENDORED)) for p in VENDORED.rglob("*") if p.is_file()}
    assert listed - set(sums) == {"README.md", "SHA256SUMS"}, "a file in tests/corpora/ is not in SHA256SUMS"


def test_the_zip_is_james_clarks_original():  # its licence allows redistribution of the unmodified zip only
    source = (VENDORED / "xmltest-jclark" / "SOURCE.md").read_text(encoding="utf-8")
    published = re.search(r"sha256 ([0-9a-f]{64})", source).group(1)  # as its SOURCE.md records it
    assert hashlib.sha256((VENDORED / "xmltest-jclark" / "xmltest.zip").read_bytes()).hexdigest() == published
    assert not (VENDORED / "xmltest-jclark" / "xmltest").exists(), "never commit the zip unpacked"


def test_the_tests_read_a_complete_copy():
    """Whatever C360_CORPORA_DIR says, the copy the tests read has every file (no corpus test can be skipped)."""
    missing = [n for n in _sums() if not (CORPORA / n).is_file()]
    assert not missing, f"the corpora the tests read ({CORPORA}) lack {missing}"


def test_the_vendored_copy_equals_the_teams_copy_where_it_is_beside_the_checkout():
    if not SHARED.is_dir():  # a plain clone: the vendored copy is all there is, checked above
        return
    theirs = {str(p.relative_to(SHARED)): hashlib.sha256(p.read_bytes()).hexdigest()
              for p in SHARED.rglob("*") if p.is_file()}
    assert theirs == _sums(), f"tests/corpora/ differs from {SHARED}: re-copy it and regenerate SHA256SUMS"


def test_files_are_not_rewritten_by_git():
    crlf = (VENDORED / "csv-spectrum" / "csvs" / "simple_crlf.csv").read_bytes()
    assert b"\r\n" in crlf, "git converted line ends in tests/corpora (see .gitattributes)"
    assert Path(VENDORED.parents[1] / ".gitattributes").read_text().count("tests/corpora/** -text") == 1
