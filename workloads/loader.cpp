#include "workloads/loader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include "workloads/input_file.hpp"

namespace fs = std::filesystem;

namespace imcsim {

namespace {

constexpr int64_t kMaxDim = 1 << 20;  // sanity bound on any size/channel count

std::string shape_str(const TensorShape& s) {
  return fmt::format("{}x{}x{}", s.h, s.w, s.c);
}

// `kernel: 3` or `kernel: [3, 5]` (h, w).
std::pair<int64_t, int64_t> pair_value(const YamlNode& n, int64_t lo, int64_t hi) {
  if (n.is_seq()) {
    auto items = n.items();
    if (items.size() != 2) n.fail_expected("an integer or a list [h, w]");
    return {items[0].as_int(lo, hi), items[1].as_int(lo, hi)};
  }
  const int64_t v = n.as_int(lo, hi);
  return {v, v};
}

const std::vector<std::string> kLayerTypes = {"conv",    "fc",      "add",
                                              "maxpool", "avgpool", "global_avgpool"};

LayerType layer_type(const std::string& s) {
  if (s == "conv") return LayerType::Conv;
  if (s == "fc") return LayerType::Fc;
  if (s == "add") return LayerType::Add;
  if (s == "maxpool") return LayerType::MaxPool;
  if (s == "avgpool") return LayerType::AvgPool;
  return LayerType::GlobalAvgPool;
}

Activation activation(const std::string& s) {
  if (s == "relu") return Activation::Relu;
  if (s == "relu1") return Activation::Relu1;
  if (s == "gelu") return Activation::Gelu;
  return Activation::None;
}

// Output extent of a sliding window (floor mode, as PyTorch/ONNX default).
int64_t window_out(const YamlNode& where, int64_t in, int64_t k, int64_t s, int64_t p,
                   const char* axis) {
  const int64_t padded = in + 2 * p;
  if (k > padded)
    where.fail(fmt::format("kernel {} ({}) is larger than the padded input {} ({} = {} + 2x{})",
                           axis, k, axis, padded, in, p));
  return (padded - k) / s + 1;
}

Layer parse_layer(const YamlNode& n, const std::map<std::string, TensorShape>& shapes,
                  const std::string& previous) {
  n.expect_map();
  Layer l;
  l.source_line = n.line();
  l.name = n.child("name").as_string();
  if (l.name.empty() || l.name == "input")
    n.child("name").fail_expected("a non-empty name other than \"input\"");
  l.type = layer_type(n.child("type").as_choice(kLayerTypes));

  std::vector<std::string> allowed = {"name", "type", "inputs", "act"};
  switch (l.type) {
    case LayerType::Conv:
      allowed.insert(allowed.end(),
                     {"out_channels", "kernel", "stride", "pad", "groups", "bias", "bn"});
      break;
    case LayerType::Fc: allowed.insert(allowed.end(), {"out_features", "bias", "bn"}); break;
    case LayerType::MaxPool:
    case LayerType::AvgPool: allowed.insert(allowed.end(), {"kernel", "stride", "pad"}); break;
    case LayerType::Add:
    case LayerType::GlobalAvgPool: break;
  }
  n.allow_only(allowed);

  // Inputs: default is the previous layer (or the network input for the first).
  if (auto in = n.find("inputs")) {
    std::vector<YamlNode> items;
    if (in->is_seq()) {
      items = in->items();
    } else {
      items.push_back(*in);
    }
    if (items.empty()) in->fail_expected("at least one input layer name");
    for (const auto& item : items) {
      const std::string src = item.as_string();
      if (!shapes.count(src))
        item.fail(fmt::format(
            "unknown input \"{}\" (inputs must name an earlier layer or \"input\")", src));
      l.inputs.push_back(src);
    }
  } else {
    l.inputs.push_back(previous);
  }
  const size_t want_inputs = l.type == LayerType::Add ? 2 : 1;
  if ((l.type == LayerType::Add && l.inputs.size() < want_inputs) ||
      (l.type != LayerType::Add && l.inputs.size() != 1)) {
    n.child("inputs").fail(l.type == LayerType::Add ? "add needs at least two inputs"
                                                    : "this layer type takes exactly one input");
  }
  l.in = shapes.at(l.inputs.front());
  l.act = activation(n.get_choice("act", {"none", "relu", "relu1", "gelu"}, "none"));

  switch (l.type) {
    case LayerType::Conv: {
      l.out.c = n.child("out_channels").as_int(1, kMaxDim);
      std::tie(l.k_h, l.k_w) = pair_value(n.child("kernel"), 1, 64);
      if (auto s = n.find("stride")) std::tie(l.stride_h, l.stride_w) = pair_value(*s, 1, 64);
      if (auto p = n.find("pad")) std::tie(l.pad_h, l.pad_w) = pair_value(*p, 0, 64);
      l.groups = n.get_int("groups", 1, kMaxDim, 1);
      l.bias = n.get_bool("bias", false);
      l.batch_norm = n.get_bool("bn", false);
      if (l.in.c % l.groups != 0 || l.out.c % l.groups != 0) {
        n.child("groups").fail(
            fmt::format("groups {} must divide input channels {} and output channels {}", l.groups,
                        l.in.c, l.out.c));
      }
      l.out.h = window_out(n, l.in.h, l.k_h, l.stride_h, l.pad_h, "height");
      l.out.w = window_out(n, l.in.w, l.k_w, l.stride_w, l.pad_w, "width");
      break;
    }
    case LayerType::Fc:
      l.out = {1, 1, n.child("out_features").as_int(1, kMaxDim)};
      l.bias = n.get_bool("bias", true);
      l.batch_norm = n.get_bool("bn", false);
      break;
    case LayerType::MaxPool:
    case LayerType::AvgPool: {
      std::tie(l.k_h, l.k_w) = pair_value(n.child("kernel"), 1, 64);
      l.stride_h = l.k_h;
      l.stride_w = l.k_w;
      if (auto s = n.find("stride")) std::tie(l.stride_h, l.stride_w) = pair_value(*s, 1, 64);
      if (auto p = n.find("pad")) std::tie(l.pad_h, l.pad_w) = pair_value(*p, 0, 64);
      l.out = {window_out(n, l.in.h, l.k_h, l.stride_h, l.pad_h, "height"),
               window_out(n, l.in.w, l.k_w, l.stride_w, l.pad_w, "width"), l.in.c};
      break;
    }
    case LayerType::GlobalAvgPool: l.out = {1, 1, l.in.c}; break;
    case LayerType::Add: {
      for (size_t i = 1; i < l.inputs.size(); ++i) {
        const TensorShape& other = shapes.at(l.inputs[i]);
        if (!(other == l.in)) {
          const char* what = other.c != l.in.c ? "channel mismatch" : "shape mismatch";
          n.child("inputs").fail(fmt::format("{}: add joins {} ({}) and {} ({})", what, l.inputs[0],
                                             shape_str(l.in), l.inputs[i], shape_str(other)));
        }
      }
      l.out = l.in;
      break;
    }
  }
  return l;
}

}  // namespace

Network parse_workload(const YamlNode& root) {
  if (root.is_null()) root.fail("empty workload file (expected keys name, input, layers)");
  root.expect_map();
  root.allow_only({"name", "description", "input", "layers"});
  Network net;
  net.source = root.file();
  net.name = root.child("name").as_string();
  if (auto d = root.find("description")) d->as_string();
  const YamlNode in = root.child("input");
  in.expect_map();
  in.allow_only({"h", "w", "c"});
  net.input = {in.child("h").as_int(1, kMaxDim), in.child("w").as_int(1, kMaxDim),
               in.child("c").as_int(1, kMaxDim)};

  std::map<std::string, TensorShape> shapes{{"input", net.input}};
  std::string previous = "input";
  const YamlNode layers = root.child("layers");
  const auto items = layers.items();
  if (items.empty()) layers.fail_expected("at least one layer");
  for (const auto& item : items) {
    Layer l = parse_layer(item, shapes, previous);
    if (shapes.count(l.name))
      item.child("name").fail(fmt::format("duplicate layer name \"{}\"", l.name));
    shapes[l.name] = l.out;
    previous = l.name;
    net.layers.push_back(std::move(l));
  }
  check_network_counts(net);
  return net;
}

Network load_workload_file(const std::string& path) {
  return parse_workload(YamlNode::load_file(path, ErrorKind::Workload));
}

std::vector<std::string> workload_search_dirs() {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("IMCSIM_WORKLOADS_DIR"); env && *env) dirs.emplace_back(env);
  dirs.emplace_back(IMCSIM_DEFAULT_WORKLOADS_DIR);
  return dirs;
}

std::vector<std::string> builtin_workloads() {
  std::set<std::string> names;
  for (const auto& d : workload_search_dirs()) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(d, ec)) {
      if (e.path().extension() == ".yaml") names.insert(e.path().stem().string());
    }
  }
  return {names.begin(), names.end()};
}

std::string resolve_workload(const std::string& name_or_path) {
  const bool looks_like_path =
      name_or_path.find('/') != std::string::npos || fs::path(name_or_path).extension() == ".yaml";
  if (looks_like_path) {
    if (!path_exists(name_or_path))
      throw WorkloadError("", 0, "",
                          fmt::format("workload file \"{}\" does not exist", name_or_path));
    return name_or_path;
  }
  for (const auto& d : workload_search_dirs()) {
    fs::path p = fs::path(d) / (name_or_path + ".yaml");
    if (path_exists(p)) return p.string();
  }
  throw WorkloadError("", 0, "workload",
                      fmt::format("unknown built-in workload \"{}\" (built-in: {}; or give a path "
                                  "to a .yaml file)",
                                  name_or_path, join_choices(builtin_workloads())));
}

Network load_workload(const std::string& name_or_path) {
  return load_workload_file(resolve_workload(name_or_path));
}

}  // namespace imcsim
