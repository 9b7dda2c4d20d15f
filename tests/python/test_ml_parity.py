"""verger's StandardScaler and PCA against numpy on fixed data, to 1e-9 relative: scaler
mean and sample std, PCA components (sign-aligned) and explained variance, the k a fraction
picks, transform outputs, the seeds' scale-then-PCA pipeline, and the same answers whatever
the partitioning.

The data: 1,200 float32 vectors of 48 features around 500 (a hard case for sums of squares),
with 6 dominant directions, anisotropic noise and one dead (constant) feature.
"""

import json
import os
import subprocess
import tempfile
import unittest

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VERGER = os.environ.get("VERGER_BIN", os.path.join(ROOT, "target", "debug", "verger"))
RELATIVE = 1e-9
K = 6


def make_data():
    rng = np.random.default_rng(20261121)
    n, d = 1200, 48
    scales = np.array([40.0, 25.0, 15.0, 9.0, 5.0, 3.0])
    directions = rng.normal(size=(K, d))
    latent = rng.normal(size=(n, K)) * scales
    noise = rng.normal(size=(n, d)) * np.linspace(0.01, 0.05, d)
    x = 500.0 + latent @ directions + noise
    x[:, 7] = 3.25  # a dead feature, as CNN features have
    return x.astype(np.float32).astype(np.float64)


def close(test, actual, expected, what):
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    test.assertEqual(actual.shape, expected.shape, what)
    scale = max(np.max(np.abs(expected)), np.finfo(float).tiny)
    worst = np.max(np.abs(actual - expected)) / scale
    test.assertLessEqual(worst, RELATIVE, f"{what}: relative difference {worst:.3e}")


class MlParity(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.x = make_data()
        cls.path = os.path.join(cls.tmp.name, "vectors.json")
        with open(cls.path, "w", encoding="utf-8") as out:
            for i, row in enumerate(cls.x):
                out.write(json.dumps({"id": i, "f": [float(v) for v in row]}) + "\n")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def query(self, select, *settings):
        create = f"CREATE EXTERNAL TABLE t STORED AS JSON LOCATION '{self.path}'"
        command = [VERGER, "sql", "--format", "ndjson", "-q"]
        for setting in settings:
            command += ["--set", setting]
        result = subprocess.run(command + ["-c", f"{create}; {select}"], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise AssertionError(f"verger failed: {result.stderr}")
        return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]

    def numpy_pca(self, x):
        covariance = np.cov(x, rowvar=False, ddof=1)
        values, vectors = np.linalg.eigh(covariance)
        order = np.argsort(values)[::-1]
        values, vectors = np.clip(values[order], 0.0, None), vectors[:, order]
        return values / values.sum(), vectors.T

    def test_scaler_fit_is_numpys_mean_and_sample_std(self):
        [row] = self.query("SELECT standard_scaler_fit(f, true, true) AS s FROM t")
        model = row["s"]
        self.assertEqual(model["count"], len(self.x))
        close(self, model["mean"], self.x.mean(axis=0), "mean")
        close(self, model["std"], self.x.std(axis=0, ddof=1), "std")
        self.assertEqual(model["std"][7], 0.0)

    def test_pca_fit_is_numpys_eigendecomposition(self):
        [row] = self.query(f"SELECT pca_fit(f, {K}) AS m FROM t")
        model = row["m"]
        explained, components = self.numpy_pca(self.x)
        self.assertEqual(model["k"], K)
        close(self, model["explained_variance"], explained[:K], "explained variance")
        ours = np.array(model["components"])
        for i in range(K):
            sign = np.sign(ours[i] @ components[i])
            close(self, ours[i], sign * components[i], f"component {i + 1}")
        [row] = self.query("SELECT pca_fit(f, 0.9)['k'] AS k FROM t")
        self.assertEqual(row["k"], int(np.argmax(np.cumsum(explained) >= 0.9)) + 1)

    def test_transforms_match_numpy(self):
        rows = self.query(
            "SELECT id, standard_scale(f, (SELECT standard_scaler_fit(f, true, true) FROM t)) AS x, "
            f"pca(f, {K}) AS p FROM t ORDER BY id"
        )
        [model] = self.query(f"SELECT pca_fit(f, {K}) AS m FROM t")
        components = np.array(model["m"]["components"])
        std = self.x.std(axis=0, ddof=1)
        factor = np.divide(1.0, std, out=np.zeros_like(std), where=std != 0)
        close(self, [r["x"] for r in rows], (self.x - self.x.mean(axis=0)) * factor, "standard_scale")
        # Spark's transform projects the raw input: no centring.
        close(self, [r["p"] for r in rows], self.x @ components.T, "pca")

    def test_the_seeds_pipeline_scale_then_pca_for_90_percent(self):
        for select in [
            "SELECT id, pca(standard_scale(f, (SELECT standard_scaler_fit(f, true, true) FROM t)), 0.9) AS p FROM t ORDER BY id",
            "SELECT id, pca(standardize(f, true, true), 0.9) AS p FROM t ORDER BY id",
        ]:
            with self.subTest(select=select):
                self.check_scaled_pca(self.query(select))

    def check_scaled_pca(self, rows):
        std = self.x.std(axis=0, ddof=1)
        scaled = (self.x - self.x.mean(axis=0)) * np.divide(1.0, std, out=np.zeros_like(std), where=std != 0)
        explained, components = self.numpy_pca(scaled)
        k = int(np.argmax(np.cumsum(explained) >= 0.9)) + 1
        ours = np.array([r["p"] for r in rows])
        self.assertEqual(ours.shape[1], k)
        expected = scaled @ components[:k].T
        for i in range(k):
            expected[:, i] *= np.sign(ours[:, i] @ expected[:, i])
        close(self, ours, expected, "scaled PCA")

    def test_partitioning_does_not_change_the_answer(self):
        select = f"SELECT id, pca(f, {K}) AS p FROM t ORDER BY id"
        reference = np.array([r["p"] for r in self.query(select, "datafusion.execution.target_partitions=1")])
        for partitions, batch in [(3, 13), (7, 100)]:
            other = self.query(select, f"datafusion.execution.target_partitions={partitions}",
                               f"datafusion.execution.batch_size={batch}")
            close(self, [r["p"] for r in other], reference, f"{partitions} partitions, batches of {batch}")


if __name__ == "__main__":
    unittest.main()
