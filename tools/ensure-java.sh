#!/usr/bin/env bash
# Spark 4.1 (Glue 6.0) needs Java 17 (21 also works), and the local Glue runner compiles one class with javac (its
# IAM-checked S3 view for Spark: c360/local/iam_fs.py), so a JDK. Install it when we can (root with apt), else explain.
set -euo pipefail
java_major() {
  local java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
  command -v "$java" >/dev/null 2>&1 || return 1
  "$java" -version 2>&1 | sed -nE 's/.*version "(1\.)?([0-9]+).*/\2/p' | head -n1
}
has_javac() { command -v "${JAVA_HOME:+$JAVA_HOME/bin/}javac" >/dev/null 2>&1; }
major=$(java_major || true)
if [[ ( "$major" == 17 || "$major" == 21 ) ]] && has_javac; then
  exit 0
fi
echo "JDK 17 not found (java: ${major:-none}, javac: $(has_javac && echo yes || echo no)). Spark 4.1, which AWS Glue 6.0"
echo "runs, needs Java 17; the local Glue runner needs its javac."
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "installing it with apt-get (running as root)..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq openjdk-17-jdk-headless >/dev/null 2>&1 \
    || apt-get install -y -qq openjdk-21-jdk-headless >/dev/null
  major=$(java_major || true)
  [[ ( "$major" == 17 || "$major" == 21 ) ]] && has_javac && { echo "JDK $major installed"; exit 0; }
fi
cat >&2 <<'MSG'
Install a JDK 17, then run make again:
  Debian/Ubuntu: sudo apt-get install -y openjdk-17-jdk-headless
  macOS:         brew install openjdk@17   (and set JAVA_HOME)
or set JAVA_HOME to an existing JDK 17.
MSG
exit 1
