#!/usr/bin/env bash
# Spark 4.1 (Glue 6.0) needs Java 17 (21 also works). Install it when we can (root with apt), else explain.
set -euo pipefail
java_major() {
  local java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
  command -v "$java" >/dev/null 2>&1 || return 1
  "$java" -version 2>&1 | sed -nE 's/.*version "(1\.)?([0-9]+).*/\2/p' | head -n1
}
major=$(java_major || true)
if [[ "$major" == 17 || "$major" == 21 ]]; then
  exit 0
fi
echo "Java 17 not found (found: ${major:-none}). Spark 4.1, which AWS Glue 6.0 runs, needs a Java 17 runtime."
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "installing it with apt-get (running as root)..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq openjdk-17-jre-headless >/dev/null 2>&1 \
    || apt-get install -y -qq openjdk-21-jre-headless >/dev/null
  major=$(java_major || true)
  [[ "$major" == 17 || "$major" == 21 ]] && { echo "Java $major installed"; exit 0; }
fi
cat >&2 <<'MSG'
Install a Java 17 runtime, then run make again:
  Debian/Ubuntu: sudo apt-get install -y openjdk-17-jre-headless
  macOS:         brew install openjdk@17   (and set JAVA_HOME)
or set JAVA_HOME to an existing JDK 17.
MSG
exit 1
