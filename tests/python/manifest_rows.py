"""Reads a verger output as a pyarrow user who follows its manifest does, for
tests/integration/commit.rs: the files `_verger_manifest.json` lists, and for comparison
what pyarrow.dataset finds in the directory.

    python manifest_rows.py <output>       # a local directory or s3://bucket/prefix

S3 is reached with the AWS_ENDPOINT, AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY
of the environment. Prints one JSON object:
{"manifest": {tag: [rows, sum of id]} or null, "listed": [names], "directory": {tag: [...]}}.
"""

import json
import os
import sys
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq


def filesystem(output):
    if not output.startswith("s3://"):
        return pafs.LocalFileSystem(), output.rstrip("/")
    endpoint = urlparse(os.environ["AWS_ENDPOINT"])
    s3 = pafs.S3FileSystem(
        access_key=os.environ["AWS_ACCESS_KEY_ID"],
        secret_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        region=os.environ["AWS_REGION"],
        endpoint_override=endpoint.netloc,
        scheme=endpoint.scheme,
    )
    return s3, output[len("s3://"):].rstrip("/")


def by_tag(table):
    totals = {}
    for row in table.group_by("tag").aggregate([("id", "count"), ("id", "sum")]).to_pylist():
        totals[row["tag"]] = [row["id_count"], row["id_sum"]]
    return totals


def main(output):
    fs, base = filesystem(output)
    try:
        with fs.open_input_stream(f"{base}/_verger_manifest.json") as f:
            manifest = json.loads(f.read())
    except FileNotFoundError:
        manifest = None
    result = {"manifest": None, "listed": [], "directory": {}}
    if manifest is not None:
        names = [file["name"] for file in manifest["files"]]
        result["listed"] = names
        tables = [pq.read_table(f"{base}/{name}", filesystem=fs) for name in names]
        result["manifest"] = {} if not tables else by_tag(pa.concat_tables(tables))
    try:
        result["directory"] = by_tag(ds.dataset(base, filesystem=fs, format="parquet").to_table())
    except (FileNotFoundError, ValueError, OSError) as error:
        result["directory"] = {"error": str(error)}
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1])
