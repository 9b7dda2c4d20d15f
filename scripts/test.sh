#!/usr/bin/env bash
# The test command: installs what the tests need (scripts/setup.sh), checks formatting and
# lints (rustfmt, clippy with warnings as errors), then builds and runs every test of the
# workspace — unit tests, the sqllogictest files (embedded and on a
# two-executor cluster) and the integration tests (cluster processes, S3 through moto).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
"$root/scripts/setup.sh"
# Incremental compilation only slows a from-scratch build; keep the flags fixed across steps
# so that nothing is rebuilt twice.
export CARGO_INCREMENTAL=0
export VERGER_VENV="$root/.venv"
# The Python tests drive the CLI built here.
export VERGER_BIN="$root/target/debug/verger"
# Style and lints first: they fail in seconds, the build takes minutes.
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo build --workspace --all-targets --locked

log="$(mktemp)"
pylog="$(mktemp)"
trap 'rm -f "$log" "$pylog"' EXIT
set +e
cargo test --workspace --locked --no-fail-fast "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# The Python side: the model build and feature parity against onnxruntime and PIL.
# Its onnxruntime would record telemetry in ~/.cache/Microsoft (1.29+) unless told not to; the
# Rust tests get no such variable: verger must set it itself (tests/integration/features.rs).
ORT_DISABLE_TELEMETRY="${ORT_DISABLE_TELEMETRY:-1}" "$root/.venv/bin/python" -m unittest discover -v -s "$root/tests/python" 2>&1 | tee "$pylog"
pystatus=${PIPESTATUS[0]}
set -e
# One closing line for the whole run: cargo's own last line is a crate's doc-test count.
passed=$(grep -Eo '[0-9]+ passed' "$log" | awk '{ n += $1 } END { print n + 0 }')
failed=$(grep -Eo '[0-9]+ failed' "$log" | awk '{ n += $1 } END { print n + 0 }')
pyran=$(grep -Eo '^Ran [0-9]+ test' "$pylog" | awk '{ n += $2 } END { print n + 0 }')
pyfailed=$(grep -Ec '\.\.\. (FAIL|ERROR)$' "$pylog" || true)
passed=$((passed + pyran - pyfailed))
failed=$((failed + pyfailed))
if [ "$pystatus" -ne 0 ] && [ "$status" -eq 0 ]; then
  status=$pystatus
fi
echo
echo "verger tests: $passed passed, $failed failed"
if [ "$passed" -eq 0 ]; then
  echo "no test ran" >&2
  exit 1
fi
exit "$status"
