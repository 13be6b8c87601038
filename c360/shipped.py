"""Import what ships to AWS (`lambda/`, `exported_jobs/`) from the workbench, never the reverse.

`lambda` is a Python keyword and neither folder is a package, so modules are loaded from their files.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType, SimpleNamespace

from c360.config import project_root


def _on_path(folder: str) -> None:
    """Let shipped modules import the modules of `folder` by their plain names, as they do where they run."""
    path = str(project_root() / folder)
    if path not in sys.path:
        sys.path.append(path)


def _load(folder: str, name: str) -> ModuleType:
    qualified = f"c360_shipped_{folder}_{name}"
    if qualified in sys.modules:
        return sys.modules[qualified]
    path = project_root() / folder / f"{name}.py"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: run `make export`")
    _on_path(folder)  # shipped modules import their siblings, as in the Lambda zip
    spec = importlib.util.spec_from_file_location(qualified, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[qualified] = module
    spec.loader.exec_module(module)
    return module


def lambda_module(name: str = "handler") -> ModuleType:
    return _load("lambda", name)


def job_module(name: str) -> ModuleType:
    _on_path("lambda")  # the job ships with the ledger protocol, lambda/ledger.py (etl_ledger imports it as `ledger`)
    return _load("exported_jobs", name)


def glue_job() -> SimpleNamespace:
    """The Glue job as one namespace: its entry point (customer360_etl) and every step module it imports
    (etl_readers, etl_cleaning, ...), so a caller finds `transform` or `parse_ruleset` without knowing which module
    holds it. `modules` lists the module objects (tests register them with cloudpickle: Spark's workers cannot
    import modules loaded from a path), the ledger protocol it ships with (lambda/ledger.py) among them."""
    entry = job_module("customer360_etl")
    modules = [sys.modules[name] for name in entry.MODULES] + [entry]
    names = {k: v for m in modules for k, v in vars(m).items() if not k.startswith("__")}
    return SimpleNamespace(**names, modules=modules)
