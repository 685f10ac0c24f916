#!/usr/bin/env bash
# The whole test suite, from a fresh clone, as root: installs what it needs, then
# runs unit tests, CLI tests against real journal files, and the tests that need a
# real journald / firewall inside private namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
export PATH="$HOME/.cargo/bin:$PATH"
if [ "$(id -u)" != 0 ]; then
  echo "scripts/test.sh: run as root (tests create network and mount namespaces)" >&2
  exit 2
fi
cargo build --all-targets --locked
cargo test --locked --all-targets
