#!/usr/bin/env bash
# The main command: runs the Fruits! job embedded, on generated Fruits-360-like images.
# Installs what it needs (scripts/setup.sh), builds verger, generates the images once
# (.verger/demo/images) and runs sql/fruits_read.sql, sql/fruits_features.sql and
# sql/fruits_pca.sql on them. Extra arguments go to
# `verger sql` (e.g. --format csv).
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
echo "demo: reading $images"
"$verger" sql -f "$root/sql/fruits_read.sql" --var "input=$images" "$@"
echo "demo: CNN features (EfficientNet-Lite0 through ONNX Runtime)"
"$verger" sql -f "$root/sql/fruits_features.sql" --var "input=$images" "$@"
echo "demo: StandardScaler + PCA (90 % of the variance), fitted on all the photos"
"$verger" sql -f "$root/sql/fruits_pca.sql" --var "input=$images" "$@"
