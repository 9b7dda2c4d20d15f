"""Writes the Spark Connect protocol of the pinned PySpark client as a protobuf
FileDescriptorSet, for crates/verger-connect/build.rs.

The client's generated modules (pyspark.sql.connect.proto.*_pb2) embed the descriptors of
the .proto files it was built from, so the server speaks exactly the client's protocol and
no .proto file is copied into verger. Usage: spark_connect_descriptors.py OUTPUT
"""

import importlib
import os
import pkgutil
import sys
import tempfile

from google.protobuf import descriptor_pb2


def descriptors():
    import pyspark.sql.connect.proto as package

    files = {}
    pending = []
    for module in sorted(m.name for m in pkgutil.iter_modules(package.__path__)):
        if module.endswith("_pb2"):
            pending.append(importlib.import_module(f"{package.__name__}.{module}").DESCRIPTOR)
    # Dependencies before dependants, each file once (the well-known google/protobuf files too).
    ordered = []

    def visit(file):
        if file.name in files:
            return
        files[file.name] = file
        for dependency in file.dependencies:
            visit(dependency)
        ordered.append(file)

    for file in pending:
        visit(file)
    result = descriptor_pb2.FileDescriptorSet()
    for file in ordered:
        proto = result.file.add()
        file.CopyToProto(proto)
    return result


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: spark_connect_descriptors.py OUTPUT")
    output = sys.argv[1]
    data = descriptors().SerializeToString(deterministic=True)
    try:
        with open(output, "rb") as existing:
            if existing.read() == data:
                return
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    # Written whole or not at all: a build never reads half a file.
    with tempfile.NamedTemporaryFile(dir=os.path.dirname(os.path.abspath(output)), delete=False) as out:
        out.write(data)
    os.chmod(out.name, 0o644)
    os.replace(out.name, output)


if __name__ == "__main__":
    main()
