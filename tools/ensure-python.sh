#!/usr/bin/env bash
# The workbench needs Python 3.11+ with the venv module.
set -euo pipefail
py="${1:-python3}"
if ! command -v "$py" >/dev/null 2>&1; then
  echo "$py not found: install Python 3.11 or newer (or run make PYTHON=/path/to/python3.x)" >&2; exit 1
fi
if ! "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "$py is $("$py" -V 2>&1): the workbench needs Python 3.11 or newer (make PYTHON=python3.12 ...)" >&2; exit 1
fi
if ! "$py" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  echo "$py lacks the venv module: on Debian/Ubuntu, apt-get install python3-venv" >&2; exit 1
fi
