#include "workloads/onnx/onnx_import.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <optional>
#include <set>
#include <sstream>

#include "workloads/error.hpp"
#include "workloads/input_file.hpp"
#include "workloads/onnx/proto_detail.hpp"

namespace imcsim::onnx_io {

namespace {

constexpr const char* kSupported =
    "Conv, ConvInteger, BatchNormalization, Relu, Clip, Gelu (also as Div/Erf/Add/Mul/Mul), Add, "
    "Sub, Mul, Div (a constant operand, folded into the layer before), MaxPool, AveragePool, "
    "GlobalAveragePool, Flatten, Gemm, MatMul, Constant";

// Exact GELU as PyTorch exports it below opset 20: x / sqrt(2) (or x * 1/sqrt(2)) -> Erf ->
// + 1 -> * x -> * 0.5 (the last two in either order). `nodes`: the node indices it covers.
struct GeluPattern {
  std::string x, out;
  std::set<int> nodes;
};

onnx::ModelProto load_model(const std::string& path) {
  onnx::ModelProto m;
  if (!m.ParseFromString(read_input_file(path, InputKind::Onnx, ErrorKind::Workload)))
    throw WorkloadError(
        path, 0, "", "not a valid ONNX model: protobuf parsing failed (truncated or corrupt file)");
  if (!m.has_graph()) throw WorkloadError(path, 0, "", "ONNX model has no graph (truncated file?)");
  return m;
}

// A tensor of the graph as the importer tracks it.
struct Value {
  enum Kind { Input, Layer, Const } kind = Input;
  int layer = -1;     // index in net.layers (kind Layer)
  int rank = 4;       // 2 once flattened
  bool sole = false;  // the producing layer's output reaches only this tensor's one consumer
};

class Importer {
 public:
  Importer(std::string file, const ImportOptions& opt) : file_(std::move(file)), opt_(opt) {}

  OnnxModel run() {
    const onnx::ModelProto model = load_model(file_);
    m_.file = file_;
    m_.net.source = file_;
    m_.weights.source = file_;
    check_versions(model);
    for (const auto& op : model.opset_import())
      if (op.domain().empty() || op.domain() == "ai.onnx") m_.opset = op.version();
    const auto& g = model.graph();
    m_.net.name = g.name().empty() ? "onnx_model" : g.name();

    for (const auto& init : g.initializer()) {
      consts_[init.name()] = from_proto(init, file_, "initializer " + init.name());
    }
    for (const auto& [name, t] : opt_.constants) consts_[name] = t;
    for (const auto& [name, t] : consts_) values_[name] = Value{Value::Const, -1, 0, false};

    // Consumers of each tensor (node inputs and graph outputs): a BN or activation can only
    // be fused into a layer whose output nothing else reads.
    for (const auto& n : g.node())
      for (const auto& in : n.input()) ++consumers_[in];
    for (const auto& out : g.output()) ++consumers_[out.name()];

    find_gelu_patterns(g);
    read_input(g);
    if (g.output_size() != 1)
      throw WorkloadError(
          file_, 0, "graph.output",
          fmt::format("expected exactly one graph output, found {}", g.output_size()));
    for (int i = 0; i < g.node_size(); ++i) {
      if (auto it = gelu_at_.find(i); it != gelu_at_.end()) {
        gelu(g.node(i), it->second);
      } else if (!gelu_nodes_.count(i)) {
        node(g.node(i), i);
      }
    }

    const std::string& out = g.output(0).name();
    auto it = values_.find(out);
    if (it == values_.end())
      throw WorkloadError(
          file_, 0, "graph.output",
          fmt::format("output \"{}\" is not produced by any node (truncated model?)", out));
    if (it->second.kind != Value::Layer)
      throw WorkloadError(file_, 0, "graph.output",
                          fmt::format("output \"{}\" is not computed by any supported layer", out));
    if (it->second.layer != static_cast<int>(m_.net.layers.size()) - 1)
      throw WorkloadError(
          file_, 0, "graph.output",
          fmt::format("output \"{}\" is not the last layer's output (layers after it "
                      "would be dead code)",
                      out));
    m_.output_name = out;
    m_.output_rank = it->second.rank;
    if (m_.integer && m_.net.layers.size() != 1)
      throw WorkloadError(file_, 0, "graph",
                          "an integer model (ConvInteger) must consist of that single node");
    m_.output_type = m_.integer ? kInt32 : kFloat;
    for (const auto& [name, lw] : m_.weights.layers) check_weight_values(name, lw, file_);
    check_network_counts(m_.net);
    return std::move(m_);
  }

 private:
  // --- helpers -----------------------------------------------------------------------------
  // IR versions 3 (the first with opset_import) to 10 and default-domain opsets 1 to 21: the
  // operators read here keep the semantics implemented below through opset 21; a model
  // outside the range may use attributes or types this importer would misread.
  void check_versions(const onnx::ModelProto& model) const {
    constexpr int64_t kIrMin = 3, kIrMax = 10, kOpsetMin = 1, kOpsetMax = 21;
    if (model.ir_version() < kIrMin || model.ir_version() > kIrMax)
      throw WorkloadError(file_, 0, "ir_version",
                          fmt::format("ONNX IR version {} is not supported (expected {}..{})",
                                      model.ir_version(), kIrMin, kIrMax));
    for (const auto& op : model.opset_import()) {
      const bool onnx_domain = op.domain().empty() || op.domain() == "ai.onnx";
      if (onnx_domain && (op.version() < kOpsetMin || op.version() > kOpsetMax))
        throw WorkloadError(file_, 0, "opset_import",
                            fmt::format("ONNX opset {} is not supported (expected {}..{})",
                                        op.version(), kOpsetMin, kOpsetMax));
    }
  }
  std::string label(const onnx::NodeProto& n) const {
    // A node may have no name and no outputs (fuzzing found output(0) read out of range).
    const std::string& id = !n.name().empty() || n.output_size() == 0 ? n.name() : n.output(0);
    return fmt::format("node \"{}\" ({})", id, n.op_type());
  }
  [[noreturn]] void fail(const onnx::NodeProto& n, const std::string& msg) const {
    throw WorkloadError(file_, 0, label(n), msg);
  }

  const onnx::AttributeProto* attr(const onnx::NodeProto& n, const std::string& name) const {
    for (const auto& a : n.attribute())
      if (a.name() == name) return &a;
    return nullptr;
  }
  void allow_attrs(const onnx::NodeProto& n, const std::set<std::string>& allowed) const {
    for (const auto& a : n.attribute())
      // consumed_inputs: an opset-1 memory hint with no effect on the result.
      if (!allowed.count(a.name()) && a.name() != "consumed_inputs")
        fail(n, fmt::format("attribute \"{}\" is not supported here", a.name()));
  }
  std::vector<int64_t> ints(const onnx::NodeProto& n, const std::string& name,
                            std::vector<int64_t> def) const {
    const auto* a = attr(n, name);
    if (!a) return def;
    return {a->ints().begin(), a->ints().end()};
  }
  int64_t int_attr(const onnx::NodeProto& n, const std::string& name, int64_t def) const {
    const auto* a = attr(n, name);
    return a ? a->i() : def;
  }
  double float_attr(const onnx::NodeProto& n, const std::string& name, double def) const {
    const auto* a = attr(n, name);
    return a ? static_cast<double>(a->f()) : def;
  }
  std::string string_attr(const onnx::NodeProto& n, const std::string& name,
                          const std::string& def) const {
    const auto* a = attr(n, name);
    return a ? a->s() : def;
  }

  const Value& value(const onnx::NodeProto& n, int input) const {
    if (input >= n.input_size() || n.input(input).empty())
      fail(n, fmt::format("input {} is missing", input));
    auto it = values_.find(n.input(input));
    if (it == values_.end())
      fail(n, fmt::format("input \"{}\" is not produced by an earlier node, an initializer or a "
                          "graph input (nodes out of order, or a truncated model)",
                          n.input(input)));
    return it->second;
  }
  bool has_input(const onnx::NodeProto& n, int input) const {
    return input < n.input_size() && !n.input(input).empty();
  }
  const ProtoTensor& constant(const onnx::NodeProto& n, int input, const char* what) const {
    const Value& v = value(n, input);
    if (v.kind != Value::Const)
      fail(n, fmt::format("{} (\"{}\") must be an initializer or constant", what, n.input(input)));
    return consts_.at(n.input(input));
  }
  // An activation input (not a constant).
  const Value& activation(const onnx::NodeProto& n, int input) const {
    const Value& v = value(n, input);
    if (v.kind == Value::Const)
      fail(n, fmt::format("input \"{}\" is a constant; expected an activation tensor",
                          n.input(input)));
    return v;
  }
  TensorShape shape_of(const Value& v) const {
    return v.kind == Value::Input ? m_.net.input : m_.net.layers[static_cast<size_t>(v.layer)].out;
  }
  std::string producer_name(const Value& v) const {
    return v.kind == Value::Input ? "input" : m_.net.layers[static_cast<size_t>(v.layer)].name;
  }
  // Marks `out` (a node's output) as computed by layer `idx` with rank `rank`.
  void define(const onnx::NodeProto& n, int idx, int rank, bool via_alias_sole = true) {
    const std::string& out = n.output(0);
    if (values_.count(out)) fail(n, fmt::format("output \"{}\" is defined twice", out));
    const bool sole = via_alias_sole && consumers_[out] == 1;
    values_[out] = Value{idx < 0 ? Value::Input : Value::Layer, idx, rank, sole};
  }
  std::string unique_name(const onnx::NodeProto& n) {
    std::string base = n.name().empty() ? n.output(0) : n.name();
    if (base.empty()) base = n.op_type();
    std::string name = base;
    for (int k = 1; name == "input" || used_names_.count(name); ++k)
      name = fmt::format("{}_{}", base, k);
    used_names_.insert(name);
    return name;
  }
  Layer& add_layer(const onnx::NodeProto& n, LayerType type, const Value& src) {
    Layer l;
    l.name = unique_name(n);
    l.type = type;
    l.inputs = {producer_name(src)};
    l.in = shape_of(src);
    m_.net.layers.push_back(l);
    return m_.net.layers.back();
  }
  Tensor to_tensor(const ProtoTensor& t) const {
    Tensor out;
    out.shape = t.dims;
    out.data.resize(t.values.size());
    for (size_t i = 0; i < t.values.size(); ++i) out.data[i] = static_cast<float>(t.values[i]);
    return out;
  }
  std::vector<float> to_vector(const ProtoTensor& t) const {
    return std::vector<float>(t.values.begin(), t.values.end());
  }

  // --- graph input -------------------------------------------------------------------------
  void read_input(const onnx::GraphProto& g) {
    std::vector<const onnx::ValueInfoProto*> data;
    for (const auto& in : g.input())
      if (!consts_.count(in.name())) data.push_back(&in);
    if (data.size() != 1)
      throw WorkloadError(
          file_, 0, "graph.input",
          fmt::format("expected exactly one data input (the rest initializers), found "
                      "{}: {}",
                      data.size(), [&] {
                        std::vector<std::string> names;
                        names.reserve(data.size());
                        for (auto* d : data) names.push_back(d->name());
                        return fmt::format("{}", fmt::join(names, ", "));
                      }()));
    const auto& in = *data.front();
    m_.input_name = in.name();
    const std::string key = "graph.input." + in.name();
    if (!in.type().has_tensor_type() || !in.type().tensor_type().has_shape())
      throw WorkloadError(file_, 0, key,
                          "input has no tensor shape (expected [N, C, H, W], [N, C, L] or [N, F])");
    m_.input_type = in.type().tensor_type().elem_type();
    std::vector<int64_t> dims;
    const auto& shape = in.type().tensor_type().shape();
    for (int i = 0; i < shape.dim_size(); ++i) {
      const auto& d = shape.dim(i);
      if (d.has_dim_value() && d.dim_value() > 0) {
        dims.push_back(d.dim_value());
      } else if (i == 0) {
        dims.push_back(1);  // symbolic batch: the executor runs one image at a time
      } else {
        throw WorkloadError(file_, 0, key, fmt::format("dimension {} is not a fixed size", i));
      }
    }
    m_.input_rank = static_cast<int>(dims.size());
    if (dims.size() == 4)
      m_.net.input = {dims[2], dims[3], dims[1]};
    else if (dims.size() == 3)
      m_.net.input = {1, dims[2], dims[1]};
    else if (dims.size() == 2)
      m_.net.input = {1, 1, dims[1]};
    else
      throw WorkloadError(
          file_, 0, key,
          fmt::format("input has rank {} (expected [N, C, H, W], [N, C, L] or [N, F])",
                      dims.size()));
    values_[m_.input_name] = Value{Value::Input, -1, m_.input_rank, false};
  }

  // --- nodes -------------------------------------------------------------------------------
  void node(const onnx::NodeProto& n, int index) {
    if (n.output_size() < 1) fail(n, "node has no output");
    if (!n.domain().empty() && n.domain() != "ai.onnx")
      fail(n,
           fmt::format("operator domain \"{}\" is not supported (expected the default ONNX domain)",
                       n.domain()));
    const std::string& op = n.op_type();
    (void)index;
    if (op == "Conv" || op == "ConvInteger")
      conv(n, op == "ConvInteger");
    else if (op == "BatchNormalization")
      batch_norm(n);
    else if (op == "Relu" || op == "Clip")
      act(n);
    else if (op == "Gelu")
      gelu_node(n);
    else if (op == "Add" && !is_const_operand(n))
      add(n);
    else if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div")
      const_affine(n);
    else if (op == "MaxPool" || op == "AveragePool")
      pool(n, op == "MaxPool");
    else if (op == "GlobalAveragePool")
      global_pool(n);
    else if (op == "Flatten")
      flatten(n);
    else if (op == "Gemm" || op == "MatMul")
      fc(n, op == "Gemm");
    else if (op == "Constant")
      constant_node(n);
    else
      fail(n, fmt::format("operator {} is not supported (supported: {})", op, kSupported));
  }

  // Spatial attributes of conv/pool in 2-D form: 1-D ([N, C, L]) ops get height 1.
  struct Geometry {
    int64_t k_h = 1, k_w = 1, s_h = 1, s_w = 1, d_h = 1, d_w = 1;
    int64_t pt = 0, pl = 0, pb = 0, pr = 0;
  };
  Geometry geometry(const onnx::NodeProto& n, const Value& src, std::vector<int64_t> kernel) {
    const int spatial = src.rank - 2;
    if (spatial != 1 && spatial != 2)
      fail(n, fmt::format("input has rank {} (expected a 3-D or 4-D activation)", src.rank));
    if (static_cast<int>(kernel.size()) != spatial)
      fail(n, fmt::format("kernel_shape has {} entries, the input has {} spatial dimensions",
                          kernel.size(), spatial));
    auto strides = ints(n, "strides", std::vector<int64_t>(static_cast<size_t>(spatial), 1));
    auto dil = ints(n, "dilations", std::vector<int64_t>(static_cast<size_t>(spatial), 1));
    auto pads = ints(n, "pads", std::vector<int64_t>(static_cast<size_t>(2 * spatial), 0));
    if (static_cast<int>(strides.size()) != spatial || static_cast<int>(dil.size()) != spatial ||
        static_cast<int>(pads.size()) != 2 * spatial)
      fail(n, "strides/dilations/pads do not match the number of spatial dimensions");
    for (auto v : kernel)
      if (v < 1) fail(n, "kernel_shape entries must be >= 1");
    for (auto v : strides)
      if (v < 1) fail(n, "strides must be >= 1");
    for (auto v : dil)
      if (v < 1) fail(n, "dilations must be >= 1");
    for (auto v : pads)
      if (v < 0) fail(n, "pads must be >= 0");
    const TensorShape in = shape_of(src);
    const std::vector<int64_t> extent =
        spatial == 2 ? std::vector<int64_t>{in.h, in.w} : std::vector<int64_t>{in.w};
    const std::string auto_pad = string_attr(n, "auto_pad", "NOTSET");
    if (auto_pad == "VALID") {
      std::fill(pads.begin(), pads.end(), 0);
    } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      // ONNX: output = ceil(in / stride); the odd pixel of padding goes to the end (UPPER)
      // or to the beginning (LOWER).
      for (int a = 0; a < spatial; ++a) {
        const size_t u = static_cast<size_t>(a);
        const int64_t out = (extent[u] + strides[u] - 1) / strides[u];
        const int64_t total =
            std::max<int64_t>(0, (out - 1) * strides[u] + dil[u] * (kernel[u] - 1) + 1 - extent[u]);
        const int64_t small = total / 2, big = total - small;
        pads[u] = auto_pad == "SAME_UPPER" ? small : big;
        pads[u + static_cast<size_t>(spatial)] = auto_pad == "SAME_UPPER" ? big : small;
      }
    } else if (auto_pad != "NOTSET") {
      fail(n, fmt::format("auto_pad \"{}\" (expected NOTSET, VALID, SAME_UPPER or SAME_LOWER)",
                          auto_pad));
    }
    Geometry g;
    if (spatial == 2) {
      g = {kernel[0], kernel[1], strides[0], strides[1], dil[0],
           dil[1],    pads[0],   pads[1],    pads[2],    pads[3]};
    } else {
      g = {1, kernel[0], 1, strides[0], 1, dil[0], 0, pads[0], 0, pads[1]};
    }
    return g;
  }
  void apply(const onnx::NodeProto& n, Layer& l, const Geometry& g) {
    l.k_h = g.k_h;
    l.k_w = g.k_w;
    l.stride_h = g.s_h;
    l.stride_w = g.s_w;
    l.dilation_h = g.d_h;
    l.dilation_w = g.d_w;
    l.pad_h = g.pt;
    l.pad_w = g.pl;
    if (g.pb != g.pt) l.pad_h_end = g.pb;
    if (g.pr != g.pl) l.pad_w_end = g.pr;
    const int64_t oh = (l.in.h + g.pt + g.pb - g.d_h * (g.k_h - 1) - 1) / g.s_h + 1;
    const int64_t ow = (l.in.w + g.pl + g.pr - g.d_w * (g.k_w - 1) - 1) / g.s_w + 1;
    if (l.in.h + g.pt + g.pb < g.d_h * (g.k_h - 1) + 1 ||
        l.in.w + g.pl + g.pr < g.d_w * (g.k_w - 1) + 1)
      fail(n, fmt::format("kernel {}x{} (dilation {}x{}) is larger than the padded input {}x{}",
                          g.k_h, g.k_w, g.d_h, g.d_w, l.in.h + g.pt + g.pb, l.in.w + g.pl + g.pr));
    l.out.h = oh;
    l.out.w = ow;
  }

  void conv(const onnx::NodeProto& n, bool integer) {
    allow_attrs(n, {"kernel_shape", "strides", "pads", "dilations", "group", "auto_pad"});
    if (n.output_size() != 1) fail(n, "expected one output");
    const Value src = activation(n, 0);
    const ProtoTensor& w = constant(n, 1, "weight W");
    const int spatial = src.rank - 2;
    if (static_cast<int>(w.dims.size()) != spatial + 2)
      fail(n, fmt::format("weight W has shape [{}], expected rank {} (OIHW)",
                          fmt::join(w.dims, ", "), spatial + 2));
    std::vector<int64_t> kernel(w.dims.begin() + 2, w.dims.end());
    if (auto ks = ints(n, "kernel_shape", kernel); ks != kernel)
      fail(n, fmt::format("kernel_shape [{}] does not match the weight shape [{}]",
                          fmt::join(ks, ", "), fmt::join(w.dims, ", ")));
    const Geometry geo = geometry(n, src, kernel);
    const int64_t groups = int_attr(n, "group", 1);
    const TensorShape in = shape_of(src);
    const int64_t oc = w.dims[0];
    if (groups < 1 || in.c % groups != 0 || oc % groups != 0)
      fail(n, fmt::format("group {} must divide the input channels {} and output channels {}",
                          groups, in.c, oc));
    if (w.dims[1] != in.c / groups)
      fail(n, fmt::format("weight W has shape [{}]: {} input channels per group, the input has {} "
                          "channels in {} group(s) (expected {})",
                          fmt::join(w.dims, ", "), w.dims[1], in.c, groups, in.c / groups));
    if (integer) {
      if (!m_.net.layers.empty() || m_.integer)
        fail(n, "ConvInteger must be the model's only node");
      if (m_.input_type != kUint8 && m_.input_type != kInt8)
        fail(n, fmt::format("input element type {} (expected uint8 or int8)",
                            elem_type_name(m_.input_type)));
    } else if (m_.input_type != kFloat && m_.input_type != kDouble) {
      fail(n, fmt::format("input element type {} (expected float32 or float64)",
                          elem_type_name(m_.input_type)));
    }
    Layer& l = add_layer(n, LayerType::Conv, src);
    l.groups = groups;
    l.out.c = oc;
    apply(n, l, geo);
    LayerWeights lw;
    lw.weight = to_tensor(w);
    lw.weight.shape = {oc, w.dims[1], geo.k_h, geo.k_w};
    if (integer) {
      // Zero points: x_zero_point a scalar, w_zero_point a scalar or one per output channel.
      m_.integer = true;
      if (has_input(n, 2)) {
        const ProtoTensor& xz = constant(n, 2, "x_zero_point");
        if (xz.size() != 1) fail(n, "x_zero_point must be a scalar");
        m_.input_zero_point = xz.values[0];
      }
      if (has_input(n, 3)) {
        const ProtoTensor& wz = constant(n, 3, "w_zero_point");
        if (wz.size() != 1 && wz.size() != oc)
          fail(n, "w_zero_point must be a scalar or one per output channel");
        const int64_t per = lw.weight.size() / oc;
        for (int64_t o = 0; o < oc; ++o)
          for (int64_t i = 0; i < per; ++i)
            lw.weight.data[static_cast<size_t>(o * per + i)] -=
                static_cast<float>(wz.values[static_cast<size_t>(wz.size() == 1 ? 0 : o)]);
      }
    } else if (has_input(n, 2)) {
      const ProtoTensor& b = constant(n, 2, "bias B");
      if (b.dims != std::vector<int64_t>{oc})
        fail(n, fmt::format("bias B has shape [{}], expected [{}]", fmt::join(b.dims, ", "), oc));
      l.bias = true;
      lw.bias = to_vector(b);
    }
    m_.weights.layers[l.name] = std::move(lw);
    define(n, static_cast<int>(m_.net.layers.size()) - 1, src.rank);
  }

  // The layer a BN / activation / bias can be fused into: input `input` must be a layer's
  // output that nothing else reads.
  Layer& fusable(const onnx::NodeProto& n, const Value& v, const char* what) {
    if (v.kind != Value::Layer)
      fail(n, fmt::format("{} applied directly to the graph input cannot be expressed as a layer "
                          "(it must follow a conv, fc, add or pooling layer)",
                          what));
    if (!v.sole)
      fail(n, fmt::format("{} follows \"{}\" whose output is also read elsewhere; it can only be "
                          "fused into a layer it alone consumes",
                          what, m_.net.layers[static_cast<size_t>(v.layer)].name));
    return m_.net.layers[static_cast<size_t>(v.layer)];
  }

  void batch_norm(const onnx::NodeProto& n) {
    allow_attrs(n, {"epsilon", "momentum", "spatial", "training_mode", "is_test"});
    // is_test (opset < 7): 1 = inference.
    if (int_attr(n, "training_mode", 0) != 0 || int_attr(n, "is_test", 1) != 1 ||
        n.output_size() > 1)
      fail(n,
           "training-mode BatchNormalization is not supported (expected inference mode, one "
           "output)");
    if (int_attr(n, "spatial", 1) != 1) fail(n, "spatial=0 BatchNormalization is not supported");
    const Value src = activation(n, 0);
    Layer& l = fusable(n, src, "BatchNormalization");
    if (!l.on_arrays() || l.batch_norm || l.act != Activation::None)
      fail(n, fmt::format("BatchNormalization must directly follow a Conv or Gemm (it follows {} "
                          "layer \"{}\")",
                          to_string(l.type), l.name));
    BatchNormParams bn;
    const char* names[] = {"scale", "B", "mean", "var"};
    std::vector<float>* dst[] = {&bn.gamma, &bn.beta, &bn.mean, &bn.var};
    for (int i = 0; i < 4; ++i) {
      const ProtoTensor& t = constant(n, i + 1, names[i]);
      if (t.dims != std::vector<int64_t>{l.out.c})
        fail(n, fmt::format("{} has shape [{}], expected [{}]", names[i], fmt::join(t.dims, ", "),
                            l.out.c));
      *dst[i] = to_vector(t);
    }
    bn.eps = static_cast<float>(float_attr(n, "epsilon", 1e-5));
    l.batch_norm = true;
    m_.weights.layers[l.name].bn = std::move(bn);
    define(n, src.layer, src.rank);
  }

  double clip_bound(const onnx::NodeProto& n, int input, const char* attr_name, double def) {
    if (has_input(n, input)) {
      const ProtoTensor& t = constant(n, input, input == 1 ? "min" : "max");
      if (t.size() != 1) fail(n, fmt::format("{} must be a scalar", input == 1 ? "min" : "max"));
      return t.values[0];
    }
    return float_attr(n, attr_name, def);
  }

  void act(const onnx::NodeProto& n) {
    const bool clip = n.op_type() == "Clip";
    allow_attrs(n, clip ? std::set<std::string>{"min", "max"} : std::set<std::string>{});
    const Value src = activation(n, 0);
    const double inf = std::numeric_limits<double>::infinity();
    const double lo = clip ? clip_bound(n, 1, "min", -inf) : 0.0;
    const double hi = clip ? clip_bound(n, 2, "max", inf) : inf;
    if (!(lo <= hi)) fail(n, fmt::format("min {} is larger than max {}", lo, hi));
    if (lo == -inf && hi == inf) {  // an identity clip
      values_[n.output(0)] =
          Value{src.kind, src.layer, src.rank, src.sole && consumers_[n.output(0)] == 1};
      return;
    }
    Layer& l = fusable(n, src, n.op_type().c_str());
    if (l.act != Activation::None)
      fail(n, fmt::format("layer \"{}\" already has activation {}", l.name, to_string(l.act)));
    if (lo == 0.0 && hi == inf) {
      l.act = Activation::Relu;
    } else if (lo == 0.0 && hi == 1.0) {
      l.act = Activation::Relu1;
    } else {
      l.act = Activation::Clip;
      l.clip_lo = lo;
      l.clip_hi = hi;
    }
    define(n, src.layer, src.rank);
  }

  void add(const onnx::NodeProto& n) {
    allow_attrs(n, {});
    const Value a = value(n, 0), b = value(n, 1);
    // A constant operand (a bias, MatMul + Add exports) goes to const_affine.
    if (a.kind == Value::Input && b.kind == Value::Input)
      fail(n, "adds the graph input to itself; expected at least one layer output");
    const TensorShape sa = shape_of(a), sb = shape_of(b);
    if (!(sa == sb) || a.rank != b.rank)
      fail(n, fmt::format("operands have shapes {}x{}x{} and {}x{}x{} (CxHxW); broadcasting is not "
                          "supported",
                          sa.c, sa.h, sa.w, sb.c, sb.h, sb.w));
    Layer& l = add_layer(n, LayerType::Add, a);
    l.inputs.push_back(producer_name(b));
    l.out = sa;
    define(n, static_cast<int>(m_.net.layers.size()) - 1, a.rank);
  }

  void pool(const onnx::NodeProto& n, bool is_max) {
    if (is_max) {
      allow_attrs(n, {"kernel_shape", "strides", "pads", "dilations", "auto_pad", "ceil_mode",
                      "storage_order"});
      if (n.output_size() > 1 && !n.output(1).empty())
        fail(n, "the Indices output is not supported");
    } else {
      allow_attrs(
          n, {"kernel_shape", "strides", "pads", "auto_pad", "ceil_mode", "count_include_pad"});
    }
    if (int_attr(n, "ceil_mode", 0) != 0)
      fail(n, "ceil_mode=1 is not supported (expected floor mode)");
    const Value src = activation(n, 0);
    const auto kernel = ints(n, "kernel_shape", {});
    if (kernel.empty()) fail(n, "kernel_shape is required");
    const Geometry geo = geometry(n, src, kernel);
    if (geo.d_h != 1 || geo.d_w != 1) fail(n, "dilated pooling is not supported");
    // Floor mode keeps every window inside the padded input only while a pad is smaller than
    // its kernel; ONNX allows more but no exporter emits it.
    if (geo.pt >= geo.k_h || geo.pb >= geo.k_h || geo.pl >= geo.k_w || geo.pr >= geo.k_w)
      fail(n, "padding as large as the kernel is not supported");
    Layer& l = add_layer(n, is_max ? LayerType::MaxPool : LayerType::AvgPool, src);
    l.out.c = l.in.c;
    apply(n, l, geo);
    l.count_include_pad = !is_max && int_attr(n, "count_include_pad", 0) != 0;
    if (is_max) l.count_include_pad = true;  // unused by max pooling; keeps the default
    define(n, static_cast<int>(m_.net.layers.size()) - 1, src.rank);
  }

  void global_pool(const onnx::NodeProto& n) {
    allow_attrs(n, {});
    const Value src = activation(n, 0);
    if (src.rank < 3) fail(n, "input has no spatial dimensions");
    Layer& l = add_layer(n, LayerType::GlobalAvgPool, src);
    l.out = {1, 1, l.in.c};
    define(n, static_cast<int>(m_.net.layers.size()) - 1, src.rank);
  }

  void flatten(const onnx::NodeProto& n) {
    allow_attrs(n, {"axis"});
    const Value src = activation(n, 0);
    int64_t axis = int_attr(n, "axis", 1);
    if (axis < 0) axis += src.rank;
    if (axis != 1)
      fail(n, fmt::format("axis {} is not supported (expected 1: keep the batch, flatten C,H,W)",
                          axis));
    // CHW data flattened in C order is the same memory: an alias, no layer.
    values_[n.output(0)] = Value{src.kind, src.layer, 2, src.sole && consumers_[n.output(0)] == 1};
  }

  void fc(const onnx::NodeProto& n, bool gemm) {
    // broadcast (Gemm opset < 7) only allowed C to broadcast, which is what is done below.
    allow_attrs(n, gemm ? std::set<std::string>{"alpha", "beta", "transA", "transB", "broadcast"}
                        : std::set<std::string>{});
    const Value src = activation(n, 0);
    if (src.rank != 2)
      fail(n, fmt::format("input has rank {}; expected a 2-D [N, features] input (Flatten first)",
                          src.rank));
    if (gemm && int_attr(n, "transA", 0) != 0) fail(n, "transA=1 is not supported");
    const ProtoTensor& b = constant(n, 1, "weight B");
    if (b.dims.size() != 2) fail(n, fmt::format("weight B has rank {}, expected 2", b.dims.size()));
    const bool trans_b = gemm && int_attr(n, "transB", 0) != 0;
    const int64_t k = trans_b ? b.dims[1] : b.dims[0];
    const int64_t out = trans_b ? b.dims[0] : b.dims[1];
    const TensorShape in = shape_of(src);
    if (k != in.elements())
      fail(n, fmt::format("weight B has shape [{}]: {} input features, the input has {}",
                          fmt::join(b.dims, ", "), k, in.elements()));
    if (m_.input_type != kFloat && m_.input_type != kDouble)
      fail(n, fmt::format("input element type {} (expected float32 or float64)",
                          elem_type_name(m_.input_type)));
    const double alpha = gemm ? float_attr(n, "alpha", 1.0) : 1.0;
    const double beta = gemm ? float_attr(n, "beta", 1.0) : 1.0;
    Layer& l = add_layer(n, LayerType::Fc, src);
    l.out = {1, 1, out};
    LayerWeights lw;
    lw.weight = Tensor({out, k});
    // fc weight is (out_features, in_features): B^T unless transB.
    for (int64_t o = 0; o < out; ++o)
      for (int64_t i = 0; i < k; ++i)
        lw.weight.data[static_cast<size_t>(o * k + i)] = static_cast<float>(
            alpha * b.values[static_cast<size_t>(trans_b ? o * k + i : i * out + o)]);
    if (gemm && has_input(n, 2)) {
      const ProtoTensor& c = constant(n, 2, "bias C");
      if (!(c.size() == out && (c.dims.size() == 1 || (c.dims.size() == 2 && c.dims[0] == 1))) &&
          c.size() != 1)
        fail(n, fmt::format("bias C has shape [{}], expected [{}] or [1, {}] (or a scalar)",
                            fmt::join(c.dims, ", "), out, out));
      l.bias = true;
      lw.bias.resize(static_cast<size_t>(out));
      for (int64_t o = 0; o < out; ++o)
        lw.bias[static_cast<size_t>(o)] =
            static_cast<float>(beta * c.values[static_cast<size_t>(c.size() == 1 ? 0 : o)]);
    }
    m_.weights.layers[l.name] = std::move(lw);
    define(n, static_cast<int>(m_.net.layers.size()) - 1, 2);
  }

  void constant_node(const onnx::NodeProto& n) {
    const auto* a = attr(n, "value");
    if (!a || n.attribute_size() != 1)
      fail(n, "only the tensor form (attribute \"value\") of Constant is supported");
    consts_[n.output(0)] = from_proto(a->t(), file_, label(n));
    values_[n.output(0)] = Value{Value::Const, -1, 0, false};
  }

  // --- GELU -------------------------------------------------------------------------------
  // A scalar constant input of `n` (nullopt when the input is not a one-value constant).
  std::optional<double> scalar_const(const onnx::NodeProto& n, int input) const {
    if (input >= n.input_size()) return std::nullopt;
    auto it = consts_.find(n.input(input));
    if (it == consts_.end() || it->second.size() != 1) return std::nullopt;
    return it->second.values[0];
  }
  static bool near(double v, double want) { return std::fabs(v - want) <= 1e-6 * std::fabs(want); }

  void find_gelu_patterns(const onnx::GraphProto& g) {
    std::map<std::string, std::vector<int>> users;
    for (int i = 0; i < g.node_size(); ++i)
      for (const auto& in : g.node(i).input()) users[in].push_back(i);
    auto sole_user = [&](const std::string& t, const char* op) -> int {
      auto it = users.find(t);
      if (it == users.end() || it->second.size() != 1) return -1;
      const int u = it->second.front();
      return g.node(u).op_type() == op ? u : -1;
    };
    // The other input of a binary node `u` besides `t` (or "" when `t` is not an input).
    auto other = [&](int u, const std::string& t) -> std::string {
      const auto& n = g.node(u);
      if (n.input_size() != 2) return "";
      if (n.input(0) == t) return n.input(1);
      if (n.input(1) == t) return n.input(0);
      return "";
    };
    // Constant nodes are read where they stand; their values are needed here already.
    std::map<std::string, double> scalars;
    for (const auto& [name, t] : consts_)
      if (t.size() == 1) scalars[name] = t.values[0];
    for (const auto& n : g.node())
      if (n.op_type() == "Constant" && n.output_size() == 1 && n.attribute_size() == 1 &&
          n.attribute(0).name() == "value") {
        const ProtoTensor t = from_proto(n.attribute(0).t(), file_, label(n));
        if (t.size() == 1) scalars[n.output(0)] = t.values[0];
      }
    auto is_scalar = [&](const std::string& name, double want) {
      auto it = scalars.find(name);
      return it != scalars.end() && near(it->second, want);
    };
    for (int i = 0; i < g.node_size(); ++i) {
      const auto& d = g.node(i);
      if (d.input_size() != 2 || d.output_size() != 1) continue;
      const bool div = d.op_type() == "Div" && is_scalar(d.input(1), std::sqrt(2.0));
      const bool mul = d.op_type() == "Mul" && (is_scalar(d.input(1), std::sqrt(0.5)) ||
                                                is_scalar(d.input(0), std::sqrt(0.5)));
      if (!div && !mul) continue;
      const std::string x = div || is_scalar(d.input(1), std::sqrt(0.5)) ? d.input(0) : d.input(1);
      const int erf = sole_user(d.output(0), "Erf");
      if (erf < 0) continue;
      const int add = sole_user(g.node(erf).output(0), "Add");
      if (add < 0 || !is_scalar(other(add, g.node(erf).output(0)), 1.0)) continue;
      const std::string a = g.node(add).output(0);
      auto au = users.find(a);
      if (au == users.end() || au->second.size() != 1 ||
          g.node(au->second.front()).op_type() != "Mul")
        continue;
      const int m1 = au->second.front();
      const std::string m1_other = other(m1, a);
      GeluPattern p;
      p.x = x;
      p.nodes = {i, erf, add, m1};
      if (m1_other == x) {
        // (x * (1 + erf)) * 0.5
        const int m2 = sole_user(g.node(m1).output(0), "Mul");
        if (m2 < 0 || !is_scalar(other(m2, g.node(m1).output(0)), 0.5)) continue;
        p.nodes.insert(m2);
        p.out = g.node(m2).output(0);
      } else {
        // (x * 0.5) * (1 + erf)
        int h = -1;
        for (int k = 0; k < g.node_size(); ++k)
          if (g.node(k).output_size() == 1 && g.node(k).output(0) == m1_other) h = k;
        if (h < 0 || g.node(h).op_type() != "Mul" || !is_scalar(other(h, x), 0.5)) continue;
        if (users[m1_other].size() != 1) continue;
        p.nodes.insert(h);
        p.out = g.node(m1).output(0);
      }
      // x itself must be read by the pattern alone for GELU to fuse into its layer.
      int inside = 0;
      for (int u : users[x]) inside += p.nodes.count(u) ? 1 : 0;
      if (inside != static_cast<int>(users[x].size())) continue;
      const int first = *p.nodes.begin();
      for (int k : p.nodes) gelu_nodes_.insert(k);
      gelu_at_[first] = p;
      // The pattern's own reads of x count as one consumer of the fused layer.
      consumers_[x] -= static_cast<int>(users[x].size()) - 1;
    }
  }

  void set_gelu(const onnx::NodeProto& n, const Value& src, const std::string& out) {
    Layer& l = fusable(n, src, "GELU");
    if (l.act != Activation::None)
      fail(n, fmt::format("layer \"{}\" already has activation {}", l.name, to_string(l.act)));
    l.act = Activation::Gelu;
    if (values_.count(out)) fail(n, fmt::format("output \"{}\" is defined twice", out));
    values_[out] = Value{Value::Layer, src.layer, src.rank, consumers_[out] == 1};
  }
  void gelu(const onnx::NodeProto& first, const GeluPattern& p) {
    auto it = values_.find(p.x);
    if (it == values_.end())
      fail(first, fmt::format("GELU input \"{}\" is not produced by an earlier node", p.x));
    const Value src = it->second;
    if (src.kind == Value::Const) fail(first, "GELU of a constant");
    set_gelu(first, src, p.out);
  }
  void gelu_node(const onnx::NodeProto& n) {
    allow_attrs(n, {"approximate"});
    const std::string approx = string_attr(n, "approximate", "none");
    if (approx != "none")
      fail(n, fmt::format(
                  "approximate=\"{}\" is not supported (expected \"none\": the exact erf form)",
                  approx));
    set_gelu(n, activation(n, 0), n.output(0));
  }

  // --- elementwise with a constant ---------------------------------------------------------
  bool is_const_operand(const onnx::NodeProto& n) const {
    for (int i = 0; i < std::min(2, n.input_size()); ++i)
      if (values_.count(n.input(i)) && values_.at(n.input(i)).kind == Value::Const) return true;
    return false;
  }
  // y = x op c with a constant c (a scalar or one value per channel), folded into the
  // conv/fc before it when nothing else reads that layer and it has no activation yet:
  // Mul/Div scale its weights and bias (or, after a BatchNorm, gamma and beta), Add/Sub
  // shift its bias (or beta). Anything else cannot be a layer of the Network: named error.
  void const_affine(const onnx::NodeProto& n) {
    allow_attrs(n, {});
    const std::string& op = n.op_type();
    const Value a = value(n, 0), b = value(n, 1);
    if (a.kind == Value::Const && b.kind == Value::Const) fail(n, "operates on two constants");
    const bool c_first = a.kind == Value::Const;
    if (c_first && (op == "Sub" || op == "Div"))
      fail(n, fmt::format("a constant {} a tensor (constant first) is not supported",
                          op == "Sub" ? "minus" : "divided by"));
    const Value& x = c_first ? b : a;
    const ProtoTensor& c = consts_.at(n.input(c_first ? 0 : 1));
    Layer& l = fusable(n, x, (op + " by a constant").c_str());
    if (!l.on_arrays() || l.act != Activation::None)
      fail(n,
           fmt::format("{} by a constant is supported only right after a Conv/Gemm/MatMul (and its "
                       "BatchNormalization) without activation; it follows {} layer \"{}\"",
                       op, to_string(l.type), l.name));
    if (c.size() != 1 && c.size() != l.out.c)
      fail(n,
           fmt::format("constant operand has {} values, expected 1 or one per output channel ({})",
                       c.size(), l.out.c));
    LayerWeights& lw = m_.weights.layers[l.name];
    auto cv = [&](int64_t oc) { return c.values[static_cast<size_t>(c.size() == 1 ? 0 : oc)]; };
    for (int64_t oc = 0; oc < l.out.c; ++oc) {
      const size_t u = static_cast<size_t>(oc);
      const double v = cv(oc);
      if (op == "Mul" || op == "Div") {
        if (op == "Div" && v == 0.0) fail(n, "divides by zero");
        const double f = op == "Mul" ? v : 1.0 / v;
        if (lw.bn) {
          lw.bn->gamma[u] = static_cast<float>(lw.bn->gamma[u] * f);
          lw.bn->beta[u] = static_cast<float>(lw.bn->beta[u] * f);
        } else {
          const int64_t per = lw.weight.size() / l.out.c;
          for (int64_t i = 0; i < per; ++i)
            lw.weight.data[static_cast<size_t>(oc * per + i)] *= static_cast<float>(f);
          if (!lw.bias.empty()) lw.bias[u] = static_cast<float>(lw.bias[u] * f);
        }
      } else {
        const double d = op == "Add" ? v : -v;
        if (lw.bn) {
          lw.bn->beta[u] = static_cast<float>(lw.bn->beta[u] + d);
        } else {
          if (lw.bias.empty()) lw.bias.assign(static_cast<size_t>(l.out.c), 0.0f);
          l.bias = true;
          lw.bias[u] = static_cast<float>(lw.bias[u] + d);
        }
      }
    }
    define(n, x.layer, x.rank);
  }

  std::string file_;
  const ImportOptions& opt_;
  OnnxModel m_;
  std::map<std::string, ProtoTensor> consts_;
  std::map<std::string, Value> values_;
  std::map<std::string, int> consumers_;
  std::set<std::string> used_names_;
  std::map<int, GeluPattern> gelu_at_;  // first node index of a GELU pattern -> the pattern
  std::set<int> gelu_nodes_;            // every node a GELU pattern covers
};

}  // namespace

std::vector<std::string> graph_data_inputs(const std::string& path) {
  const onnx::ModelProto m = load_model(path);
  std::set<std::string> inits;
  for (const auto& i : m.graph().initializer()) inits.insert(i.name());
  std::vector<std::string> out;
  for (const auto& in : m.graph().input())
    if (!inits.count(in.name())) out.push_back(in.name());
  return out;
}

OnnxModel import_onnx(const std::string& path, const ImportOptions& options) {
  return Importer(path, options).run();
}

std::string workload_yaml(const Network& net, const std::string& description) {
  YAML::Emitter e;
  e << YAML::BeginMap;
  e << YAML::Key << "name" << YAML::Value << net.name;
  if (!description.empty()) e << YAML::Key << "description" << YAML::Value << description;
  e << YAML::Key << "input" << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key << "h"
    << YAML::Value << net.input.h << YAML::Key << "w" << YAML::Value << net.input.w << YAML::Key
    << "c" << YAML::Value << net.input.c << YAML::EndMap;
  e << YAML::Key << "layers" << YAML::Value << YAML::BeginSeq;
  std::string previous = "input";
  auto pair = [&](int64_t a, int64_t b) {
    if (a == b)
      e << a;
    else
      e << YAML::Flow << YAML::BeginSeq << a << b << YAML::EndSeq;
  };
  for (const auto& l : net.layers) {
    auto unsupported = [&](const std::string& what) {
      throw WorkloadError(
          net.source, 0, l.name,
          "cannot be written as workload YAML: " + what + " (the YAML format has no key for it)");
    };
    if (l.dilation_h != 1 || l.dilation_w != 1) unsupported("dilation > 1");
    if (l.pad_bottom() != l.pad_h || l.pad_right() != l.pad_w) unsupported("asymmetric padding");
    if (l.act == Activation::Clip)
      unsupported(fmt::format("clip({}, {}) activation", l.clip_lo, l.clip_hi));
    if (l.type == LayerType::AvgPool && !l.count_include_pad && (l.pad_h || l.pad_w))
      unsupported("average pooling that excludes padding from the divisor");
    e << YAML::Flow << YAML::BeginMap;
    e << YAML::Key << "name" << YAML::Value << l.name;
    e << YAML::Key << "type" << YAML::Value << to_string(l.type);
    switch (l.type) {
      case LayerType::Conv:
        e << YAML::Key << "out_channels" << YAML::Value << l.out.c;
        e << YAML::Key << "kernel" << YAML::Value;
        pair(l.k_h, l.k_w);
        if (l.stride_h != 1 || l.stride_w != 1) {
          e << YAML::Key << "stride" << YAML::Value;
          pair(l.stride_h, l.stride_w);
        }
        if (l.pad_h || l.pad_w) {
          e << YAML::Key << "pad" << YAML::Value;
          pair(l.pad_h, l.pad_w);
        }
        if (l.groups != 1) e << YAML::Key << "groups" << YAML::Value << l.groups;
        if (l.bias) e << YAML::Key << "bias" << YAML::Value << true;
        if (l.batch_norm) e << YAML::Key << "bn" << YAML::Value << true;
        break;
      case LayerType::Fc:
        e << YAML::Key << "out_features" << YAML::Value << l.out.c;
        e << YAML::Key << "bias" << YAML::Value << l.bias;  // the YAML default is true
        if (l.batch_norm) e << YAML::Key << "bn" << YAML::Value << true;
        break;
      case LayerType::MaxPool:
      case LayerType::AvgPool:
        e << YAML::Key << "kernel" << YAML::Value;
        pair(l.k_h, l.k_w);
        e << YAML::Key << "stride" << YAML::Value;
        pair(l.stride_h, l.stride_w);
        if (l.pad_h || l.pad_w) {
          e << YAML::Key << "pad" << YAML::Value;
          pair(l.pad_h, l.pad_w);
        }
        break;
      case LayerType::Add:
      case LayerType::GlobalAvgPool: break;
    }
    if (l.act != Activation::None) e << YAML::Key << "act" << YAML::Value << to_string(l.act);
    if (l.inputs.size() != 1 || l.inputs.front() != previous) {
      e << YAML::Key << "inputs" << YAML::Value;
      if (l.inputs.size() == 1) {
        e << l.inputs.front();
      } else {
        e << YAML::Flow << YAML::BeginSeq;
        for (const auto& i : l.inputs) e << i;
        e << YAML::EndSeq;
      }
    }
    e << YAML::EndMap;
    previous = l.name;
  }
  e << YAML::EndSeq << YAML::EndMap;
  return std::string(e.c_str()) + "\n";
}

}  // namespace imcsim::onnx_io
