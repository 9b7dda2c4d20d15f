"""A corpus of bad and awkward image files through verger, under both error policies.

Every file must get its right row or a clear error naming it; nothing else may be lost,
nothing may crash, and memory must stay bounded (a 50000×50000 header must be refused from
its header, never decoded).
"""

import io
import json
import os
import resource
import struct
import subprocess
import tempfile
import unittest
import zlib

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VERGER = os.environ.get("VERGER_BIN", os.path.join(ROOT, "target", "debug", "verger"))
MAX_LENGTH = 200_000
# A decoded 50000×50000 RGB image alone would take 7.5 GB.
RSS_LIMIT_BYTES = 1_500_000_000


def photo(width=100, height=100, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([(x * 2 + seed * 40) % 256, (y * 2) % 256, ((x + y) + seed * 90) % 256], axis=-1)
    noise = rng.integers(0, 20, size=(height, width, 3))
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8), "RGB")


def jpeg(image, **options):
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, **options)
    return out.getvalue()


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def header_bomb():
    """A valid PNG header claiming 50000×50000 RGB pixels, with a few bytes of data."""
    header = struct.pack(">IIBBBBB", 50_000, 50_000, 8, 2, 0, 0, 0)
    data = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", data) + png_chunk(b"IEND", b"")


# name → (bytes, expected: "ok" | "no row" | reason the row is NULL / the query fails)
def corpus():
    good = jpeg(photo(seed=1))
    gray = io.BytesIO()
    photo(seed=2).convert("L").save(gray, "JPEG", quality=90)
    sixteen = io.BytesIO()
    Image.fromarray((np.arange(100 * 100, dtype=np.uint16).reshape(100, 100) * 6)).save(sixteen, "PNG")
    png_named_jpg = io.BytesIO()
    photo(seed=3).save(png_named_jpg, "PNG")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    big = Image.fromarray(np.random.default_rng(4).integers(0, 256, size=(700, 700, 3), dtype=np.uint8), "RGB")
    files = {
        "Apple/ok.jpg": (good, "ok"),
        "Apple/gray.jpg": (gray.getvalue(), "ok"),
        "Apple/cmyk.jpg": (jpeg(photo(seed=5).convert("CMYK")), "ok"),
        "Apple/deep16.png": (sixteen.getvalue(), "ok"),
        "Apple/png_named.jpg": (png_named_jpg.getvalue(), "ok"),
        "Apple/rotated.jpg": (jpeg(photo(120, 80, seed=6), exif=exif), "ok"),
        "Banana/with space.jpg": (jpeg(photo(seed=7)), "ok"),
        "Banana/café ü.jpg": (jpeg(photo(seed=8)), "ok"),
        "Banana/#hash.jpg": (jpeg(photo(seed=9)), "ok"),
        "Banana/100%.jpg": (jpeg(photo(seed=10)), "ok"),
        "Banana/truncated.jpg": (good[: len(good) // 2], "truncated"),
        # Spark lists zero-byte files but gives them no row (shared/spark-semantics.md).
        "Banana/empty.jpg": (b"", "no row"),
        "Banana/text.jpg": (b"this is not an image\n" * 10, "not a JPEG or PNG"),
        "Banana/bomb.png": (header_bomb(), "pixels"),
        "Banana/huge.jpg": (jpeg(big), "max length"),
    }
    return files


def write_corpus(root, files):
    for name, (data, _) in files.items():
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)


def run(*args):
    return subprocess.run([VERGER, *args], capture_output=True, text=True, timeout=600)


QUERY = """
CREATE EXTERNAL TABLE corpus STORED AS BINARYFILE LOCATION '${input}' OPTIONS ('recursiveFileLookup' 'true');
SELECT path, length, image_features(content) IS NOT NULL AS has_features,
       image_info(content)['width'] AS width, image_info(content)['height'] AS height
FROM corpus ORDER BY path;
"""


def rows_of(stdout):
    """The rows of `verger sql --format ndjson` output."""
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def expected_rows(files):
    return {name: v for name, v in files.items() if v[1] != "no row"}


def peak_child_rss():
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024


class BadInputs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.files = corpus()
        assert len(cls.files["Banana/huge.jpg"][0]) > MAX_LENGTH, "the huge file must exceed the max length"
        assert all(len(d) < MAX_LENGTH for n, (d, _) in cls.files.items() if n != "Banana/huge.jpg")

    def settings(self, policy):
        return ["--set", f"verger.images.on_error={policy}", "--set", f"verger.binary_file.max_length={MAX_LENGTH}"]

    def test_null_policy_keeps_every_row_and_names_every_bad_file(self):
        with tempfile.TemporaryDirectory() as tmp:
            write_corpus(tmp, self.files)
            result = run("sql", "--format", "ndjson", *self.settings("null"), "--var", f"input={tmp}", "-c", QUERY)
            self.assertEqual(result.returncode, 0, result.stderr)
            rows = rows_of(result.stdout)
            by_name = {row["path"].split(tmp.rstrip("/") + "/", 1)[1]: row for row in rows}
            self.assertEqual(sorted(by_name), sorted(expected_rows(self.files)), "one row per file, nothing lost, nothing added")
            for name, (data, expected) in expected_rows(self.files).items():
                row = by_name[name]
                self.assertEqual(row["length"], len(data), name)
                self.assertEqual(row["has_features"], expected == "ok", f"{name}: {row}")
                if expected != "ok":
                    # The warning names the file and says why.
                    self.assertIn(os.path.basename(name), result.stderr, f"{name} is not named in:\n{result.stderr}")
            # Displayed size: EXIF orientation 6 turns 120×80 into 80×120.
            self.assertEqual((by_name["Apple/rotated.jpg"]["width"], by_name["Apple/rotated.jpg"]["height"]), (80, 120))
            self.assertLess(peak_child_rss(), RSS_LIMIT_BYTES)

    def test_fail_policy_fails_on_each_bad_file_naming_it(self):
        good = {n: v for n, v in self.files.items() if v[1] == "ok"}
        for name, (data, reason) in self.files.items():
            if reason in ("ok", "no row"):
                continue
            with self.subTest(file=name), tempfile.TemporaryDirectory() as tmp:
                write_corpus(tmp, {**good, name: (data, reason)})
                result = run("sql", *self.settings("fail"), "--var", f"input={tmp}", "-c", QUERY)
                self.assertNotEqual(result.returncode, 0, f"{name} should fail the query:\n{result.stdout}")
                self.assertIn(os.path.basename(name), result.stderr)
                self.assertIn(reason.lower(), result.stderr.lower())
                self.assertNotIn("panicked", result.stderr)
        self.assertLess(peak_child_rss(), RSS_LIMIT_BYTES)

    def test_fail_policy_reads_the_good_files(self):
        good = {n: v for n, v in self.files.items() if v[1] == "ok"}
        with tempfile.TemporaryDirectory() as tmp:
            write_corpus(tmp, good)
            result = run("sql", "--format", "ndjson", *self.settings("fail"), "--var", f"input={tmp}", "-c", QUERY)
            self.assertEqual(result.returncode, 0, result.stderr)
            rows = rows_of(result.stdout)
            self.assertEqual(len(rows), len(good))
            self.assertTrue(all(row["has_features"] for row in rows), rows)

    def test_pipeline_under_null_policy_writes_a_row_for_every_photo(self):
        import pyarrow.parquet as pq

        jpgs = {n for n in expected_rows(self.files) if n.endswith(".jpg")}
        with tempfile.TemporaryDirectory() as tmp:
            images, output = os.path.join(tmp, "images"), os.path.join(tmp, "out")
            write_corpus(images, self.files)
            result = run("sql", *self.settings("null"), "-f", os.path.join(ROOT, "sql", "fruits_pipeline.sql"),
                         "--var", f"input={images}", "--var", f"output={output}")
            self.assertEqual(result.returncode, 0, result.stderr)
            table = pq.read_table(output).to_pylist()
            by_name = {row["path"].split(images + "/", 1)[1]: row for row in table}
            self.assertEqual(sorted(by_name), sorted(jpgs))
            for name in jpgs:
                ok = self.files[name][1] == "ok"
                self.assertEqual(by_name[name]["pca_features"] is not None, ok, name)
                self.assertEqual(by_name[name]["label"], name.split("/")[0])


if __name__ == "__main__":
    unittest.main()
