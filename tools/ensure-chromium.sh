#!/usr/bin/env bash
# The dashboard screenshot test renders the static page in headless Chromium. Install Debian's package when we can.
set -euo pipefail
have_chromium() { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
  || command -v google-chrome >/dev/null 2>&1 || [[ -n "${C360_CHROMIUM:-}" && -x "${C360_CHROMIUM}" ]]; }
have_chromium && exit 0
echo "Chromium not found: the dashboard's screenshot test renders the page in headless Chromium."
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium package (running as root)..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
  have_chromium && { echo "Chromium installed: $(command -v chromium)"; exit 0; }
fi
cat >&2 <<'MSG'
Install Chromium, then run make again:
  Debian/Ubuntu: sudo apt-get install -y chromium
  macOS:         brew install --cask chromium
or set C360_CHROMIUM to a Chromium or Chrome binary.
(Without it everything but the dashboard screenshot test works; that test fails saying so.)
MSG
exit 0
