#!/usr/bin/env bash
# The main command: runs the Fruits! job embedded, on generated Fruits-360-like images.
# Installs what it needs (scripts/setup.sh), builds verger, generates the images once
# (.verger/demo/images), runs sql/fruits_pipeline.sql on them (binaryFile → label → CNN
# features → StandardScaler + PCA for 90 % of the variance → Parquet committed with _SUCCESS
# in .verger/demo/fruits_pca), then prints the job's summary and writes the PCA scatter plot
# to .verger/demo/fruits_pca_pca.png. Extra arguments go to `verger sql`
# (e.g. --set verger.images.on_error=null).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
"$root/scripts/setup.sh"
export CARGO_INCREMENTAL=0
# The same build as scripts/test.sh: building the binary alone resolves other features for
# shared dependencies (the tests' dev-dependencies add some) and rebuilds DataFusion, so the
# two commands share one build instead.
cargo build --locked --workspace --all-targets
verger="$root/target/debug/verger"

images="$root/.verger/demo/images"
if [ ! -d "$images" ]; then
  "$verger" gen-images --out "$images.tmp" --labels 8 --per-label 25 --seed 42
  mv "$images.tmp" "$images"
fi
output="$root/.verger/demo/fruits_pca"
echo "demo: the Fruits! pipeline (sql/fruits_pipeline.sql): $images -> $output"
"$verger" sql -q -f "$root/sql/fruits_pipeline.sql" --var "input=$images" --var "output=$output" "$@"
"$verger" report "$output"
