"""Run an ONNX CNN graph as a trainable PyTorch module, and write trained values back.

imcsim's compression tools write a compressed network as ONNX; `scripts/finetune` recovers its
accuracy by knowledge distillation (REFERENCE §13: fine-tuning is knowledge distillation from
the uncompressed network on the shared training images with the compressed structure held
fixed). To hold the structure fixed, the network is not rebuilt as a hand-written model:
`OnnxModule` executes the ONNX graph itself, node by node, so the trained result can be written
back into the very same graph (same nodes, same initializer names, dtypes and shapes; only
values change) and the C++ tools read it exactly as they read the input.

What is trainable, and why:
  * An initializer is an `nn.Parameter` only if some node consumes it as a Conv W or B, a Gemm
    B or C, a MatMul B, or a BatchNormalization scale or B input. Everything else (the scalar
    constants of the GELU pattern Div(x, sqrt 2) -> Erf -> Add 1 -> Mul x -> Mul 0.5 that
    PyTorch exports below opset 20, Reshape shapes, Clip bounds, ...) stays a constant.
  * BatchNormalization always runs in inference form with its running mean and variance held
    as buffers: fine-tuning keeps the BN statistics frozen (they are part of the compressed
    network the simulator evaluates; re-estimating them is a separate step).
  * Pruning masks: every trainable Conv W / Gemm B / MatMul B weight that holds at least one
    exact 0.0 gets the mask `w != 0`, and `apply_masks()` (called after every optimizer step)
    multiplies it back in, so pruned weights stay exactly zero. This is done for every model,
    compressed or not: a dense trained float weight practically never holds an exact zero, so
    masking exact zeros only ever affects pruned positions.

Supported operators (default domain, opset 7..17 semantics): Conv, BatchNormalization, Relu,
Clip, Add, Sub, Mul, Div, Erf, Gelu, MaxPool, AveragePool, GlobalAveragePool, Flatten, Gemm,
MatMul, Constant, Reshape (constant shape), Identity. Anything else is refused at load time
with an `OnnxImportError` naming the file, the node and its op type.
"""
import copy
import math

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import numpy_helper

SUPPORTED_OPS = frozenset([
    "Conv", "BatchNormalization", "Relu", "Clip", "Add", "Sub", "Mul", "Div", "Erf", "Gelu",
    "MaxPool", "AveragePool", "GlobalAveragePool", "Flatten", "Gemm", "MatMul", "Constant",
    "Reshape", "Identity",
])

# (op type, input index) pairs whose initializer is a trainable parameter.
_TRAINABLE_SLOTS = {("Conv", 1), ("Conv", 2), ("Gemm", 1), ("Gemm", 2), ("MatMul", 1),
                    ("BatchNormalization", 1), ("BatchNormalization", 2)}
# Slots whose weights get a pruning mask when they hold exact zeros.
_MASKED_SLOTS = {("Conv", 1), ("Gemm", 1), ("MatMul", 1)}


class OnnxImportError(ValueError):
    """A model the interpreter cannot run; the message names the file and the node."""


def _attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _node_label(node, index):
    return f"node #{index} {node.name!r} ({node.op_type})" if node.name else \
        f"node #{index} ({node.op_type}, output {node.output[0] if node.output else '?'!r})"


def _pair_pads(pads, rank):
    """ONNX pads [b1..bn, e1..en] -> (begin, end) lists; None -> zeros."""
    if not pads:
        return [0] * rank, [0] * rank
    return list(pads[:rank]), list(pads[rank:])


def _torch_pad_arg(begin, end):
    """F.pad takes (last-dim begin, last-dim end, previous-dim begin, ...)."""
    out = []
    for b, e in zip(reversed(begin), reversed(end)):
        out += [b, e]
    return out


class OnnxModule(nn.Module):
    """Executes an ONNX graph (one float input, one output) as a differentiable module.

    model: an `onnx.ModelProto`; source: the file it came from, used in error messages.
    `forward(x)` takes the graph's input (any batch size) and returns its first output.
    fuse_gelu: run the exported GELU pattern as one F.gelu (see `_fuse_gelu`).
    The module has no training-mode behaviour (BN is always inference form), so
    `train()`/`eval()` do not change what it computes.
    """

    def __init__(self, model, source="<model>", fuse_gelu=True):
        super().__init__()
        self.source = source
        self.model = model
        graph = model.graph
        opsets = {o.domain: o.version for o in model.opset_import}
        self.opset = opsets.get("", opsets.get("ai.onnx", 13))
        inits = {t.name: t for t in graph.initializer}
        self.input_names = [i.name for i in graph.input if i.name not in inits]
        self.output_names = [o.name for o in graph.output]
        if len(self.input_names) != 1 or len(self.output_names) < 1:
            raise OnnxImportError(
                f"{source}: expected one graph input and at least one output, got inputs "
                f"{self.input_names} and outputs {self.output_names}")

        # Which initializers are trainable / masked, and check every node is supported.
        trainable, masked = set(), set()
        for i, node in enumerate(graph.node):
            if node.domain not in ("", "ai.onnx") or node.op_type not in SUPPORTED_OPS:
                dom = f" in domain {node.domain!r}" if node.domain else ""
                raise OnnxImportError(
                    f"{source}: {_node_label(node, i)}: unsupported op type "
                    f"{node.op_type!r}{dom} (supported: {', '.join(sorted(SUPPORTED_OPS))})")
            for k, name in enumerate(node.input):
                if name in inits and (node.op_type, k) in _TRAINABLE_SLOTS:
                    trainable.add(name)
                    if (node.op_type, k) in _MASKED_SLOTS:
                        masked.add(name)

        self._param_attr = {}   # ONNX initializer name -> attribute holding the parameter
        self._const_attr = {}   # ONNX name -> buffer attribute (non-trainable tensors)
        self._mask_attr = {}    # ONNX initializer name -> mask buffer attribute
        for t in graph.initializer:
            arr = numpy_helper.to_array(t)
            if t.name in trainable:
                if t.data_type != onnx.TensorProto.FLOAT:
                    raise OnnxImportError(
                        f"{source}: initializer {t.name!r} is trained but has data type "
                        f"{onnx.TensorProto.DataType.Name(t.data_type)}; only FLOAT is supported")
                if not np.all(np.isfinite(arr)):
                    raise OnnxImportError(f"{source}: initializer {t.name!r} holds NaN or Inf")
                attr = f"p{len(self._param_attr)}"
                self.register_parameter(attr, nn.Parameter(torch.from_numpy(arr.copy())))
                self._param_attr[t.name] = attr
                if t.name in masked and np.any(arr == 0):
                    mattr = f"m{len(self._mask_attr)}"
                    self.register_buffer(mattr, torch.from_numpy(arr != 0).to(torch.float32))
                    self._mask_attr[t.name] = mattr
            else:
                self._add_const(t.name, arr)

        # Constant nodes are evaluated once, here.
        self._nodes = []
        for i, node in enumerate(graph.node):
            a = _attrs(node)
            if node.op_type == "Constant":
                self._add_const(node.output[0], self._constant_value(node, i, a))
                continue
            self._check_node(node, i, a)
            self._nodes.append((i, node, a))
        self.fused_gelus = self._fuse_gelu() if fuse_gelu else 0

    def _scalar_const(self, name, value):
        if name not in self._const_attr:
            return False
        t = getattr(self, self._const_attr[name])
        return t.numel() == 1 and abs(float(t.reshape(())) - value) <= 1e-6 * abs(value)

    def _fuse_gelu(self):
        """Run each exported-GELU chain Div(x, sqrt 2) -> Erf -> Add 1 -> Mul x -> Mul 0.5 as
        one exact F.gelu (the same function; about half the time and memory of the five ops).
        Only chains whose intermediates feed nothing else and are not graph outputs are fused;
        this changes how the graph is executed, never the graph that is exported."""
        consumers = {}
        for pos, (_, node, _) in enumerate(self._nodes):
            for name in node.input:
                consumers.setdefault(name, []).append(pos)
        outputs = set(self.output_names)

        def only_consumer(name, op):
            if name in outputs or len(consumers.get(name, [])) != 1:
                return None
            pos = consumers[name][0]
            return pos if self._nodes[pos][1].op_type == op else None

        def other(node, name):
            rest = [n for n in node.input if n != name]
            return rest[0] if len(rest) == 1 else None

        drop, replace = set(), {}
        for pos, (i, node, _) in enumerate(self._nodes):
            if node.op_type != "Div" or not self._scalar_const(node.input[1], math.sqrt(2)):
                continue
            x = node.input[0]
            p_erf = only_consumer(node.output[0], "Erf")
            p_add = None if p_erf is None else only_consumer(self._nodes[p_erf][1].output[0], "Add")
            if p_add is None or not self._scalar_const(
                    other(self._nodes[p_add][1], self._nodes[p_erf][1].output[0]) or "", 1.0):
                continue
            p_mul = only_consumer(self._nodes[p_add][1].output[0], "Mul")
            if p_mul is None or other(self._nodes[p_mul][1], self._nodes[p_add][1].output[0]) != x:
                continue
            p_half = only_consumer(self._nodes[p_mul][1].output[0], "Mul")
            if p_half is None or not self._scalar_const(
                    other(self._nodes[p_half][1], self._nodes[p_mul][1].output[0]) or "", 0.5):
                continue
            last = self._nodes[p_half]
            fused = onnx.helper.make_node("Gelu", [x], [last[1].output[0]],
                                          name=f"fused GELU of {node.name or node.output[0]}")
            drop.update([pos, p_erf, p_add, p_mul])
            replace[p_half] = (last[0], fused, {})
        self._nodes = [replace.get(pos, entry) for pos, entry in enumerate(self._nodes)
                       if pos not in drop]
        return len(replace)

    # -- construction helpers ------------------------------------------------------------
    def _add_const(self, name, arr):
        attr = f"c{len(self._const_attr)}"
        arr = np.array(arr)  # 0-d stays 0-d; copies so the buffer owns its memory
        self.register_buffer(attr, torch.from_numpy(arr), persistent=False)
        self._const_attr[name] = attr

    def _constant_value(self, node, i, a):
        if "value" in a:
            return numpy_helper.to_array(a["value"])
        if "value_float" in a:
            return np.array(a["value_float"], dtype=np.float32)
        if "value_floats" in a:
            return np.array(a["value_floats"], dtype=np.float32)
        if "value_int" in a:
            return np.array(a["value_int"], dtype=np.int64)
        if "value_ints" in a:
            return np.array(a["value_ints"], dtype=np.int64)
        raise OnnxImportError(f"{self.source}: {_node_label(node, i)}: Constant without a "
                              f"supported value attribute (have {sorted(a)})")

    def _fail(self, node, i, what):
        raise OnnxImportError(f"{self.source}: {_node_label(node, i)}: {what}")

    def _check_node(self, node, i, a):
        op = node.op_type
        if op in ("Conv", "MaxPool", "AveragePool"):
            auto_pad = a.get("auto_pad", b"NOTSET")
            auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
            if auto_pad not in ("NOTSET", "VALID"):
                self._fail(node, i, f"auto_pad {auto_pad} is not supported (NOTSET, VALID)")
        if op == "MaxPool" and len([o for o in node.output if o]) > 1:
            self._fail(node, i, "the Indices output of MaxPool is not supported")
        if op == "BatchNormalization":
            if a.get("training_mode", 0):
                self._fail(node, i, "training_mode=1 is not supported (inference BN only)")
            if a.get("spatial", 1) != 1:
                self._fail(node, i, "spatial=0 is not supported")
        if op == "Reshape" and (len(node.input) < 2 or node.input[1] not in self._const_attr):
            self._fail(node, i, "Reshape needs a constant shape (an initializer or Constant)")
        if op == "Gelu" and a.get("approximate", b"none") not in (b"none", b"tanh", "none", "tanh"):
            self._fail(node, i, f"unknown Gelu approximate {a.get('approximate')!r}")

    # -- parameters and masks --------------------------------------------------------------
    def trainable_names(self):
        """ONNX names of the trainable initializers, in graph order."""
        return list(self._param_attr)

    def param(self, name):
        return getattr(self, self._param_attr[name])

    def masked_names(self):
        return list(self._mask_attr)

    def mask(self, name):
        return getattr(self, self._mask_attr[name])

    def weight_names(self):
        """Trainable Conv W / Gemm B / MatMul B initializers (the ones weight decay acts on)."""
        names = []
        for node in self.model.graph.node:
            slot = {"Conv": 1, "Gemm": 1, "MatMul": 1}.get(node.op_type)
            if slot is not None and len(node.input) > slot and node.input[slot] in self._param_attr:
                names.append(node.input[slot])
        return list(dict.fromkeys(names))

    @torch.no_grad()
    def apply_masks(self):
        """Re-zero pruned weights (call after every optimizer step)."""
        for name, mattr in self._mask_attr.items():
            self.param(name).mul_(getattr(self, mattr))

    # -- execution -------------------------------------------------------------------------
    def _get(self, env, name):
        if name in env:
            return env[name]
        if name in self._param_attr:
            return getattr(self, self._param_attr[name])
        if name in self._const_attr:
            return getattr(self, self._const_attr[name])
        raise KeyError(name)

    def forward(self, x):
        env = {self.input_names[0]: x}
        for i, node, a in self._nodes:
            ins = []
            for name in node.input:
                if not name:
                    ins.append(None)
                    continue
                try:
                    ins.append(self._get(env, name))
                except KeyError:
                    self._fail(node, i, f"input {name!r} is not produced by any earlier node")
            env[node.output[0]] = getattr(self, "_op_" + node.op_type)(node, i, a, ins)
        return env[self.output_names[0]]

    # Each _op_X(node, index, attrs, inputs) returns the node's first output.
    def _op_Identity(self, node, i, a, x):
        return x[0]

    def _op_Relu(self, node, i, a, x):
        return F.relu(x[0])

    def _op_Erf(self, node, i, a, x):
        return torch.erf(x[0])

    def _op_Gelu(self, node, i, a, x):
        approx = a.get("approximate", b"none")
        approx = approx.decode() if isinstance(approx, bytes) else approx
        return F.gelu(x[0], approximate=approx)

    def _op_Add(self, node, i, a, x):
        return x[0] + x[1]

    def _op_Sub(self, node, i, a, x):
        return x[0] - x[1]

    def _op_Mul(self, node, i, a, x):
        return x[0] * x[1]

    def _op_Div(self, node, i, a, x):
        if not x[0].is_floating_point() and not x[1].is_floating_point():
            return torch.div(x[0], x[1], rounding_mode="trunc")
        return x[0] / x[1]

    def _op_Clip(self, node, i, a, x):
        lo = x[1] if len(x) > 1 else None
        hi = x[2] if len(x) > 2 else None
        if lo is None and "min" in a:
            lo = a["min"]
        if hi is None and "max" in a:
            hi = a["max"]
        if isinstance(lo, torch.Tensor):
            lo = lo.to(x[0].dtype)
        if isinstance(hi, torch.Tensor):
            hi = hi.to(x[0].dtype)
        if lo is None and hi is None:
            return x[0]
        return torch.clamp(x[0], min=lo, max=hi)

    def _op_Conv(self, node, i, a, x):
        inp, w = x[0], x[1]
        b = x[2] if len(x) > 2 else None
        rank = w.dim() - 2
        if rank not in (1, 2, 3):
            self._fail(node, i, f"{rank}-d convolution is not supported")
        strides = list(a.get("strides", [1] * rank))
        dil = list(a.get("dilations", [1] * rank))
        group = a.get("group", 1)
        auto_pad = a.get("auto_pad", b"NOTSET")
        begin, end = _pair_pads(None if auto_pad in (b"VALID", "VALID") else a.get("pads"), rank)
        if begin == end:
            padding = begin
        else:
            inp = F.pad(inp, _torch_pad_arg(begin, end))
            padding = [0] * rank
        conv = (F.conv1d, F.conv2d, F.conv3d)[rank - 1]
        return conv(inp, w, b, stride=strides, padding=padding, dilation=dil, groups=group)

    def _op_BatchNormalization(self, node, i, a, x):
        return F.batch_norm(x[0], x[3], x[4], x[1], x[2], training=False, momentum=0.0,
                            eps=a.get("epsilon", 1e-5))

    def _pool_geometry(self, node, i, a, x):
        k = list(a["kernel_shape"])
        rank = len(k)
        if rank not in (1, 2, 3):
            self._fail(node, i, f"{rank}-d pooling is not supported")
        strides = list(a.get("strides", [1] * rank))
        auto_pad = a.get("auto_pad", b"NOTSET")
        begin, end = _pair_pads(None if auto_pad in (b"VALID", "VALID") else a.get("pads"), rank)
        return k, rank, strides, begin, end, bool(a.get("ceil_mode", 0))

    def _op_MaxPool(self, node, i, a, x):
        k, rank, strides, begin, end, ceil = self._pool_geometry(node, i, a, x)
        dil = list(a.get("dilations", [1] * rank))
        inp = x[0]
        if begin == end:
            padding = begin
        else:
            inp = F.pad(inp, _torch_pad_arg(begin, end), value=-math.inf)
            padding = [0] * rank
        pool = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[rank - 1]
        return pool(inp, k, strides, padding, dil, ceil_mode=ceil)

    def _op_AveragePool(self, node, i, a, x):
        k, rank, strides, begin, end, ceil = self._pool_geometry(node, i, a, x)
        include = bool(a.get("count_include_pad", 0))
        pool = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d)[rank - 1]
        if begin == end:
            return pool(x[0], k, strides, begin, ceil_mode=ceil, count_include_pad=include)
        # Asymmetric pads: pad explicitly, then divide by the count of real (or all) cells.
        padded = F.pad(x[0], _torch_pad_arg(begin, end))
        s = pool(padded, k, strides, 0, ceil_mode=ceil, count_include_pad=True)
        if include:
            return s
        ones = F.pad(torch.ones_like(x[0][:1, :1]), _torch_pad_arg(begin, end))
        frac = pool(ones, k, strides, 0, ceil_mode=ceil, count_include_pad=True)
        return s / frac

    def _op_GlobalAveragePool(self, node, i, a, x):
        return x[0].mean(dim=tuple(range(2, x[0].dim())), keepdim=True)

    def _op_Flatten(self, node, i, a, x):
        axis = a.get("axis", 1)
        if axis < 0:
            axis += x[0].dim()
        lead = 1
        for d in x[0].shape[:axis]:
            lead *= d
        return x[0].reshape(lead, -1)

    def _op_Gemm(self, node, i, a, x):
        A, B = x[0], x[1]
        C = x[2] if len(x) > 2 else None
        if a.get("transA", 0):
            A = A.t()
        if a.get("transB", 0):
            B = B.t()
        y = A @ B
        alpha, beta = a.get("alpha", 1.0), a.get("beta", 1.0)
        if alpha != 1.0:
            y = y * alpha
        if C is not None:
            y = y + (C * beta if beta != 1.0 else C)
        return y

    def _op_MatMul(self, node, i, a, x):
        return torch.matmul(x[0], x[1])

    def _op_Reshape(self, node, i, a, x):
        shape = [int(s) for s in x[1].tolist()]
        if not a.get("allowzero", 0):
            shape = [x[0].shape[j] if s == 0 else s for j, s in enumerate(shape)]
        return x[0].reshape(shape)


def load(path):
    """Load an ONNX file (external data included) as an `OnnxModule`; errors name the file."""
    try:
        model = onnx.load(path)
    except Exception as e:  # noqa: BLE001 - protobuf raises several types
        raise OnnxImportError(f"{path}: cannot read ONNX model: {e}") from e
    return OnnxModule(model, source=str(path))


def export(module):
    """A copy of the module's ModelProto with every trainable initializer set to its current
    value (float32, same dims, stored as raw_data; float_data and any external-data reference
    are cleared). The graph is otherwise untouched. Checked with `onnx.checker`."""
    model = copy.deepcopy(module.model)
    by_name = {t.name: t for t in model.graph.initializer}
    for name in module.trainable_names():
        t = by_name[name]
        arr = module.param(name).detach().cpu().numpy().astype("<f4", copy=False)
        if list(arr.shape) != list(t.dims):
            raise OnnxImportError(f"{module.source}: initializer {name!r} changed shape "
                                  f"{list(t.dims)} -> {list(arr.shape)}")
        if not np.all(np.isfinite(arr)):
            raise OnnxImportError(f"initializer {name!r} became NaN or Inf during training")
        t.ClearField("float_data")
        if t.data_location == onnx.TensorProto.EXTERNAL:
            t.ClearField("external_data")
            t.ClearField("data_location")
        t.raw_data = arr.tobytes()
    onnx.checker.check_model(model)
    return model
