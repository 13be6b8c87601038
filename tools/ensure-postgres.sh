#!/usr/bin/env bash
# The local RDS runs real PostgreSQL server binaries. Install Debian's package when we can (root with apt).
set -euo pipefail
have_pg() {
  [[ -n "${C360_PG_BIN:-}" && -x "${C360_PG_BIN}/initdb" ]] && return 0
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && return 0
  command -v pg_config >/dev/null 2>&1 && [[ -x "$(pg_config --bindir)/initdb" ]] && return 0
  command -v initdb >/dev/null 2>&1
}
have_pg && exit 0
echo "PostgreSQL server binaries not found: the local RDS starts a real PostgreSQL."
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's postgresql package (running as root)..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
  have_pg && { echo "PostgreSQL installed: $(ls -d /usr/lib/postgresql/*/bin | tail -n1)"; exit 0; }
fi
cat >&2 <<'MSG'
Install PostgreSQL 15 or newer, then run make again:
  Debian/Ubuntu: sudo apt-get install -y postgresql
  macOS:         brew install postgresql@15
or set C360_PG_BIN to the folder holding initdb, pg_ctl and postgres.
(Without it everything but the local RDS works; its tests fail saying so.)
MSG
exit 0
