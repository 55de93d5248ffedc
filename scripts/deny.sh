#!/usr/bin/env bash
# Runs cargo-deny with deny.toml. Licences, bans and sources need no network and always run.
# Advisories need the RustSec database: it is fetched when GitHub is reachable, an existing
# copy under $CARGO_HOME/advisory-dbs is used when not, and without either the advisory check
# is skipped with a notice (it never passes silently as if it had run).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo deny --version >/dev/null 2>&1; then
  echo "deny: cargo-deny is not installed (scripts/ci-tools.sh installs it)" >&2
  exit 1
fi

cargo deny --log-level error check licenses bans sources

db_home=${CARGO_HOME:-$HOME/.cargo}/advisory-dbs
if cargo deny --log-level error fetch db >/dev/null 2>&1; then
  cargo deny --log-level error check --disable-fetch advisories
elif compgen -G "$db_home/advisory-db-*/crates" >/dev/null; then
  echo "deny: advisory database not reachable; using the copy in $db_home" >&2
  cargo deny --log-level error check --disable-fetch advisories
else
  echo "deny: NOTICE: advisories NOT checked: no RustSec database (offline, none cached in $db_home)" >&2
fi
