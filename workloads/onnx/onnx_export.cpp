#include "workloads/onnx/onnx_export.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "workloads/error.hpp"
#include "workloads/onnx/proto_detail.hpp"

namespace imcsim::onnx_io {

namespace {

void add_initializer(onnx::GraphProto& g, const std::string& name, const std::vector<int64_t>& dims,
                     const std::vector<float>& values) {
  onnx::TensorProto* t = g.add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t->add_dims(d);
  for (float v : values) t->add_float_data(v);
}

void attr_ints(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
  onnx::AttributeProto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}

void attr_int(onnx::NodeProto* n, const std::string& name, int64_t v) {
  onnx::AttributeProto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}

void attr_float(onnx::NodeProto* n, const std::string& name, float v) {
  onnx::AttributeProto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(v);
}

onnx::NodeProto* node(onnx::GraphProto& g, const std::string& op, const std::string& name,
                      const std::vector<std::string>& inputs, const std::string& output) {
  onnx::NodeProto* n = g.add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (const auto& i : inputs) n->add_input(i);
  n->add_output(output);
  return n;
}

// The layer's activation as a node after `value`; returns the activation's output.
std::string activation(onnx::GraphProto& g, const Layer& l, const std::string& value) {
  if (l.act == Activation::None) return value;
  std::string out = l.name + ".act";
  if (l.act == Activation::Relu) {
    node(g, "Relu", out, {value}, out);
    return out;
  }
  if (l.act == Activation::Gelu) {
    // Exact GELU as PyTorch exports it below opset 20 (the importer fuses it back):
    // 0.5 * (x * (1 + erf(x / sqrt 2))).
    const std::string p = l.name + ".gelu";
    add_initializer(g, p + ".sqrt2", {}, {1.41421356237309504880f});
    add_initializer(g, p + ".one", {}, {1.0f});
    add_initializer(g, p + ".half", {}, {0.5f});
    node(g, "Div", p + ".div", {value, p + ".sqrt2"}, p + ".div");
    node(g, "Erf", p + ".erf", {p + ".div"}, p + ".erf");
    node(g, "Add", p + ".add", {p + ".erf", p + ".one"}, p + ".add");
    node(g, "Mul", p + ".mul", {value, p + ".add"}, p + ".mul");
    node(g, "Mul", out, {p + ".mul", p + ".half"}, out);
    return out;
  }
  const float lo = l.act == Activation::Relu1 ? 0.0f : static_cast<float>(l.clip_lo);
  const float hi = l.act == Activation::Relu1 ? 1.0f : static_cast<float>(l.clip_hi);
  add_initializer(g, out + ".min", {}, {lo});
  add_initializer(g, out + ".max", {}, {hi});
  node(g, "Clip", out, {value, out + ".min", out + ".max"}, out);
  return out;
}

// A float tensor of shape `dims` as the type of a graph input or output.
void set_shape(onnx::ValueInfoProto* v, const std::vector<int64_t>& dims) {
  v->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  auto* s = v->mutable_type()->mutable_tensor_type()->mutable_shape();
  for (int64_t d : dims) s->add_dim()->set_dim_value(d);
}

// Conv (bias when the layer has one) and its BatchNormalization; the last node outputs
// l.name.
void add_conv(onnx::GraphProto& g, const Layer& l, const WeightSet& weights,
              const std::vector<std::string>& ins) {
  const LayerWeights& w = weights.at(l.name);
  add_initializer(g, l.name + ".weight", w.weight.shape, w.weight.data);
  std::vector<std::string> args = {ins.front(), l.name + ".weight"};
  if (!w.bias.empty()) {
    add_initializer(g, l.name + ".bias", {static_cast<int64_t>(w.bias.size())}, w.bias);
    args.push_back(l.name + ".bias");
  }
  const std::string conv_out = w.bn ? l.name + ".conv" : l.name;
  onnx::NodeProto* n = node(g, "Conv", l.name, args, conv_out);
  attr_ints(n, "kernel_shape", {l.k_h, l.k_w});
  attr_ints(n, "strides", {l.stride_h, l.stride_w});
  attr_ints(n, "pads", {l.pad_h, l.pad_w, l.pad_bottom(), l.pad_right()});
  attr_ints(n, "dilations", {l.dilation_h, l.dilation_w});
  attr_int(n, "group", l.groups);
  if (w.bn) {
    const BatchNormParams& bn = *w.bn;
    const int64_t c = static_cast<int64_t>(bn.gamma.size());
    add_initializer(g, l.name + ".bn.scale", {c}, bn.gamma);
    add_initializer(g, l.name + ".bn.bias", {c}, bn.beta);
    add_initializer(g, l.name + ".bn.mean", {c}, bn.mean);
    add_initializer(g, l.name + ".bn.var", {c}, bn.var);
    onnx::NodeProto* b = node(g, "BatchNormalization", l.name + ".bn",
                              {conv_out, l.name + ".bn.scale", l.name + ".bn.bias",
                               l.name + ".bn.mean", l.name + ".bn.var"},
                              l.name);
    attr_float(b, "epsilon", bn.eps);
  }
}

// Flatten then Gemm (transB) with the layer's weight and bias.
void add_fc(onnx::GraphProto& g, const Network& net, const Layer& l, const WeightSet& weights,
            const std::vector<std::string>& ins) {
  const LayerWeights& w = weights.at(l.name);
  if (w.bn)
    throw WorkloadError(net.source, l.source_line, l.name,
                        "ONNX export of a BatchNorm after an fc layer is not supported");
  const std::string flat = l.name + ".flatten";
  attr_int(node(g, "Flatten", flat, {ins.front()}, flat), "axis", 1);
  add_initializer(g, l.name + ".weight", w.weight.shape, w.weight.data);
  std::vector<std::string> args = {flat, l.name + ".weight"};
  if (!w.bias.empty()) {
    add_initializer(g, l.name + ".bias", {static_cast<int64_t>(w.bias.size())}, w.bias);
    args.push_back(l.name + ".bias");
  }
  attr_int(node(g, "Gemm", l.name, args, l.name), "transB", 1);
}

// A chain of two-input Adds; the last outputs l.name.
void add_sum(onnx::GraphProto& g, const Layer& l, const std::vector<std::string>& ins) {
  std::string acc = ins[0];
  for (size_t k = 1; k < ins.size(); ++k) {
    const std::string o = k + 1 == ins.size() ? l.name : fmt::format("{}.{}", l.name, k);
    node(g, "Add", o, {acc, ins[k]}, o);
    acc = o;
  }
}

void add_pool(onnx::GraphProto& g, const Layer& l, const std::vector<std::string>& ins) {
  onnx::NodeProto* n = node(g, l.type == LayerType::MaxPool ? "MaxPool" : "AveragePool", l.name,
                            {ins.front()}, l.name);
  attr_ints(n, "kernel_shape", {l.k_h, l.k_w});
  attr_ints(n, "strides", {l.stride_h, l.stride_w});
  attr_ints(n, "pads", {l.pad_h, l.pad_w, l.pad_bottom(), l.pad_right()});
  if (l.type == LayerType::AvgPool) attr_int(n, "count_include_pad", l.count_include_pad ? 1 : 0);
}

}  // namespace

std::string export_onnx(const Network& net, const WeightSet& weights) {
  onnx::ModelProto model;
  model.set_ir_version(7);
  model.set_producer_name("imcsim");
  onnx::OperatorSetIdProto* op = model.add_opset_import();
  op->set_domain("");
  op->set_version(13);
  onnx::GraphProto& g = *model.mutable_graph();
  g.set_name(net.name);

  onnx::ValueInfoProto* in = g.add_input();
  in->set_name("input");
  set_shape(in, {1, net.input.c, net.input.h, net.input.w});

  std::map<std::string, std::string> value_of{{"input", "input"}};  // layer -> its output value
  for (const auto& l : net.layers) {
    std::vector<std::string> ins;
    for (const auto& i : l.inputs) ins.push_back(value_of.at(i));
    std::string out = l.name;
    switch (l.type) {
      case LayerType::Conv: add_conv(g, l, weights, ins); break;
      case LayerType::Fc: add_fc(g, net, l, weights, ins); break;
      case LayerType::Add: add_sum(g, l, ins); break;
      case LayerType::MaxPool:
      case LayerType::AvgPool: add_pool(g, l, ins); break;
      case LayerType::GlobalAvgPool:
        node(g, "GlobalAveragePool", l.name, {ins.front()}, l.name);
        break;
    }
    value_of[l.name] = activation(g, l, out);
  }
  const Layer& last = net.layers.back();
  onnx::ValueInfoProto* o = g.add_output();
  o->set_name(value_of.at(last.name));
  if (last.type == LayerType::Fc) {
    set_shape(o, {1, last.out.c});
  } else {
    set_shape(o, {1, last.out.c, last.out.h, last.out.w});
  }
  std::string bytes;
  if (!model.SerializeToString(&bytes))
    throw WorkloadError(net.source, 0, "", "ONNX serialization failed");
  return bytes;
}

void write_onnx(const std::string& path, const Network& net, const WeightSet& weights) {
  const std::string bytes = export_onnx(net, weights);
  const std::string tmp = path + fmt::format(".tmp-{}", static_cast<long>(::getpid()));
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw WorkloadError(path, 0, "", "cannot create file for writing");
    f << bytes;
    f.flush();
    if (!f) {
      std::remove(tmp.c_str());
      throw WorkloadError(path, 0, "", "write failed");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw WorkloadError(path, 0, "", "cannot write the file");
  }
}

}  // namespace imcsim::onnx_io
