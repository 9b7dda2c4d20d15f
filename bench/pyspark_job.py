"""The seeds' PySpark job, as the baseline verger is measured against (bench/run.sh).

PySpark 4.3 in local[N] mode, from PyPI: binaryFile → label from the folder → a
scalar-iterator pandas UDF running the same ONNX model through onnxruntime (PIL decode,
bicubic resize, the model's normalisation, mini-batches) → StandardScaler(withMean, withStd)
→ PCA fitted on all components to pick k for 90 % of the variance, then PCA(k), as the seeds
do → Parquet (overwrite).

Two variants:
- `--as-written` (what the users run today): the seeds' notebook caches nothing, so each of the
  scaler fit, the two PCA fits and the final write runs the CNN again, and the UDF opens its
  ONNX Runtime session with the default options (one intra-op thread per core in each of
  the Python workers);
- tuned (the default), the best chance PySpark can be given: the features are cached, so the
  CNN runs once, and each session uses one intra-op thread, one Python worker per core
  (shared/model.md: ORT's default threading is slower on this machine class).

Prints one JSON object: the rows written, k, the session start time and the job time.
"""

import argparse
import json
import os
import sys
import time


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, help="directory of <label>/<image>.jpg")
    parser.add_argument("--output", required=True, help="Parquet output directory")
    parser.add_argument("--model-dir", required=True, help="directory with model.json and model.onnx")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8, help="ONNX Runtime mini-batch")
    parser.add_argument("--variance", type=float, default=0.9)
    parser.add_argument("--as-written", action="store_true", help="no cache, ORT's default threads, as in the seeds")
    return parser.parse_args()


def main():
    args = parse_args()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    with open(os.path.join(args.model_dir, "model.json")) as f:
        spec = json.load(f)
    model_path = os.path.join(args.model_dir, spec["model"])

    started = time.perf_counter()
    from pyspark.sql import SparkSession, functions as F
    from pyspark.ml.feature import PCA, StandardScaler
    from pyspark.ml.functions import array_to_vector

    spark = (
        SparkSession.builder.master(f"local[{args.cores}]")
        .appName("fruits-baseline")
        .config("spark.driver.memory", "4g")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", str(args.cores))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    session_seconds = time.perf_counter() - started

    size = int(spec["input_size"])
    mean = [float(m) for m in spec["mean"]]
    std = [float(s) for s in spec["std"]]
    input_name = spec["input"]
    features_name = spec["features_output"]
    batch = args.batch
    tuned = not args.as_written

    import pandas as pd
    from typing import Iterator

    @F.pandas_udf("array<float>")
    def cnn_features(contents: Iterator[pd.Series]) -> Iterator[pd.Series]:
        # Scalar-iterator UDF: the session is built once per Python worker task.
        import io

        import numpy as np
        import onnxruntime as ort
        from PIL import Image

        options = ort.SessionOptions()
        if tuned:
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
        session = ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
        mean_array = np.array(mean, dtype=np.float32).reshape(1, 3, 1, 1)
        std_array = np.array(std, dtype=np.float32).reshape(1, 3, 1, 1)

        def tensor(content):
            image = Image.open(io.BytesIO(content)).convert("RGB").resize((size, size), Image.BICUBIC)
            return np.asarray(image, dtype=np.float32).transpose(2, 0, 1)

        for series in contents:
            out = []
            values = list(series)
            for start in range(0, len(values), batch):
                chunk = np.stack([tensor(c) for c in values[start : start + batch]])
                chunk = (chunk - mean_array) / std_array
                (features,) = session.run([features_name], {input_name: chunk})
                out.extend(list(features))
            yield pd.Series(out)

    job_started = time.perf_counter()
    images = (
        spark.read.format("binaryFile")
        .option("pathGlobFilter", "*.jpg")
        .option("recursiveFileLookup", "true")
        .load(args.input)
    )
    features = images.select(
        "path",
        F.element_at(F.split("path", "/"), -2).alias("label"),
        array_to_vector(cnn_features("content")).alias("features"),
    )
    if tuned:
        features = features.cache()
    scaled = (
        StandardScaler(inputCol="features", outputCol="scaled", withMean=True, withStd=True)
        .fit(features)
        .transform(features)
    )
    dims = int(spec["features_dim"])
    explained = PCA(inputCol="scaled", outputCol="pca_features", k=dims).fit(scaled).explainedVariance.toArray()
    cumulative = 0.0
    k = dims
    for index, share in enumerate(explained):
        cumulative += share
        if cumulative >= args.variance:
            k = index + 1
            break
    pca = PCA(inputCol="scaled", outputCol="pca_features", k=k).fit(scaled)
    pca.transform(scaled).select("path", "label", "pca_features").write.mode("overwrite").parquet(args.output)
    job_seconds = time.perf_counter() - job_started
    rows = spark.read.parquet(args.output).count()
    spark.stop()
    print(json.dumps({"rows": rows, "k": k, "session_seconds": session_seconds, "job_seconds": job_seconds}))


if __name__ == "__main__":
    main()
