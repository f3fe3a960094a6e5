#!/usr/bin/python3
"""Tests of python/imcsim_torch and scripts/finetune (fine-tuning by knowledge distillation,
REFERENCE §13: fine-tuning is knowledge distillation from the uncompressed network on the
shared training images with the compressed structure held fixed).

    python3 tests/python/test_finetune.py [-v]

Uses the shared ResNet-20 (../shared/data/resnet20-cifar10 from the repo root) and CIFAR-10
subset (../shared/data/cifar10); tests that need them are skipped, with the reason, where they
are absent. Needs Debian's python3-torch, python3-onnx, python3-numpy (if the `python3` on PATH
lacks torch, the script re-runs itself with /usr/bin/python3). About a minute on 2 cores.
"""
import os
import subprocess
import sys

try:
    import numpy as np
    import onnx
    import torch
    from onnx import helper, numpy_helper, TensorProto
except ImportError as _e:
    if os.path.exists("/usr/bin/python3") and \
            os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    print(f"test_finetune: cannot import {_e.name}: install python3-torch python3-onnx "
          f"python3-numpy (Debian)", file=sys.stderr)
    sys.exit(1)

import contextlib
import io
import shutil
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python"))

from imcsim_torch import data as data_mod  # noqa: E402
from imcsim_torch import finetune, onnx_torch  # noqa: E402

SHARED = os.path.normpath(os.path.join(ROOT, "..", "shared", "data"))
NET_DIR = os.path.join(SHARED, "resnet20-cifar10", "onnx")
MODEL = os.path.join(NET_DIR, "model.onnx")
CIFAR = os.path.join(SHARED, "cifar10")
SCRIPT = os.path.join(ROOT, "scripts", "finetune")
HAVE_SHARED = os.path.isfile(MODEL) and os.path.isfile(os.path.join(CIFAR, "dataset.yaml"))
NEED_SHARED = unittest.skipUnless(
    HAVE_SHARED, f"shared network/data set not found at {MODEL} and {CIFAR} "
                 f"(../shared/data from the repo root)")

torch.set_num_threads(2)


def run_main(argv):
    """finetune.main in-process, stderr captured; returns (exit code, stderr text)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = finetune.main(argv)
    return rc, err.getvalue()


def make_student(path, seed=7, noise=0.05, zero_fraction=0.1):
    """The shared network with every Conv weight perturbed by `noise` x its std of Gaussian
    noise and `zero_fraction` of its entries set to exactly 0 (pruned), all seeded."""
    model = onnx.load(MODEL)
    rng = np.random.default_rng(seed)
    inits = {t.name: t for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type != "Conv":
            continue
        t = inits[node.input[1]]
        w = numpy_helper.to_array(t).astype(np.float32)
        w = w + rng.normal(0, noise * w.std(), w.shape).astype(np.float32)
        w[rng.random(w.shape) < zero_fraction] = 0.0
        t.CopyFrom(numpy_helper.from_array(w, t.name))
    onnx.save(model, path)
    return model


def structure(model):
    nodes = [(n.op_type, list(n.input), list(n.output),
              [a.SerializeToString() for a in n.attribute]) for n in model.graph.node]
    inits = [(t.name, list(t.dims), t.data_type) for t in model.graph.initializer]
    return nodes, inits


class InterpreterOnSharedNet(unittest.TestCase):
    @NEED_SHARED
    def test_reproduces_reference_logits(self):
        m = onnx_torch.load(MODEL)
        x = numpy_helper.to_array(onnx.load_tensor(os.path.join(NET_DIR, "test_data_set_0",
                                                                "input_0.pb")))
        ref = numpy_helper.to_array(onnx.load_tensor(os.path.join(NET_DIR, "test_data_set_0",
                                                                  "output_0.pb")))
        with torch.no_grad():
            out = m(torch.from_numpy(x.copy())).numpy()
        self.assertEqual(out.shape, ref.shape)
        self.assertLess(float(np.abs(out - ref).max()), 1e-4)
        self.assertEqual(m.fused_gelus, 19)
        plain = onnx_torch.OnnxModule(onnx.load(MODEL), fuse_gelu=False)  # node by node
        with torch.no_grad():
            out_plain = plain(torch.from_numpy(x.copy())).numpy()
        self.assertLess(float(np.abs(out_plain - ref).max()), 1e-4)
        # GELU constants stay constants: only Conv/Gemm/BN scale+shift are trained.
        self.assertNotIn("stem.gelu.sqrt2", m.trainable_names())
        self.assertEqual(len(m.trainable_names()), 21 + 2 + 21 * 2)

    @NEED_SHARED
    def test_float_top1_is_439_of_512(self):
        m = onnx_torch.load(MODEL)
        split = data_mod.load_split(CIFAR, "test")
        self.assertEqual(len(split), 512)
        correct = 0
        with torch.no_grad():
            for b in range(0, 512, 128):
                idx = slice(b, b + 128)
                correct += int((m(split.normalized(idx)).argmax(1) == split.targets(idx)).sum())
        self.assertEqual(correct, 439)

    @NEED_SHARED
    def test_export_equals_module(self):
        m = onnx_torch.load(MODEL)
        g = torch.Generator().manual_seed(3)
        with torch.no_grad():
            for name in m.trainable_names():
                p = m.param(name)
                p.add_(0.01 * torch.randn(p.shape, generator=g))
        exported = onnx_torch.export(m)
        self.assertEqual(structure(exported), structure(m.model))
        again = onnx_torch.OnnxModule(exported)
        x = torch.randn(4, 3, 32, 32, generator=g)
        with torch.no_grad():
            self.assertTrue(torch.equal(m(x), again(x)))
        # Exporting the untouched model reproduces the input bytes.
        fresh = onnx_torch.load(MODEL)
        self.assertEqual(onnx_torch.export(fresh).SerializeToString(),
                         onnx.load(MODEL).SerializeToString())


def _tiny_model(nodes, inits, in_shape, out_name="y", opset=13):
    graph = helper.make_graph(
        nodes, "t", [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, None)],
        [numpy_helper.from_array(v, k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


class InterpreterOps(unittest.TestCase):
    """Small graphs checked against direct numpy computations."""

    def run_graph(self, model, x):
        with torch.no_grad():
            return onnx_torch.OnnxModule(model)(torch.from_numpy(x)).numpy()

    def test_conv_asymmetric_pads_stride_bias(self):
        rng = np.random.default_rng(0)
        x = rng.normal(size=(1, 2, 5, 6)).astype(np.float32)
        w = rng.normal(size=(3, 2, 3, 3)).astype(np.float32)
        b = rng.normal(size=(3,)).astype(np.float32)
        pads = [1, 0, 2, 1]  # top, left, bottom, right
        node = helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=pads, strides=[2, 1])
        y = self.run_graph(_tiny_model([node], {"w": w, "b": b}, [1, 2, 5, 6]), x)
        xp = np.pad(x, ((0, 0), (0, 0), (1, 2), (0, 1)))
        ho, wo = (xp.shape[2] - 3) // 2 + 1, xp.shape[3] - 3 + 1
        ref = np.zeros((1, 3, ho, wo), np.float64)
        for o in range(3):
            for i in range(ho):
                for j in range(wo):
                    ref[0, o, i, j] = (xp[0, :, 2 * i:2 * i + 3, j:j + 3] * w[o]).sum() + b[o]
        np.testing.assert_allclose(y, ref, atol=1e-5)

    def test_average_pool_count_include_pad(self):
        x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
        for include, corner in ((1, (0 + 1 + 4 + 5) / 9.0), (0, (0 + 1 + 4 + 5) / 4.0)):
            node = helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3],
                                    pads=[1, 1, 1, 1], count_include_pad=include)
            y = self.run_graph(_tiny_model([node], {}, [1, 1, 4, 4]), x)
            self.assertAlmostEqual(float(y[0, 0, 0, 0]), corner, places=5)
        node = helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[2, 2],
                                pads=[0, 0, 1, 1], strides=[2, 2])
        y = self.run_graph(_tiny_model([node], {}, [1, 1, 4, 4]), x)
        self.assertEqual(y.shape, (1, 1, 2, 2))
        self.assertAlmostEqual(float(y[0, 0, 1, 1]), (10 + 11 + 14 + 15) / 4.0, places=5)

    def test_maxpool_gemm_clip_reshape(self):
        rng = np.random.default_rng(1)
        x = rng.normal(size=(2, 1, 4, 4)).astype(np.float32)
        w = rng.normal(size=(5, 4)).astype(np.float32)   # used as B^T with transB on (N, 4)
        c = rng.normal(size=(5,)).astype(np.float32)
        nodes = [
            helper.make_node("MaxPool", ["x"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
            helper.make_node("Constant", [], ["shape"],
                             value=numpy_helper.from_array(np.array([0, -1], np.int64))),
            helper.make_node("Reshape", ["p", "shape"], ["r"]),
            helper.make_node("Gemm", ["r", "w", "c"], ["g"], alpha=0.5, beta=2.0, transB=1),
            helper.make_node("Clip", ["g", "lo", "hi"], ["y"]),
        ]
        inits = {"w": w, "c": c, "lo": np.array(-0.3, np.float32),
                 "hi": np.array(0.4, np.float32)}
        y = self.run_graph(_tiny_model(nodes, inits, [2, 1, 4, 4]), x)
        p = x.reshape(2, 1, 2, 2, 2, 2).max(axis=(3, 5)).reshape(2, 4)
        ref = np.clip(0.5 * p @ w.T + 2.0 * c, -0.3, 0.4)
        np.testing.assert_allclose(y, ref, atol=1e-5)
        m = onnx_torch.OnnxModule(_tiny_model(nodes, inits, [2, 1, 4, 4]))
        self.assertEqual(sorted(m.trainable_names()), ["c", "w"])  # Clip bounds stay constant

    def test_clip_attributes_opset7(self):
        x = np.linspace(-2, 2, 8, dtype=np.float32).reshape(1, 8)
        node = helper.make_node("Clip", ["x"], ["y"], min=-1.0, max=0.5)
        y = self.run_graph(_tiny_model([node], {}, [1, 8], opset=7), x)
        np.testing.assert_allclose(y, np.clip(x, -1, 0.5))

    def test_unsupported_op_named(self):
        node = helper.make_node("Softmax", ["x"], ["y"], name="head")
        with self.assertRaises(onnx_torch.OnnxImportError) as cm:
            onnx_torch.OnnxModule(_tiny_model([node], {}, [1, 4]), source="m.onnx")
        msg = str(cm.exception)
        for part in ("m.onnx", "head", "Softmax"):
            self.assertIn(part, msg)

    def test_pruned_zeros_masked(self):
        w = np.ones((2, 1, 1, 1), np.float32)
        w[1] = 0.0
        node = helper.make_node("Conv", ["x", "w"], ["y"])
        m = onnx_torch.OnnxModule(_tiny_model([node], {"w": w}, [1, 1, 2, 2]))
        self.assertEqual(m.masked_names(), ["w"])
        with torch.no_grad():
            m.param("w").add_(1.0)
        m.apply_masks()
        self.assertEqual(m.param("w").detach().numpy().ravel().tolist(), [2.0, 0.0])


@NEED_SHARED
class FineTune(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="imcsim-finetune-test-")
        cls.student = os.path.join(cls.tmp, "student.onnx")
        make_student(cls.student)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def args(self, out, *extra, images=128, epochs=1):
        return ["--student", self.student, "--teacher", MODEL, "--dataset", CIFAR,
                "-o", out, "--epochs", str(epochs), "--images", str(images),
                "--batch", "32", "--threads", "2", *extra]

    def fixed_batch_kd(self, path, split):
        m = onnx_torch.load(path)
        teacher = onnx_torch.load(MODEL)
        x, y = split.normalized(slice(0, 256)), split.targets(slice(0, 256))
        with torch.no_grad():
            _, kd, _ = finetune.distillation_loss(m(x), teacher(x), y, 4.0, 0.9)
        return float(kd)

    def test_smoke_lowers_loss_keeps_structure_and_zeros(self):
        out = os.path.join(self.tmp, "smoke.onnx")
        log = os.path.join(self.tmp, "smoke.json")
        rc, err = run_main(self.args(out, "--log", log, images=256))
        self.assertEqual(rc, 0, err)
        self.assertRegex(err, r"finetune: epoch 1/1 loss [0-9.]+ \(kd [0-9.]+, ce [0-9.]+\) "
                              r"train top-1 [0-9.]+% [0-9.]+ s")
        split = data_mod.load_split(CIFAR, "train", 256)
        before = self.fixed_batch_kd(self.student, split)
        after = self.fixed_batch_kd(out, split)
        print(f"\n  smoke fine-tune: distillation loss on 256 fixed training images "
              f"{before:.4f} -> {after:.4f}", file=sys.stderr)
        self.assertLess(after, before)
        src, res = onnx.load(self.student), onnx.load(out)
        onnx.checker.check_model(res)
        self.assertEqual(structure(res), structure(src))
        si = {t.name: numpy_helper.to_array(t) for t in src.graph.initializer}
        changed = 0
        for t in res.graph.initializer:
            a, b = si[t.name], numpy_helper.to_array(t)
            self.assertEqual(a.dtype, b.dtype)
            if t.name.endswith("running_mean") or t.name.endswith("running_var") or a.ndim == 0:
                np.testing.assert_array_equal(a, b, err_msg=f"{t.name} must not change")
            if a.ndim == 4:  # Conv weights: pruned zeros stay exactly zero
                self.assertTrue(np.all(b[a == 0] == 0), t.name)
                changed += int(not np.array_equal(a, b))
        self.assertGreater(changed, 0)
        with open(log) as f:
            doc = __import__("json").load(f)
        self.assertEqual(len(doc["epochs"]), 1)
        for k in ("loss", "kd_loss", "ce_loss", "train_top1", "seconds"):
            self.assertIn(k, doc["epochs"][0])

    def test_deterministic_and_resumable(self):
        outs = []
        for k in range(2):
            out = os.path.join(self.tmp, f"det{k}.onnx")
            rc, err = run_main(self.args(out, images=64, epochs=2))
            self.assertEqual(rc, 0, err)
            with open(out, "rb") as f:
                outs.append(f.read())
        self.assertEqual(outs[0], outs[1], "two identical runs must give identical bytes")
        # A run interrupted after epoch 1 and rerun gives the same bytes as an uninterrupted one.
        state = os.path.join(self.tmp, "state")
        out = os.path.join(self.tmp, "resumed.onnx")
        rc, err = run_main(self.args(out, "--state-dir", state, images=64, epochs=2))
        self.assertEqual(rc, 0, err)
        os.remove(os.path.join(state, "epoch-002.pt"))
        os.remove(out)
        rc, err = run_main(self.args(out, "--state-dir", state, images=64, epochs=2))
        self.assertEqual(rc, 0, err)
        self.assertIn("resuming after epoch 1", err)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), outs[0])
        # A checkpoint of other options is refused, not silently reused.
        rc, err = run_main(self.args(out + "2", "--state-dir", state, "--seed", "2", images=64,
                                     epochs=2))
        self.assertEqual(rc, 1)
        self.assertIn("different run", err)
        self.assertFalse(os.path.exists(out + "2"))


class Errors(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="imcsim-finetune-err-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def make_dataset(self, labels, images=None):
        d = os.path.join(self.tmp, "ds")
        os.makedirs(d, exist_ok=True)
        n = len(labels)
        imgs = np.zeros((n, 3, 32, 32), np.uint8) if images is None else images
        np.save(os.path.join(d, "train_images.npy"), imgs)
        np.save(os.path.join(d, "train_labels.npy"), np.array(labels, np.uint8))
        with open(os.path.join(d, "dataset.yaml"), "w") as f:
            f.write("name: tiny\nclasses: [a, b, c, d, e, f, g, h, i, j]\nlayout: NCHW\n"
                    "splits:\n  train: {images: train_images.npy, labels: train_labels.npy}\n"
                    "preprocess:\n  scale: 0.00392156862745098\n"
                    "  mean: [0.4914, 0.4822, 0.4465]\n  std: [0.2023, 0.1994, 0.2010]\n")
        return d

    def cli(self, *argv):
        return subprocess.run([sys.executable, SCRIPT, *argv], capture_output=True, text=True,
                              timeout=120)

    @NEED_SHARED
    def test_test_split_refused(self):
        out = os.path.join(self.tmp, "out.onnx")
        r = self.cli("--student", MODEL, "--teacher", MODEL, "--dataset", CIFAR,
                     "--split", "test", "-o", out)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("test split is for measuring only", r.stderr)
        self.assertFalse(os.path.exists(out))

    @NEED_SHARED
    def test_label_out_of_range_refused(self):
        d = self.make_dataset([0, 3, 10, 2])
        out = os.path.join(self.tmp, "out.onnx")
        r = self.cli("--student", MODEL, "--teacher", MODEL, "--dataset", d, "-o", out)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("train_labels.npy", r.stderr)
        self.assertIn("splits.train.labels", r.stderr)
        self.assertIn("label 10 at index 2", r.stderr)
        self.assertEqual(os.listdir(self.tmp), ["ds"])  # nothing written, no temp file

    def test_dataset_errors_name_file_and_key(self):
        d = self.make_dataset([0, 1, 2])
        with self.assertRaisesRegex(data_mod.DatasetError, r"dataset.yaml: key splits.val "
                                                           r"is missing"):
            data_mod.load_split(d, "val")
        np.save(os.path.join(d, "train_labels.npy"), np.array([0, 1], np.uint8))
        with self.assertRaisesRegex(data_mod.DatasetError, r"train_labels.npy: key "
                                                           r"splits.train.labels has 2 labels"):
            data_mod.load_split(d, "train")
        np.save(os.path.join(d, "train_images.npy"), np.zeros((2, 3, 32, 32), np.float32))
        with self.assertRaisesRegex(data_mod.DatasetError, r"train_images.npy: key "
                                                           r"splits.train.images must be uint8"):
            data_mod.load_split(d, "train")
        os.remove(os.path.join(d, "train_images.npy"))
        with self.assertRaisesRegex(data_mod.DatasetError, r"train_images.npy: no such file"):
            data_mod.load_split(d, "train")

    def test_mini_yaml_parser_matches_pyyaml(self):
        path = os.path.join(CIFAR, "dataset.yaml")
        if not os.path.isfile(path):
            path = os.path.join(self.make_dataset([0]), "dataset.yaml")
        with open(path) as f:
            text = f.read()
        try:
            import yaml
        except ImportError:
            self.skipTest("PyYAML not installed: nothing to compare the fallback parser with")
        self.assertEqual(data_mod._mini_yaml(text), yaml.safe_load(text))


if __name__ == "__main__":
    unittest.main(verbosity=2)
