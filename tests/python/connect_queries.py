"""Queries whose answers are pinned by PySpark 4.3 classic (tests/gold/connect.json).

Each case builds a DataFrame from a SparkSession with the DataFrame API or SQL only, so the
same code runs on classic PySpark (scripts/connect_gold.py writes the gold answers) and on
the Spark Connect client against verger (test_connect.GoldCases compares, without a JVM).
A case's answer is its columns, Spark type strings and rows (sorted unless the case's order
is the point), its show() text where the layout is the point, or the error condition Spark
raises.
"""

import base64
import contextlib
import datetime
import decimal
import io
import os

from pyspark.sql import Row, Window
from pyspark.sql import functions as F

GOLD = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "gold", "connect.json")

# Files for the binaryFile cases: folders are labels; one file the glob filters out.
FILES = {
    "apple/a1.jpg": b"\xff\xd8apple-one",
    "apple/a2.jpg": b"\xff\xd8apple-two!",
    "banana/b1.jpg": b"\xff\xd8banana",
    "cherry/deep/c1.jpg": b"\xff\xd8cherry-in-a-subfolder",
    "notes.txt": b"not a photo",
}


def write_files(root):
    for name, content in FILES.items():
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(content)


def _photos(spark, root):
    return spark.read.format("binaryFile").option("pathGlobFilter", "*.jpg").option("recursiveFileLookup", "true").load(root)


def label_from_folder(spark, root):
    label = F.element_at(F.split(F.col("path"), "/"), -2).alias("label")
    return _photos(spark, root).select(label, F.col("length"), F.length("content").alias("bytes"), F.substring(F.hex("content"), 1, 4).alias("magic"))


def label_of_a_bare_file_name(spark, root):
    return spark.createDataFrame([("a1.jpg",)], ["path"]).select(F.element_at(F.split("path", "/"), -2).alias("label"))


def split_with_patterns_and_limits(spark, root):
    return spark.sql(
        """SELECT split('a,b,,c', ',') AS plain, split('a1b22c333', '[0-9]+') AS regex,
                  split('a,b,c,d', ',', 2) AS limited, split('a,b,c', ',', -1) AS unlimited,
                  split('', ',') AS empty, split(CAST(NULL AS STRING), ',') AS null_input,
                  split('abc', '') AS chars, size(split('s3://b/k/apple/x.jpg', '/')) AS parts,
                  element_at(split('s3://b/k/apple/x.jpg', '/'), -2) AS label,
                  element_at(split('s3://b/k/apple/x.jpg', '/'), 1) AS scheme"""
    )


def _with_nulls(spark):
    return spark.createDataFrame([(1, 3.0, "c"), (2, None, None), (3, 1.0, "a"), (4, float("nan"), "b"), (5, -0.5, None)], "id INT, x DOUBLE, s STRING")


def null_ordering(spark, root):
    return _with_nulls(spark).orderBy("x", "id")


def null_ordering_desc(spark, root):
    return _with_nulls(spark).orderBy(F.col("s").desc(), "id")


def aggregates_over_nulls(spark, root):
    df = spark.createDataFrame(
        [("a", 1, 2.0), ("a", None, 4.0), ("a", 3, None), ("b", None, None), ("c", 7, 1.5)], "k STRING, n INT, x DOUBLE"
    )
    return df.groupBy("k").agg(
        F.count("*").alias("rows"),
        F.count("n").alias("n_count"),
        F.sum("n"),
        F.avg("x"),
        F.min("x"),
        F.max("n"),
        F.stddev("x").alias("sd"),
        F.countDistinct("n").alias("distinct_n"),
    )


def global_aggregates(spark, root):
    df = spark.createDataFrame([(1, 2.5), (2, 3.5), (3, None)], "n BIGINT, x DOUBLE")
    empty = df.filter(F.col("n") > 10)
    whole = df.agg(F.count("*").alias("rows"), F.sum("n").alias("sum_n"), F.avg("x").alias("avg_x"), F.variance("x").alias("var_x"))
    none = empty.agg(F.count("*").alias("rows"), F.sum("n").alias("sum_n"), F.avg("x").alias("avg_x"), F.variance("x").alias("var_x"))
    return whole.union(none)


def arithmetic_and_casts(spark, root):
    return spark.sql(
        """SELECT 7 / 2 AS slash, 7 div 2 AS div, -7 % 3 AS rem, pmod(-7, 3) AS pmod,
                  CAST('12' AS INT) AS from_string, CAST(3.7 AS INT) AS truncated,
                  CAST(-3.7D AS BIGINT) AS negative, CAST(1 AS DOUBLE) AS widened,
                  2147483647 + CAST(1 AS BIGINT) AS promoted, 0.1 + 0.2 AS decimals,
                  0.1D + 0.2D AS doubles, CAST('true' AS BOOLEAN) AS flag, 5 / 0.5 AS by_decimal"""
    )


def cast_overflow(spark, root):
    return spark.sql("SELECT CAST(2147483648L AS INT) AS i")


def divide_by_zero(spark, root):
    return spark.sql("SELECT 1 / 0 AS q")


def rounding(spark, root):
    df = spark.createDataFrame([(2.5,), (-2.5,), (0.125,), (2.675,), (1234.5678,)], "x DOUBLE")
    return df.select(
        "x",
        F.round("x").alias("r0"),
        F.round("x", 2).alias("r2"),
        F.bround("x").alias("b0"),
        F.round("x", -2).alias("r_neg"),
        F.floor("x").alias("fl"),
        F.ceil("x").alias("ce"),
    )


def strings(spark, root):
    df = spark.createDataFrame([("  Granny Smith  ", "apple"), ("kiwi", None), ("", "x")], "s STRING, t STRING")
    return df.select(
        F.upper("s").alias("up"),
        F.length("s").alias("len"),
        F.trim("s").alias("trimmed"),
        F.substring("s", 3, 6).alias("sub"),
        F.concat("s", "t").alias("cat"),
        F.concat_ws("-", "s", "t").alias("cat_ws"),
        F.lpad("t", 7, "*").alias("padded"),
        F.instr("s", "Smith").alias("at"),
        F.regexp_replace("s", "[aeiou]", "_").alias("vowels"),
        F.regexp_extract("s", "([A-Z])[a-z]+", 1).alias("initial"),
        F.initcap("t").alias("cap"),
        F.reverse("t").alias("rev"),
        F.repeat("t", 2).alias("twice"),
    )


def dates(spark, root):
    return spark.sql(
        """SELECT d, date_add(d, 1) AS next, datediff(DATE'2024-03-01', d) AS days,
                  year(d) AS y, month(d) AS m, dayofmonth(d) AS dom, dayofweek(d) AS dow,
                  last_day(d) AS month_end, date_format(d, 'yyyy/MM/dd') AS formatted,
                  ts, hour(ts) AS h, date_trunc('month', ts) AS month_start,
                  CAST(ts AS DATE) AS ts_date, CAST(ts AS STRING) AS ts_text
           FROM VALUES (DATE'2024-02-29', TIMESTAMP'2024-02-29 23:59:58'),
                       (DATE'1999-12-31', TIMESTAMP'2000-01-01 00:00:00.5') AS t(d, ts)"""
    )


def windows(spark, root):
    df = spark.createDataFrame([("a", 1, 10), ("a", 2, 10), ("a", 3, 30), ("b", 1, 5), ("b", 2, None)], "k STRING, i INT, v INT")
    ordered = Window.partitionBy("k").orderBy("v")
    return df.select(
        "k",
        "i",
        "v",
        F.row_number().over(Window.partitionBy("k").orderBy("i")).alias("rn"),
        F.rank().over(ordered).alias("rank"),
        F.dense_rank().over(ordered).alias("dense"),
        F.sum("v").over(ordered).alias("running"),
        F.lag("v").over(Window.partitionBy("k").orderBy("i")).alias("prev"),
        F.lead("v", 1, -1).over(Window.partitionBy("k").orderBy("i")).alias("next"),
        F.avg("v").over(Window.partitionBy("k")).alias("mean"),
        F.count("v").over(Window.partitionBy("k")).alias("n"),
    )


def joins_with_null_keys(spark, root):
    left = spark.createDataFrame([(1, "l1"), (None, "l-null"), (2, "l2")], "k INT, l STRING")
    right = spark.createDataFrame([(1, "r1"), (None, "r-null"), (3, "r3")], "k INT, r STRING")
    inner = left.join(right, "k").select("k", "l", "r", F.lit("inner").alias("how"))
    full = left.join(right, left["k"] == right["k"], "full").select(F.coalesce(left["k"], right["k"]).alias("k"), "l", "r", F.lit("full").alias("how"))
    safe = left.join(right, left["k"].eqNullSafe(right["k"])).select(left["k"], "l", "r", F.lit("null_safe").alias("how"))
    return inner.union(full).union(safe)


def arrays_and_explode(spark, root):
    df = spark.createDataFrame([(1, [3, 1, 3]), (2, []), (3, None)], "id INT, xs ARRAY<INT>")
    exploded = df.select("id", F.explode_outer("xs").alias("x"), F.lit(None).cast("int").alias("pos"))
    positioned = df.select("id", F.posexplode("xs").alias("pos", "x")).select("id", "x", "pos")
    facts = df.select(
        "id",
        F.size("xs").alias("x"),
        F.array_contains("xs", 3).cast("int").alias("pos"),
    )
    return exploded.union(positioned).union(facts).union(
        df.select("id", F.array_max(F.array_distinct("xs")).alias("x"), F.size(F.sort_array("xs")).alias("pos"))
    )


def generators_in_sql_and_maps(spark, root):
    spark.createDataFrame([(1, [3, 1, 3]), (2, []), (3, None)], "id INT, xs ARRAY<INT>").createOrReplaceTempView("generated")
    in_sql = spark.sql(
        """SELECT id, 'explode' AS how, x AS v, CAST(NULL AS INT) AS pos, CAST(NULL AS STRING) AS k
             FROM (SELECT id, explode(xs) AS x FROM generated)
           UNION ALL SELECT id, 'explode_outer', col, NULL, NULL FROM (SELECT id, explode_outer(xs) FROM generated)
           UNION ALL SELECT id, 'posexplode', col, pos, NULL FROM (SELECT id, posexplode(xs) FROM generated)
           UNION ALL SELECT id, 'posexplode_outer', col, pos, NULL FROM (SELECT id, posexplode_outer(xs) FROM generated)
           UNION ALL SELECT 0, 'split', CAST(NULL AS INT), NULL, col FROM (SELECT explode(split('a b', ' ')))"""
    )
    maps = spark.sql(
        "SELECT id, CASE WHEN id = 1 THEN map('a', 1, 'b', 2) WHEN id = 2 THEN map('c', 3) END AS m FROM generated"
    )
    of_maps = maps.select("id", F.lit("map").alias("how"), F.explode("m")).select("id", "how", "value", F.lit(None).cast("int"), "key")
    positioned = maps.select("id", F.lit("map_outer").alias("how"), F.posexplode_outer("m").alias("p", "k", "v"))
    return in_sql.union(of_maps).union(positioned.select("id", "how", "v", "p", "k"))


def distinct_and_set_operations(spark, root):
    a = spark.createDataFrame([(1,), (1,), (2,), (3,), (None,)], "v INT")
    b = spark.createDataFrame([(1,), (3,), (3,), (None,)], "v INT")
    parts = [
        ("distinct", a.distinct()),
        ("union", a.union(b)),
        ("intersect", a.intersect(b)),
        ("intersect_all", a.intersectAll(b)),
        ("subtract", a.subtract(b)),
        ("except_all", a.exceptAll(b)),
        ("drop_duplicates", a.dropDuplicates()),
    ]
    out = None
    for name, df in parts:
        tagged = df.select(F.lit(name).alias("op"), "v")
        out = tagged if out is None else out.union(tagged)
    return out


def conditionals(spark, root):
    df = _with_nulls(spark)
    return df.select(
        "id",
        F.when(F.col("x") > 0, "pos").when(F.col("x") < 0, "neg").otherwise("other").alias("sign"),
        F.coalesce("s", F.lit("none")).alias("s_or"),
        F.nullif(F.col("id"), F.lit(2)).alias("not_two"),
        F.greatest("x", F.lit(2.0)).alias("at_least_2"),
        F.least("x", F.lit(2.0)).alias("at_most_2"),
        F.isnull("x").alias("x_null"),
        F.isnan("x").alias("x_nan"),
        F.nanvl("x", F.lit(0.0)).alias("nan_to_0"),
        F.expr("CASE WHEN s IS NULL THEN 0 WHEN s = 'a' THEN 1 ELSE 2 END").alias("case_s"),
        (F.col("x") == F.col("x")).alias("x_eq_x"),
    )


def sql_semantics(spark, root):
    return spark.sql(
        """SELECT k, count(*) AS n, sum(v) AS total, max(v) > 2 AS big,
                  k IN (1, NULL) AS in_with_null, k BETWEEN 1 AND 2 AS between12,
                  'apple' LIKE 'a%' AS like_a, NULL <=> NULL AS null_safe, 1 = NULL AS eq_null,
                  '10' > 9 AS string_vs_int
           FROM VALUES (1, 1), (1, 2), (2, 5), (3, NULL) AS t(k, v)
           GROUP BY 1 HAVING count(*) >= 1"""
    )


def sql_literals_and_text(spark, root):
    """Spark SQL's numeric literals and their types, decimal division, timestamps as text."""
    return spark.sql(
        """SELECT 1 AS i, 1L AS l, 1S AS s, 1Y AS y, 1.5 AS dec, 1.5D AS d, 1.5F AS f, 1e3 AS e,
                  1.50BD AS bd, -2147483648 AS lowest, 2147483648 AS past_int, 10 / 4 AS q,
                  1.0 / 3 AS third, x / 3 AS int_by_int, CAST(x AS DECIMAL(5,2)) / 7 AS dec_by_int,
                  CAST(TIMESTAMP'2024-01-01 10:00:00.25' AS STRING) AS ts_text,
                  date_format(TIMESTAMP'2024-01-05 17:00:00', 'EEE d MMM yyyy hh:mm a') AS formatted,
                  isnan(CAST(NULL AS DOUBLE)) AS nan_of_null, substring('verger', 2, 3) AS sub
           FROM VALUES (10), (20) AS t(x) ORDER BY 1, x LIMIT 1"""
    )


def expressions_in_dataframes(spark, root):
    """F.expr and selectExpr take Spark SQL: INT literals, suffixes, date_add."""
    df = spark.createDataFrame([(1, "2024-02-28"), (2, "2024-12-31")], "id INT, d STRING")
    return df.select(
        "id",
        F.expr("id + 1").alias("next_id"),
        F.expr("date_add(CAST(d AS DATE), 1)").alias("next_day"),
        F.expr("id * 2L").alias("doubled"),
        F.expr("id / 4").alias("quarter"),
        F.expr("CASE WHEN id > 1 THEN 10 ELSE 0.5D END").alias("cased"),
    ).selectExpr("*", "next_id * 3 AS tripled")


def show_layout(spark, root):
    return spark.createDataFrame(
        [
            (1, "apple_braeburn_with_a_long_name", 1.0, True, [1, 2], None),
            (-20, None, 1e7, False, None, 12345678901),
            (300, "kiwi", -0.000123, None, [], -5),
        ],
        "id INT, label STRING, x DOUBLE, ok BOOLEAN, xs ARRAY<INT>, big BIGINT",
    ).orderBy("id")


CASES = {
    f.__name__: f
    for f in [
        label_from_folder,
        label_of_a_bare_file_name,
        split_with_patterns_and_limits,
        null_ordering,
        null_ordering_desc,
        aggregates_over_nulls,
        global_aggregates,
        arithmetic_and_casts,
        cast_overflow,
        divide_by_zero,
        rounding,
        strings,
        dates,
        windows,
        joins_with_null_keys,
        arrays_and_explode,
        generators_in_sql_and_maps,
        distinct_and_set_operations,
        conditionals,
        sql_semantics,
        sql_literals_and_text,
        expressions_in_dataframes,
        show_layout,
    ]
}
# Cases whose row order is part of the answer.
ORDERED = {"null_ordering", "null_ordering_desc", "show_layout"}
# Cases whose show() text is pinned: Spark's layout, with and without truncation.
SHOWN = {"show_layout", "null_ordering", "dates", "rounding", "strings"}


def encode(value):
    """A JSON value that keeps what a Python value's type says, exactly."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return {"float": repr(value)}
    if isinstance(value, decimal.Decimal):
        return {"decimal": str(value)}
    if isinstance(value, datetime.datetime):
        return {"timestamp": value.isoformat()}
    if isinstance(value, datetime.date):
        return {"date": value.isoformat()}
    if isinstance(value, (bytes, bytearray)):
        return {"binary": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, Row):
        return {"row": {k: encode(v) for k, v in value.asDict().items()}}
    if isinstance(value, dict):
        return {"map": sorted([encode(k), encode(v)] for k, v in value.items())}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    raise TypeError(f"no encoding for {type(value).__name__}")


def _sort_key(row):
    return repr(row)


def answer(name, df):
    """The case's answer on this session: what the gold file holds for it."""
    try:
        rows = [[encode(v) for v in row] for row in df.collect()]
        result = {"columns": df.columns, "dtypes": [t for _, t in df.dtypes]}
        result["rows"] = rows if name in ORDERED else sorted(rows, key=_sort_key)
        if name in SHOWN:
            shown = []
            for kwargs in ({}, {"truncate": False}, {"n": 1, "vertical": True}):
                out = io.StringIO()
                with contextlib.redirect_stdout(out):
                    df.show(**kwargs)
                shown.append(out.getvalue())
            result["show"] = shown
        return result
    except Exception as error:  # noqa: BLE001 - the condition is the answer
        condition = getattr(error, "getCondition", lambda: None)()
        if condition is None:
            raise
        return {"error": condition}
