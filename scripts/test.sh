#!/usr/bin/env bash
# The test command: installs what the tests need (scripts/setup.sh), then builds and runs
# every test of the workspace — unit tests, the sqllogictest files (embedded and on a
# two-executor cluster) and the integration tests (cluster processes, S3 through moto).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
"$root/scripts/setup.sh"
# Incremental compilation only slows a from-scratch build; keep the flags fixed across steps
# so that nothing is rebuilt twice.
export CARGO_INCREMENTAL=0
export VERGER_VENV="$root/.venv"
cargo build --workspace --all-targets --locked
cargo test --workspace --locked "$@"
