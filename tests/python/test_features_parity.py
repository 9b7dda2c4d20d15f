"""verger's features against Python's: onnxruntime on verger's own input tensors (must agree
to float tolerance), and the seeds' PIL pipeline (decode, EXIF transpose, RGB, bicubic resize)
on the same files (must agree within the documented tolerance).

Images: generated Fruits-360-like cut-outs plus PIL-made variants verger must read like PIL:
grayscale, CMYK, EXIF-rotated JPEGs, 16-bit and RGBA PNGs, and a real photo (scikit-image's
coffee) for the resize path.
"""

import io
import json
import os
import subprocess
import tempfile
import unittest

import numpy as np
import onnxruntime
from PIL import Image, ImageOps

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VERGER = os.environ.get("VERGER_BIN", os.path.join(ROOT, "target", "debug", "verger"))
MODEL_DIR = os.path.join(ROOT, ".verger", "models", "efficientnet_lite0")

# Documented in the README: same tensors → same features up to float rounding; PIL's decode
# and resize vs verger's → cosine similarity of the feature vectors at least this.
TENSOR_ATOL = 1e-4
PIL_MIN_COSINE = 0.998


def verger_rows(directory, sql_select):
    create = (f"CREATE EXTERNAL TABLE images STORED AS BINARYFILE LOCATION '{directory}' "
              "OPTIONS ('recursiveFileLookup' 'true')")
    result = subprocess.run([VERGER, "sql", "--format", "ndjson", "-q", "-c", f"{create}; {sql_select}"],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise AssertionError(f"verger failed: {result.stderr}")
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def pil_tensor(path):
    with Image.open(path) as image:
        image = ImageOps.exif_transpose(image)
        if image.mode == "I;16" or image.mode.startswith("I"):
            image = image.point(lambda v: v / 257).convert("L")
        image = image.convert("RGB").resize((224, 224), Image.Resampling.BICUBIC)
        pixels = np.asarray(image, dtype=np.float32)
    return ((pixels - 127.0) / 128.0).transpose(2, 0, 1)[np.newaxis]


def build_corpus(directory):
    subprocess.run([VERGER, "gen-images", "--out", directory, "--labels", "3", "--per-label", "2", "--seed", "5"],
                   check=True, capture_output=True)
    variants = os.path.join(directory, "Variants")
    os.makedirs(variants)
    base = Image.open(os.path.join(directory, "Apple Braeburn", "0_100.jpg")).convert("RGB")
    base.convert("L").save(os.path.join(variants, "gray.jpg"), quality=95)
    base.convert("CMYK").save(os.path.join(variants, "cmyk.jpg"), quality=95)
    # Stored sideways with an EXIF orientation of 6 (rotate 90° clockwise to display).
    exif = Image.Exif()
    exif[0x0112] = 6
    wide = base.resize((120, 80))
    wide.rotate(90, expand=True).save(os.path.join(variants, "exif_rotated.jpg"), quality=95, exif=exif.tobytes())
    rgba = base.convert("RGBA")
    rgba.putalpha(128)
    rgba.save(os.path.join(variants, "rgba.png"))
    deep = (np.asarray(base.convert("L"), dtype=np.uint16) * 257)
    Image.fromarray(deep).save(os.path.join(variants, "gray16.png"))
    from skimage import data
    Image.fromarray(data.coffee()).save(os.path.join(variants, "coffee.jpg"), quality=92)


class FeatureParity(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        build_corpus(cls.tmp.name)
        cls.rows = verger_rows(cls.tmp.name, "SELECT path, image_tensor(content) AS t, image_features(content) AS f, "
                                             "image_info(content) AS info FROM images ORDER BY path")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        cls.session = onnxruntime.InferenceSession(os.path.join(MODEL_DIR, "model.onnx"), options,
                                                   providers=["CPUExecutionProvider"])

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def features(self, tensor):
        return self.session.run(["features"], {"input": tensor.astype(np.float32)})[0][0]

    def test_every_file_has_a_row(self):
        names = sorted(os.path.relpath(r["path"][len("file:"):], self.tmp.name) for r in self.rows)
        self.assertEqual(len(names), 12, names)
        self.assertIn("Variants/cmyk.jpg", names)

    def test_same_tensors_give_the_same_features_as_onnxruntime_python(self):
        worst = 0.0
        for row in self.rows:
            tensor = np.asarray(row["t"], dtype=np.float32).reshape(1, 3, 224, 224)
            expected = self.features(tensor)
            worst = max(worst, float(np.abs(expected - np.asarray(row["f"], dtype=np.float32)).max()))
        print(f"\nverger vs onnxruntime-Python on verger's tensors: max |diff| = {worst:.2e}")
        self.assertLess(worst, TENSOR_ATOL)

    def test_features_stay_close_to_the_pil_pipeline(self):
        report = []
        for row in self.rows:
            path = row["path"][len("file:"):]
            reference = self.features(pil_tensor(path))
            mine = np.asarray(row["f"], dtype=np.float32)
            cosine = float(reference @ mine / (np.linalg.norm(reference) * np.linalg.norm(mine)))
            report.append((cosine, os.path.relpath(path, self.tmp.name)))
        report.sort()
        print("\nverger vs PIL pipeline, cosine similarity of features (worst first):")
        for cosine, name in report:
            print(f"  {cosine:.5f}  {name}")
        self.assertGreaterEqual(report[0][0], PIL_MIN_COSINE, report[0][1])

    def test_headers_report_what_the_files_hold(self):
        info = {os.path.basename(r["path"]): r["info"] for r in self.rows}
        self.assertEqual(info["cmyk.jpg"], {"format": "jpeg", "width": 100, "height": 100, "channels": 4})
        self.assertEqual(info["gray16.png"]["channels"], 1)
        self.assertEqual(info["rgba.png"]["channels"], 4)
        # Displayed size: stored 80x120, shown 120x80 after the EXIF rotation.
        self.assertEqual((info["exif_rotated.jpg"]["width"], info["exif_rotated.jpg"]["height"]), (120, 80))


if __name__ == "__main__":
    unittest.main()
