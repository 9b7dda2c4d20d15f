"""Regenerates tests/gold/connect.json: the answers PySpark 4.3 classic gives to the queries
of tests/python/connect_queries.py, which test_connect.GoldCases compares verger's Connect
server with (no JVM needed there).

Run with the PySpark baseline's virtualenv (bench/run.sh builds it; a JDK 17+ on the PATH):
    .venv-spark/bin/python scripts/connect_gold.py
"""

import json
import os
import sys
import tempfile

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(root, "tests", "python"))

from pyspark.sql import SparkSession  # noqa: E402

import connect_queries  # noqa: E402


def main():
    spark = (
        SparkSession.builder.master("local[1]")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    answers = {"spark_version": spark.version, "cases": {}}
    with tempfile.TemporaryDirectory(prefix="verger-gold-") as data:
        connect_queries.write_files(data)
        for name, case in connect_queries.CASES.items():
            answers["cases"][name] = connect_queries.answer(name, case(spark, data))
            print(f"{name}: {'error ' + answers['cases'][name]['error'] if 'error' in answers['cases'][name] else 'ok'}")
    spark.stop()
    with open(connect_queries.GOLD, "w") as f:
        json.dump(answers, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {connect_queries.GOLD}")


if __name__ == "__main__":
    main()
