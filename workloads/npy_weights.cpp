#include "workloads/npy_weights.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "workloads/error.hpp"
#include "workloads/input_file.hpp"
#include "workloads/loader.hpp"
#include "workloads/npy.hpp"
#include "workloads/yaml_reader.hpp"

namespace fs = std::filesystem;

namespace imcsim {

WeightMapEntry WeightMap::resolved(const Layer& layer) const {
  WeightMapEntry e;
  if (auto it = layers.find(layer.name); it != layers.end()) e = it->second;
  if (e.weight.empty()) e.weight = layer.name + ".weight";
  if (e.bias.empty()) e.bias = layer.name + ".bias";
  if (e.bn.empty()) e.bn = layer.name + ".bn";
  return e;
}

WeightMap load_weight_map(const std::string& path, const Network& net) {
  const YamlNode root = YamlNode::load_file(path, ErrorKind::Workload);
  root.expect_map();
  root.allow_only({"bn_eps", "layers", "description"});
  WeightMap m;
  m.source = path;
  m.bn_eps = static_cast<float>(root.get_number("bn_eps", 0.0, 1.0, 1e-5));
  for (const auto& [name, node] : root.child("layers").entries()) {
    const Layer* l = net.find(name);
    if (!l || !l->on_arrays())
      node.fail(fmt::format("\"{}\" is not a conv or fc layer of workload {}", name, net.name));
    node.expect_map();
    node.allow_only({"weight", "bias", "bn", "bn_eps", "onnx"});
    WeightMapEntry e;
    e.weight = node.get_string("weight", "");
    e.bias = node.get_string("bias", "");
    e.bn = node.get_string("bn", "");
    e.onnx = node.get_string("onnx", "");
    e.bn_eps = static_cast<float>(node.get_number("bn_eps", 0.0, 1.0, m.bn_eps));
    m.layers[name] = e;
  }
  return m;
}

std::string builtin_weight_map(const Network& net) {
  for (const auto& d : workload_search_dirs()) {
    const fs::path p = fs::path(d) / "weight_maps" / (net.name + ".yaml");
    if (path_exists(p)) return p.string();
  }
  return "";
}

WeightSet load_npy_weights(const Network& net, const std::string& dir,
                           const std::string& map_file) {
  if (!fs::is_directory(dir))
    throw WorkloadError(dir, 0, "",
                        "weights folder does not exist (expected a folder of .npy files)");
  std::string map_path = map_file;
  if (map_path.empty() && path_exists(fs::path(dir) / "weight_map.yaml"))
    map_path = (fs::path(dir) / "weight_map.yaml").string();
  if (map_path.empty()) map_path = builtin_weight_map(net);
  WeightMap map;
  if (!map_path.empty()) map = load_weight_map(map_path, net);

  WeightSet ws;
  ws.source = dir;
  auto tensor = [&](const std::string& layer, const std::string& name, const char* role) {
    // A tensor name becomes a file name inside `dir` only: no separators, no leading '.'.
    const bool safe =
        !name.empty() && name.front() != '.' && std::all_of(name.begin(), name.end(), [](char ch) {
          return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '.' ||
                 ch == '-';
        });
    if (!safe)
      throw WorkloadError(
          map_path.empty() ? dir : map_path, 0, layer,
          fmt::format("{} tensor name \"{}\" is not a plain file name (expected characters "
                      "A-Z a-z 0-9 _ . - and no leading '.')",
                      role, name.substr(0, 120)));
    const fs::path p = fs::path(dir) / (name + ".npy");
    if (!path_exists(p))
      throw WorkloadError(
          map_path.empty() ? dir : map_path, 0, layer,
          fmt::format("{} tensor \"{}\" not found: expected file {}", role, name, p.string()));
    return read_npy_tensor(p.string());
  };
  auto vector = [&](const Layer& l, const std::string& name, const char* role) {
    Tensor t = tensor(l.name, name, role);
    if (t.shape.size() != 1 || t.shape[0] != l.out.c)
      throw WorkloadError(
          (fs::path(dir) / (name + ".npy")).string(), 0, l.name,
          fmt::format("{} has shape {}, expected {}", role, t.shape_str(), l.out.c));
    return t.data;
  };
  for (const auto& l : net.layers) {
    if (!l.on_arrays()) continue;
    const WeightMapEntry e = map.resolved(l);
    LayerWeights lw;
    lw.weight = tensor(l.name, e.weight, "weight");
    if (l.bias) lw.bias = vector(l, e.bias, "bias");
    if (l.batch_norm) {
      BatchNormParams bn;
      bn.gamma = vector(l, e.bn + ".weight", "batch-norm weight (gamma)");
      bn.beta = vector(l, e.bn + ".bias", "batch-norm bias (beta)");
      bn.mean = vector(l, e.bn + ".running_mean", "batch-norm running_mean");
      bn.var = vector(l, e.bn + ".running_var", "batch-norm running_var");
      bn.eps = e.bn_eps >= 0.0f ? e.bn_eps : map.bn_eps;
      lw.bn = std::move(bn);
    }
    ws.layers.emplace(l.name, std::move(lw));
  }
  check_weights(net, ws);
  return ws;
}

}  // namespace imcsim
