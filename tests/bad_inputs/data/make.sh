#!/usr/bin/env bash
# Regenerates the binary inputs of the bad-input catalogue (tests/bad_inputs/*.case):
# small ONNX models and TensorProtos written from text with protoc and the system's
# onnx.proto, .npy files written byte by byte. Run from this folder; the outputs are
# committed so the catalogue needs neither protoc nor Python.
set -euo pipefail
cd "$(dirname "$0")"
proto=/usr/include/onnx/onnx.proto
enc() { protoc --proto_path=/usr/include --encode="onnx.$1" "$proto"; }

floats() { python3 -c "import sys; print(' '.join(['float_data: %g' % (((i * 37) % 17 - 8) / 8.0) for i in range(int(sys.argv[1]))]))" "$1"; }

value_info() {  # name dims...
  local name=$1; shift
  printf 'name: "%s" type { tensor_type { elem_type: 1 shape {' "$name"
  for d in "$@"; do printf ' dim { dim_value: %s }' "$d"; done
  printf ' } } }'
}

# conv(3->4, 3x3, pad 1) + Relu on a 1x3x8x8 input: a model the importer accepts.
model() {  # extra_node extra_output
  cat <<TXT
ir_version: 7
opset_import { domain: "" version: 13 }
producer_name: "imcsim tests/bad_inputs/data/make.sh"
graph {
  name: "tiny"
  node { input: "x" input: "w" output: "c" name: "conv" op_type: "Conv"
         attribute { name: "kernel_shape" ints: 3 ints: 3 type: INTS }
         attribute { name: "pads" ints: 1 ints: 1 ints: 1 ints: 1 type: INTS } }
  node { input: "c" output: "r" name: "relu" op_type: "Relu" }
  $1
  initializer { name: "w" data_type: 1 dims: 4 dims: 3 dims: 3 dims: 3 $(floats 108) }
  input { $(value_info x 1 3 8 8) }
  output { $(value_info "$2" 1 4 8 8) }
}
TXT
}
model "" r | enc ModelProto > tiny_conv.onnx
model 'node { input: "r" output: "y" name: "softmax" op_type: "Softmax" attribute { name: "axis" i: 1 type: INT } }' y \
  | enc ModelProto > softmax.onnx
head -c 100 tiny_conv.onnx > truncated.onnx
# An unsupported node with neither a name nor outputs (a fuzzing finding: the error message
# read output(0) of an empty list).
model 'node { input: "r" op_type: "Foo" }' r | enc ModelProto > nameless_node.onnx
: > empty.onnx

echo "dims: 1 dims: 3 dims: 8 dims: 8 data_type: 1 name: \"x\" $(floats 192)" | enc TensorProto > input.pb
head -c $(( $(stat -c %s input.pb) - 7 )) input.pb > truncated_input.pb
echo "dims: 1 dims: 3 dims: 4 dims: 4 data_type: 1 name: \"x\" $(floats 48)" | enc TensorProto > input_4x4.pb

# .npy version 1.0, little-endian float32, C order.
npy() {  # file shape-tuple count [truncate-bytes] [descr]
  python3 - "$@" <<'PY'
import struct, sys
path, shape, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
cut = int(sys.argv[4]) if len(sys.argv) > 4 else 0
descr = sys.argv[5] if len(sys.argv) > 5 else "<f4"
header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
pad = 64 - (10 + len(header) + 1) % 64
header += " " * pad + "\n"
data = b"".join(struct.pack("<f", ((i * 37) % 17 - 8) / 8.0) for i in range(count))
blob = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + data
open(path, "wb").write(blob[: len(blob) - cut] if cut else blob)
PY
}
mkdir -p weights_wrong_shape weights_truncated weights_not_npy weights_huge_dtype
npy weights_wrong_shape/c1.weight.npy "(4, 3, 5, 5)" 300
npy weights_truncated/c1.weight.npy "(4, 3, 3, 3)" 108 9
printf 'this is not a numpy file\n' > weights_not_npy/c1.weight.npy
# A dtype width of 20 digits (a fuzzing finding: std::stoi threw std::out_of_range).
npy weights_huge_dtype/c1.weight.npy "(4, 3, 3, 3)" 108 0 "<f99999999999999999999"

# Data set folders for `imcsim eval` / `imcsim calibrate` (workloads/dataset.hpp): a valid
# one (dataset_ok: 2 uint8 images 3x8x8, classes a, b) and one fault each.
dataset() {  # folder yaml-text images-descr images-shape images-count labels-descr labels-shape labels...
  mkdir -p "$1"
  printf '%s\n' "$2" > "$1/dataset.yaml"
  python3 - "$@" <<'PY'
import struct, sys
d, _, idescr, ishape, icount, ldescr, lshape = sys.argv[1:8]
labels = [int(x) for x in sys.argv[8:]]
def npy(path, descr, shape, payload):
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    header += " " * (64 - (10 + len(header) + 1) % 64) + "\n"
    open(path, "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + payload)
fmt = {"|u1": "B", "<f8": "d", "<f4": "f"}
n = int(icount)
npy(d + "/images.npy", idescr, ishape, struct.pack("<%d%s" % (n, fmt[idescr]), *[(i * 7) % 256 for i in range(n)]))
npy(d + "/labels.npy", ldescr, lshape, struct.pack("<%d%s" % (len(labels), fmt[ldescr]), *labels))
PY
}
ds_yaml() {  # extra-line [std]
  printf 'name: tiny\nclasses: [a, b]\nsplits:\n  test: {images: images.npy, labels: labels.npy}\n  train: {images: images.npy, labels: labels.npy}\npreprocess:\n  scale: 0.00392156862745098\n  mean: [0.5, 0.5, 0.5]\n  std: [%s]\n%s' "${2:-0.25, 0.25, 0.25}" "${1:-}"
}
dataset dataset_ok "$(ds_yaml)" "|u1" "(2, 3, 8, 8)" 384 "|u1" "(2,)" 0 1
dataset dataset_image_dtype "$(ds_yaml)" "<f8" "(2, 3, 8, 8)" 384 "|u1" "(2,)" 0 1
dataset dataset_label_range "$(ds_yaml)" "|u1" "(2, 3, 8, 8)" 384 "|u1" "(2,)" 0 5
dataset dataset_count_mismatch "$(ds_yaml)" "|u1" "(2, 3, 8, 8)" 384 "|u1" "(3,)" 0 1 1
dataset dataset_labels_float "$(ds_yaml)" "|u1" "(2, 3, 8, 8)" 384 "<f4" "(2,)" 0 1
dataset dataset_std_zero "$(ds_yaml '' '0.25, 0, 0.25')" "|u1" "(2, 3, 8, 8)" 384 "|u1" "(2,)" 0 1
dataset dataset_unknown_key "$(ds_yaml 'augment: flip')" "|u1" "(2, 3, 8, 8)" 384 "|u1" "(2,)" 0 1
dataset dataset_missing_npy "$(ds_yaml)" "|u1" "(2, 3, 8, 8)" 384 "|u1" "(2,)" 0 1
rm dataset_missing_npy/labels.npy
mkdir -p dataset_no_yaml && cp dataset_ok/images.npy dataset_no_yaml/
# Calibration files for tiny_conv.onnx, whose only quantized tensor is its input.
calib() { printf '# imcsim calibration\nnetwork: tiny\nbits: %s\ntensors:\n%s\n' "$2" "$3" > "$1"; }
calib calib_unknown_tensor.yaml 8 '  input: {scale: 0.01, zero_point: 128}
  conv: {scale: 0.01, zero_point: 0}'
calib calib_missing_tensor.yaml 8 '  {}'
calib calib_scale_zero.yaml 8 '  input: {scale: 0, zero_point: 128}'
calib calib_zero_point.yaml 4 '  input: {scale: 0.1, zero_point: 16}'
calib calib_unknown_key.yaml 8 '  input: {scale: 0.1, zero_point: 1, offset: 2}'
calib calib_ok_6bit.yaml 6 '  input: {scale: 0.1, zero_point: 32}'
printf 'arch: {rows: 64, cols: 64, input_bits: 8, weight_bits: 8}\n' > arch_8bit.yaml

# Bounded and hostile inputs (issue 16): non-finite values, negative variances, versions
# outside the supported range.
mkdir -p weights_nan weights_inf_bias weights_bn_negvar weights_f64_overflow
npy_values() {  # file shape descr values...
  python3 - "$@" <<'PY'
import struct, sys
path, shape, descr = sys.argv[1:4]
vals = [float(v) for v in sys.argv[4:]]
header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
header += " " * (64 - (10 + len(header) + 1) % 64) + "\n"
code = {"<f4": "f", "<f8": "d"}[descr]
open(path, "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode()
                       + struct.pack("<%d%s" % (len(vals), code), *vals))
PY
}
w108() { python3 -c "print(' '.join(str(((i * 37) % 17 - 8) / 8.0) for i in range(108)))"; }
# One NaN weight at [0, 1, 2, 0] (flat 15).
npy_values weights_nan/c1.weight.npy "(4, 3, 3, 3)" "<f4" $(w108 | awk '{$16="nan"; print}')
npy_values weights_f64_overflow/c1.weight.npy "(4, 3, 3, 3)" "<f8" $(w108 | awk '{$3="1e300"; print}')
for d in weights_inf_bias weights_bn_negvar; do npy_values $d/c1.weight.npy "(4, 3, 3, 3)" "<f4" $(w108); done
npy_values weights_inf_bias/c1.bias.npy "(4,)" "<f4" 0.1 inf 0.2 0.3
npy_values weights_bn_negvar/c1.bn.weight.npy "(4,)" "<f4" 1 1 1 1
npy_values weights_bn_negvar/c1.bn.bias.npy "(4,)" "<f4" 0 0 0 0
npy_values weights_bn_negvar/c1.bn.running_mean.npy "(4,)" "<f4" 0 0 0 0
npy_values weights_bn_negvar/c1.bn.running_var.npy "(4,)" "<f4" 1 1 -0.5 1
# A TensorProto input with a NaN pixel, and models of IR version 99 and opset 99.
echo "dims: 1 dims: 3 dims: 8 dims: 8 data_type: 1 name: \"x\" $(floats 191) float_data: nan" | enc TensorProto > input_nan.pb
model "" r | sed 's/^ir_version: 7/ir_version: 99/' | enc ModelProto > ir99.onnx
model "" r | sed 's/version: 13 }/version: 99 }/' | enc ModelProto > opset99.onnx
# A data set whose float images hold a NaN.
dataset dataset_nan_pixel "$(ds_yaml)" "<f4" "(2, 3, 8, 8)" 384 "|u1" "(2,)" 0 1
python3 - dataset_nan_pixel/images.npy <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read()); b[-4:] = b"\x00\x00\xc0\x7f"; open(sys.argv[1], "wb").write(b)
PY
# A cycle run's summary whose event count is 1e308 (reprice).
python3 - <<'PY'
import json
ev = {"dac_conversion": 1e308}
s = {"mode": "cycle", "tech": "isaac-rram-32nm", "arch": {"adc_bits": 8, "arrays": 64},
     "totals": {"events": ev, "latency_ns": 10.0, "energy_pj": {"total": 1.0}}, "layers": []}
json.dump(s, open("summary_huge_count.json", "w"))
s["totals"]["events"] = {"dac_conversion": -5}
json.dump(s, open("summary_negative_count.json", "w"))
PY

# A weight file that is a device (issue 16: read until memory ran out).
mkdir -p weights_devzero && ln -sf /dev/zero weights_devzero/c1.weight.npy
