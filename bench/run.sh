#!/usr/bin/env bash
# The benchmark command: verger's Fruits! pipeline next to its limit (raw ONNX Runtime) and
# next to PySpark 4.3, then verger's Spark Connect server next to `verger sql`, DataFusion and
# LakeSail Sail, on the same generated photos, in one run. See
# crates/verger-cli/benches/pipeline.rs and connect.rs for what is measured. Arguments go to
# the pipeline bench; a first word `pipeline` or `connect` runs that bench alone, with the
# arguments that follow, e.g.
#   bench/run.sh --images 2000,10000 --rss 1000,10000,100000
#   bench/run.sh connect --rounds 5 --no-sail
# Installs what it needs (scripts/setup.sh, then classic PySpark into .venv-spark; a JDK 17+ must
# be on the PATH for PySpark), builds verger with the same lean dev profile as the tests, and
# keeps the generated photos under .verger/bench for later runs. The output is also saved in
# .verger/bench/last-run.txt.
set -euo pipefail
# The PySpark baseline runs the Python onnxruntime, which (1.29+) records telemetry in
# ~/.cache/Microsoft unless told not to; verger's own processes set this themselves.
export ORT_DISABLE_TELEMETRY="${ORT_DISABLE_TELEMETRY:-1}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
"$root/scripts/setup.sh"
requirements="$root/bench/requirements.txt"
spark_venv="$root/.venv-spark"
stamp="$spark_venv/.requirements.sha256"
wanted="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [ ! -x "$spark_venv/bin/python" ]; then
  python3 -m venv "$spark_venv"
fi
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$wanted" ]; then
  echo "bench: installing the PySpark baseline from $requirements into $spark_venv"
  "$spark_venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  echo "$wanted" > "$stamp"
fi
if ! java -version > /dev/null 2>&1; then
  echo "bench: PySpark needs a Java runtime (17 or later) on the PATH; install one or pass --no-pyspark" >&2
  exit 1
fi
export CARGO_INCREMENTAL=0
# The same build as scripts/test.sh and scripts/demo.sh (one build serves all three).
cargo build --locked --workspace --all-targets
mkdir -p "$root/.verger/bench"
benches=(pipeline connect)
case "${1:-}" in
  pipeline | connect) benches=("$1"); shift ;;
esac
last="$root/.verger/bench/last-run.txt"
: > "$last"
for bench in "${benches[@]}"; do
  args=()
  if [ "$bench" = pipeline ] || [ "${#benches[@]}" = 1 ]; then args=("$@"); fi
  cargo bench --locked --profile dev -p verger-cli --bench "$bench" -- "${args[@]}" 2>&1 | tee -a "$last"
  status="${PIPESTATUS[0]}"
  if [ "$status" != 0 ]; then exit "$status"; fi
done
