"""Generated files follow the schemas; whole bad files break them; the same seed gives the same bytes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from contract import check_file

from c360.datagen import Params, badfiles, generate


def _files(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_good_files_follow_the_schemas(generated):
    out, manifest = generated
    good = [f for f in manifest["files"] if f["role"] != "bad"]
    assert {f["dataset"] for f in good} == {"customer_details", "purchases", "feedback"}
    for f in good:
        assert check_file(f["dataset"], out / f["path"]) == [], f["path"]


def test_every_bad_file_breaks_the_contract(generated):
    out, manifest = generated
    bad = [f for f in manifest["files"] if f["role"] == "bad"]
    # bad_files=11 covers every kind of every dataset
    assert {(f["dataset"], f["bad_kind"]) for f in bad} == {
        (d, k) for d, kinds in badfiles.KINDS.items() for k in kinds}
    for f in bad:
        assert check_file(f["dataset"], out / f["path"]), f"{f['path']} ({f['bad_kind']}) passed the contract"


def test_manifest_describes_the_files_on_disk(generated):
    out, manifest = generated
    on_disk = _files(out / "raw")
    listed = {f["path"].removeprefix("raw/"): f["sha256"] for f in manifest["files"]}
    assert listed == on_disk
    for f in manifest["files"]:
        assert (out / f["path"]).stat().st_size == f["bytes"]


def test_encodings_and_line_endings_vary_as_the_contract_allows(generated):
    out, manifest = generated
    by_path = {f["path"]: f for f in manifest["files"]}
    latin = by_path["raw/customer_details/customers_0002.xml"]
    assert latin["encoding"] == "iso-8859-1"
    assert (out / latin["path"]).read_bytes().startswith(b'<?xml version="1.0" encoding="ISO-8859-1"?>')
    crlf = by_path["raw/feedback/feedback_0002.csv"]
    data = (out / crlf["path"]).read_bytes()
    assert crlf["bom"] and data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data
    formats = {Path(f["path"]).suffix for f in manifest["files"] if f["dataset"] == "purchases" and f["role"] == "base"}
    assert formats == {".json", ".jsonl", ".ndjson"}


def test_csv_comments_carry_commas_quotes_and_newlines(generated):
    from contract import read_feedback

    out, manifest = generated
    comments = []
    for f in manifest["files"]:
        if f["dataset"] == "feedback" and f["role"] == "base":
            comments += [r["comment"] for r in read_feedback((out / f["path"]).read_bytes())]
    assert any("," in c for c in comments)
    assert any('"' in c for c in comments)
    assert any("\n" in c for c in comments)
    assert any(c == "" for c in comments)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    small = dict(customers=300, purchases=900, feedback=300, files=2, bad_files=4)
    a = generate(Params(seed=11, **small), tmp_path / "a", progress=False)
    b = generate(Params(seed=11, **small), tmp_path / "b", progress=False)
    c = generate(Params(seed=12, **small), tmp_path / "c", progress=False)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    assert a == b
    assert c != a
    assert _files(tmp_path / "a")["raw/purchases/purchases_0001.json"] != _files(tmp_path / "c")[
        "raw/purchases/purchases_0001.json"]


def test_refuses_to_overwrite_without_force(tmp_path):
    generate(Params(customers=20, purchases=20, feedback=20, bad_files=0), tmp_path, progress=False)
    with pytest.raises(FileExistsError):
        generate(Params(customers=20, purchases=20, feedback=20, bad_files=0), tmp_path, progress=False)
    (tmp_path / "keep.txt").write_text("user file")
    generate(Params(customers=30, purchases=20, feedback=20, bad_files=0), tmp_path, progress=False, force=True)
    assert (tmp_path / "keep.txt").read_text() == "user file"  # --force replaces only what it generated
    assert json.loads((tmp_path / "manifest.json").read_text())["generator"]["params"]["customers"] == 30


@pytest.mark.parametrize("bad", [dict(customers=-1), dict(files=0), dict(defect_rate=0.9),
                                 dict(customers=0, purchases=5), dict(as_of="2020-01-01")])
def test_bad_parameters_are_refused(bad):
    with pytest.raises(ValueError):
        Params(**bad).validate()


def test_empty_sizes_give_valid_empty_files(tmp_path):
    m = generate(Params(customers=0, purchases=0, feedback=0, bad_files=0), tmp_path, progress=False)
    for f in m["files"]:
        assert f["records"] == 0
        assert check_file(f["dataset"], tmp_path / f["path"]) == [], f["path"]
