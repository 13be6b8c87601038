"""The notebook exporter, and `make check-export` catching a hand edit."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from c360 import export


def _project(tmp_path: Path, cells) -> Path:
    (tmp_path / "notebooks").mkdir()
    nbformat.write(new_notebook(cells=cells), tmp_path / "notebooks" / "10_validate.ipynb")
    for name in ("20_glue_etl", "30_load_rds"):
        nbformat.write(new_notebook(cells=[]), tmp_path / "notebooks" / f"{name}.ipynb")
    return tmp_path


def test_exports_marked_cells_with_a_header(tmp_path):
    root = _project(tmp_path, [
        new_markdown_cell("# title"),
        new_code_cell("#| default_exp lambda/handler"),
        new_code_cell("#| export\nimport json\n\n\ndef a():\n    return 1"),
        new_code_cell("print('not exported')"),
        new_code_cell("#| export lambda/validators\ndef b():\n    return 2"),
        new_code_cell("#| export\ndef c():\n    return 3\n"),
    ])
    assert sorted(export.export(root)) == ["lambda/handler.py", "lambda/validators.py"]
    handler = (root / "lambda" / "handler.py").read_text()
    assert handler.splitlines()[0] == export.HEADER.format(nb="notebooks/10_validate.ipynb")
    assert "def a()" in handler and "def c()" in handler and "not exported" not in handler and "def b()" not in handler
    assert "def b()" in (root / "lambda" / "validators.py").read_text()
    assert export.export(root) == []  # nothing changes the second time
    assert export.check(root) == []
    ns: dict = {}
    exec(compile(handler, "handler.py", "exec"), ns)
    assert ns["a"]() + ns["c"]() == 4


def test_check_reports_hand_edits_missing_and_orphaned_files(tmp_path):
    root = _project(tmp_path, [new_code_cell("#| default_exp lambda/handler"), new_code_cell("#| export\nX = 1")])
    export.export(root)
    target = root / "lambda" / "handler.py"
    target.write_text(target.read_text().replace("X = 1", "X = 2"))
    problems = export.check(root)
    assert len(problems) == 1 and "-X = 2" in problems[0] and "+X = 1" in problems[0]
    target.unlink()
    assert export.check(root)
    export.export(root)
    orphan = root / "exported_jobs" / "old.py"
    orphan.parent.mkdir()
    orphan.write_text(export.HEADER.format(nb="notebooks/20_glue_etl.ipynb") + "\n")
    assert any("no notebook exports" in p for p in export.check(root))
    export.export(root)
    assert not orphan.exists()


@pytest.mark.parametrize("cells, message", [
    ([new_code_cell("#| export\nX = 1")], "without a `#| default_exp`"),
    ([new_code_cell("#| default_exp ../outside")], "inside the project"),
    ([new_code_cell("#| default_exp a"), new_code_cell("#| default_exp b")], "more than one"),
])
def test_bad_directives_are_clear_errors(tmp_path, cells, message):
    with pytest.raises(export.ExportError, match=message):
        export.plan(_project(tmp_path, cells))


def test_the_committed_exports_are_in_sync(root):
    assert export.check(root) == []


def _copy_project(root: Path, dest: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=root, capture_output=True,
                           text=True, check=True).stdout.split()
    for rel in files:
        if (root / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / rel, dest / rel)
    return dest


def test_make_check_export_fails_after_a_hand_edit(root, tmp_path):
    project = _copy_project(root, tmp_path / "copy")
    venv = Path(sys.prefix)
    make = ["make", "-s", "-o", str(venv / ".c360-installed"), f"VENV={venv}", "check-export"]
    env = {k: v for k, v in os.environ.items() if k != "C360_HOME"}
    ok = subprocess.run(make, cwd=project, env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    script = project / "exported_jobs" / "customer360_etl.py"
    script.write_text(script.read_text().replace('"dq_threshold": "80"', '"dq_threshold": "hand-edited"'))
    bad = subprocess.run(make, cwd=project, env=env, capture_output=True, text=True)
    assert bad.returncode != 0
    assert "hand-edited" in bad.stderr and "exported_jobs/customer360_etl.py" in bad.stderr
