"""sql/fruits_pipeline.sql's Parquet output, read back with pyarrow as pandas users read it,
and the commit protocol: _SUCCESS last, the manifest, overwrite re-runs, the default
errorifexists mode, append, empty results, and a failed job that leaves the previous output
whole."""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VERGER = os.environ.get("VERGER_BIN", os.path.join(ROOT, "target", "debug", "verger"))
PIPELINE = os.path.join(ROOT, "sql", "fruits_pipeline.sql")
LABELS, PER_LABEL = 4, 8


def run(*args):
    return subprocess.run([VERGER, *args], capture_output=True, text=True, timeout=600)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def write_bytes(path, data):
    with open(path, "wb") as f:
        f.write(data)


def listing(directory):
    return sorted(os.listdir(directory))


def sorted_rows(output):
    return sorted(pq.read_table(output).to_pylist(), key=lambda r: r["path"])


class PipelineOutput(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp()
        cls.images = os.path.join(cls.tmp, "images")
        result = run("gen-images", "--out", cls.images, "--labels", str(LABELS), "--per-label", str(PER_LABEL), "--seed", "7")
        assert result.returncode == 0, result.stderr

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def pipeline(self, output, *extra):
        return run("sql", "-f", PIPELINE, "--var", f"input={self.images}", "--var", f"output={output}", *extra)

    def test_pyarrow_reads_the_committed_output(self):
        output = os.path.join(self.tmp, "read_back")
        result = self.pipeline(output)
        self.assertEqual(result.returncode, 0, result.stderr)
        names = listing(output)
        self.assertIn("_SUCCESS", names)
        self.assertEqual(os.path.getsize(os.path.join(output, "_SUCCESS")), 0, "Spark's marker is empty")
        self.assertFalse(any(n.startswith("_temporary") for n in names), names)
        parts = [n for n in names if n.startswith("part-")]
        self.assertTrue(parts and all(n.endswith("-c000.snappy.parquet") for n in parts), names)

        table = pq.read_table(output)
        self.assertEqual(table.schema.field("path").type, pa.string())
        self.assertEqual(table.schema.field("label").type, pa.string())
        self.assertTrue(pa.types.is_list(table.schema.field("pca_features").type))
        self.assertEqual(table.schema.field("pca_features").type.value_type, pa.float64())
        self.assertEqual(table.schema.field("explained_variance").type, pa.float64())
        self.assertEqual(table.num_rows, LABELS * PER_LABEL)
        rows = table.to_pylist()
        self.assertEqual(len({r["path"] for r in rows}), LABELS * PER_LABEL, "each photo once")
        for row in rows:
            self.assertEqual(row["label"], row["path"].split("/")[-2])
        k = {len(r["pca_features"]) for r in rows}
        self.assertEqual(len(k), 1, k)
        explained = {r["explained_variance"] for r in rows}
        self.assertEqual(len(explained), 1)
        self.assertGreaterEqual(explained.pop(), 0.9 - 1e-12)
        # Components come largest variance first.
        scores = np.array([r["pca_features"] for r in rows])
        variances = scores.var(axis=0, ddof=1)
        self.assertTrue(np.all(np.diff(variances) <= 1e-9 * variances[0]), variances)

        manifest = json.loads(read_bytes(os.path.join(output, "_verger_manifest.json")))
        self.assertEqual(sorted(f["name"] for f in manifest["files"]), parts)
        self.assertEqual(manifest["rows"], table.num_rows)
        self.assertEqual(sum(f["rows"] for f in manifest["files"]), table.num_rows)
        self.assertEqual(sorted(os.path.basename(f) for f in ds.dataset(output, format="parquet").files), parts,
                         "pyarrow skips _SUCCESS and the manifest")

        report = run("report", output)
        self.assertEqual(report.returncode, 0, report.stderr)
        self.assertIn(f"rows        {LABELS * PER_LABEL}", report.stdout)
        self.assertIn(f"labels      {LABELS}:", report.stdout)
        self.assertIn("images/s", report.stdout)
        with open(output + "_pca.png", "rb") as plot:
            self.assertEqual(plot.read(8), b"\x89PNG\r\n\x1a\n")

    def test_overwrite_replaces_at_commit_and_gives_the_same_answer(self):
        output = os.path.join(self.tmp, "overwrite")
        self.assertEqual(self.pipeline(output).returncode, 0)
        first, first_rows = listing(output), sorted_rows(output)
        result = self.pipeline(output)
        self.assertEqual(result.returncode, 0, result.stderr)
        second, second_rows = listing(output), sorted_rows(output)
        self.assertEqual(len(first), len(second))
        self.assertFalse(set(p for p in first if p.startswith("part-")) & set(second), "the old files are gone")
        self.assertEqual([r["path"] for r in first_rows], [r["path"] for r in second_rows])
        for a, b in zip(first_rows, second_rows):
            np.testing.assert_allclose(a["pca_features"], b["pca_features"], rtol=1e-9, atol=1e-9)

    def test_a_failed_job_leaves_the_previous_output_whole(self):
        output = os.path.join(self.tmp, "atomic")
        self.assertEqual(self.pipeline(output).returncode, 0)
        before, before_rows = listing(output), sorted_rows(output)
        manifest = read_bytes(os.path.join(output, "_verger_manifest.json"))
        broken = os.path.join(self.tmp, "broken_images")
        shutil.copytree(self.images, broken)
        some = os.path.join(broken, os.listdir(broken)[0])
        victim = os.path.join(some, sorted(os.listdir(some))[-1])
        data = read_bytes(victim)
        write_bytes(victim, data[: len(data) // 2])
        result = run("sql", "-f", PIPELINE, "--var", f"input={broken}", "--var", f"output={output}")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn(os.path.basename(victim), result.stderr)
        after = [n for n in listing(output) if not n.startswith("_temporary")]
        self.assertEqual(after, before, "nothing committed, nothing removed")
        self.assertEqual(read_bytes(os.path.join(output, "_verger_manifest.json")), manifest)
        self.assertEqual(sorted_rows(output), before_rows)

    def test_errorifexists_is_the_default_and_append_adds(self):
        output = os.path.join(self.tmp, "modes")
        select = f"CREATE EXTERNAL TABLE images STORED AS BINARYFILE LOCATION '{self.images}' OPTIONS ('recursiveFileLookup' 'true'); "
        copy = "COPY (SELECT path, length FROM images) TO '{}' STORED AS PARQUET{}"
        result = run("sql", "-c", select + copy.format(output, ""))
        self.assertEqual(result.returncode, 0, result.stderr)
        before = listing(output)
        refused = run("sql", "-c", select + copy.format(output, ""))
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn("errorifexists", refused.stderr)
        self.assertEqual(listing(output), before)
        appended = run("sql", "-c", select + copy.format(output, " OPTIONS ('mode' 'append')"))
        self.assertEqual(appended.returncode, 0, appended.stderr)
        self.assertEqual(pq.read_table(output).num_rows, 2 * LABELS * PER_LABEL)
        self.assertIn("_SUCCESS", listing(output))

    def test_an_empty_result_still_has_its_schema(self):
        output = os.path.join(self.tmp, "empty")
        sql = "COPY (SELECT CAST(1 AS BIGINT) AS id, 'x' AS label WHERE false) TO '{}' STORED AS PARQUET"
        result = run("sql", "-c", sql.format(output))
        self.assertEqual(result.returncode, 0, result.stderr)
        table = pq.read_table(output)
        self.assertEqual(table.num_rows, 0)
        self.assertEqual(table.schema.names, ["id", "label"])


if __name__ == "__main__":
    unittest.main()
