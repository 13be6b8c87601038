"""The Lambda's deployment zip: the exported modules, the schemas, and wheels built for the 3.12 runtime."""

from __future__ import annotations

import zipfile

from c360.provision import lambda_zip


def test_zip_carries_code_schemas_and_manylinux_wheels_for_python_312(root, tmp_path):
    dest = lambda_zip(root, tmp_path / "lambda.zip")
    with zipfile.ZipFile(dest) as z:
        names = set(z.namelist())
    assert {"handler.py", "contract_validators.py", "ledger.py", "schemas/customer_details.xsd",
            "schemas/purchase.schema.json", "schemas/feedback.columns.json"} <= names
    assert "fastjsonschema/__init__.py" in names
    native = [n for n in names if n.startswith("lxml/etree.") and n.endswith(".so")]
    assert native and all("cpython-312-x86_64-linux-gnu" in n for n in native), native
    assert not any(n.startswith("boto3/") for n in names)  # the runtime provides boto3
    again = lambda_zip(root, tmp_path / "again.zip")
    assert again.read_bytes() == dest.read_bytes()  # reproducible
