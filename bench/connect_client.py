"""One Spark Connect client run of the Connect bench (crates/verger-cli/benches/connect.rs).

    connect_client.py URL SCENARIO [ARG...]

Imports PySpark first, then times each step from the first request on, so that the figures
are the server's (and the client's decoding), not Python's start-up. Prints one JSON object.
The same script runs against verger and against LakeSail Sail.

Scenarios:
  job IMAGES OUT        session + first answer, then the seeds' job with the DataFrame API:
                        binaryFile → label → image_features → Parquet (verger only)
  to_pandas ROWS RUNS   range(ROWS) as (bigint, string, double) through toPandas(), then
                        through toArrow() (no Python objects made), RUNS times each; then the
                        client's own Arrow → pandas conversion of the table, alone
  label_count IMAGES    binaryFile → label → groupBy(label).count()
  parquet_agg IN OUT    Parquet read → groupBy(label).agg(count, avg, max) → Parquet write
"""

import json
import sys
import time
import warnings

warnings.filterwarnings("ignore")

from pyspark.sql import SparkSession  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402


def images(spark, path):
    return spark.read.format("binaryFile").option("pathGlobFilter", "*.jpg").option("recursiveFileLookup", "true").load(path)


def labelled(spark, path):
    df = images(spark, path)
    return df.withColumn("label", F.element_at(F.split(df["path"], "/"), -2))


def main(url, scenario, *args):
    started = time.perf_counter()
    spark = SparkSession.builder.remote(url).getOrCreate()
    spark.range(1).collect()
    result = {"first_answer": time.perf_counter() - started}
    if scenario == "job":
        path, out = args
        began = time.perf_counter()
        features = labelled(spark, path).select("path", "label", F.expr("image_features(content)").alias("features"))
        features.write.mode("overwrite").parquet(out)
        result["seconds"] = time.perf_counter() - began
    elif scenario == "to_pandas":
        rows, runs = int(args[0]), int(args[1])
        df = spark.range(rows).select("id", F.col("id").cast("string").alias("s"), (F.col("id") * 0.5).alias("d"))
        times = []
        for _ in range(runs):
            began = time.perf_counter()
            pdf = df.toPandas()
            times.append(time.perf_counter() - began)
            if len(pdf) != rows or str(pdf.dtypes["id"]) != "int64" or str(pdf.dtypes["d"]) != "float64":
                raise SystemExit(f"toPandas gave {len(pdf)} rows of {dict(pdf.dtypes)}")
        result["seconds"] = times
        arrow = []
        for _ in range(runs):
            began = time.perf_counter()
            table = df.toArrow()
            arrow.append(time.perf_counter() - began)
            if table.num_rows != rows:
                raise SystemExit(f"toArrow gave {table.num_rows} rows")
        result["arrow_seconds"] = arrow
        # The client's own share of toPandas: Arrow → pandas of the table it received, no server.
        began = time.perf_counter()
        table.to_pandas()
        result["client_pandas_seconds"] = [time.perf_counter() - began]
    elif scenario == "label_count":
        (path,) = args
        began = time.perf_counter()
        rows = labelled(spark, path).groupBy("label").count().collect()
        result["seconds"] = time.perf_counter() - began
        result["rows"] = sum(r["count"] for r in rows)
    elif scenario == "parquet_agg":
        source, out = args
        began = time.perf_counter()
        df = spark.read.parquet(source)
        summary = df.groupBy("label").agg(F.count("*").alias("n"), F.avg("value").alias("mean"), F.max("id").alias("last"))
        summary.write.mode("overwrite").parquet(out)
        result["seconds"] = time.perf_counter() - began
    else:
        raise SystemExit(f"unknown scenario {scenario!r}; see the header of {__file__}")
    spark.stop()
    print(json.dumps(result))


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    main(*sys.argv[1:])
