#!/usr/bin/env bash
# Installs what verger's demo and tests need, idempotently:
# - a Python virtualenv in .venv with the pinned tools of scripts/python-requirements.txt
#   (re-installed only when that file changes);
# - the default model, EfficientNet-Lite0 as ONNX, in .verger/models/efficientnet_lite0
#   (scripts/build_model.py: checksum-verified, rebuilt only when missing or different);
# - the Spark Connect protocol of the pinned PySpark client, as descriptors in
#   .venv/spark-connect.binpb, which the verger-connect crate's build compiles.
set -euo pipefail
# The model build runs the Python onnxruntime, which (1.29+) records telemetry in
# ~/.cache/Microsoft unless told not to; verger's own processes set this themselves.
export ORT_DISABLE_TELEMETRY="${ORT_DISABLE_TELEMETRY:-1}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
requirements="$root/scripts/python-requirements.txt"
stamp="$venv/.requirements.sha256"
wanted="$(sha256sum "$requirements" | cut -d' ' -f1)"

if [ ! -x "$venv/bin/python" ]; then
  echo "setup: creating $venv"
  python3 -m venv "$venv"
fi
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$wanted" ]; then
  echo "setup: installing Python tools from $requirements"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  # Only the ImageNet class-name files of timm are used; its torch dependency is not wanted.
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps timm==1.0.31
  echo "$wanted" > "$stamp"
fi
"$venv/bin/moto_server" --help > /dev/null
# The Spark Connect protocol verger-connect's build compiles, from the pinned client.
"$venv/bin/python" -W ignore "$root/scripts/spark_connect_descriptors.py" "$venv/spark-connect.binpb"
"$venv/bin/python" "$root/scripts/build_model.py" "$root/.verger/models/efficientnet_lite0"
echo "setup: ready ($venv, .verger/models)"
