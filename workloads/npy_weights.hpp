// Weights of a YAML workload from a folder of .npy tensors (one file per tensor, as
// ../shared/data/resnet20-cifar10), through a name map that says which tensors belong to
// which layer. Map file format (YAML, strict like every imcsim file):
//
//   bn_eps: 1.0e-5                 # optional, BatchNorm epsilon (default 1e-5, PyTorch's)
//   layers:
//     layers.0: {weight: layers.0.weight, bn: layers.1.bn_dict.2, bn_eps: 1.0e-4, onnx: stem.conv}
//     fc:       {weight: fc.weight, bias: fc.bias}
//
// `weight` / `bias` name tensors (file <name>.npy in the folder); `bn: P` names the four
// BatchNorm tensors P.weight (gamma), P.bias (beta), P.running_mean, P.running_var (PyTorch's
// state-dict names); `onnx` optionally names the same layer in an ONNX export, so the two
// sources can be compared; `bn_eps` overrides the file's epsilon for that layer. A layer not in the
// map uses <layer>.weight, <layer>.bias and BN prefix <layer>.bn.
#pragma once

#include <map>
#include <string>

#include "workloads/network.hpp"
#include "workloads/weights.hpp"

namespace imcsim {

struct WeightMapEntry {
  std::string weight, bias, bn, onnx;  // empty = not given
  float bn_eps = -1.0f;                // < 0: the map's bn_eps
};

struct WeightMap {
  std::string source;  // the map file ("" = default names)
  float bn_eps = 1e-5f;
  std::map<std::string, WeightMapEntry> layers;

  // Entry of a layer, with the default names filled in for what the map leaves out.
  WeightMapEntry resolved(const Layer& layer) const;
};

// Parses a map file; every layer named in it must exist in `net` (WorkloadError otherwise).
WeightMap load_weight_map(const std::string& path, const Network& net);
// The map shipped for a built-in workload: <workloads dir>/weight_maps/<net.name>.yaml, or ""
// when there is none.
std::string builtin_weight_map(const Network& net);

// Loads and checks (check_weights) the weights of every conv/fc layer of `net` from `dir`.
// `map_file` empty: <dir>/weight_map.yaml if present, else the built-in map of the workload
// if there is one, else default names.
WeightSet load_npy_weights(const Network& net, const std::string& dir,
                           const std::string& map_file = "");

}  // namespace imcsim
