// imcsim import: an ONNX model -> the equivalent workload YAML (and optionally its weights as
// .npy files), so mappers, sweeps and the executor treat it like a built-in workload.
#include <filesystem>
#include <iostream>
#include <set>

#include <fmt/format.h>

#include "sim/cli.hpp"
#include "sim/report.hpp"
#include "workloads/npy.hpp"
#include "workloads/onnx/onnx_import.hpp"

namespace fs = std::filesystem;

namespace imcsim::cli {

namespace {

// Weights under the default names of a weight map (workloads/npy_weights.hpp), plus a
// weight_map.yaml carrying the BatchNorm epsilon. Written into a temporary sibling folder
// renamed into place, so a failure leaves nothing half-written.
void write_weights_dir(const onnx_io::OnnxModel& m, const std::string& dir) {
  std::set<float> eps;
  for (const auto& [name, lw] : m.weights.layers)
    if (lw.bn) eps.insert(lw.bn->eps);
  if (eps.size() > 1)
    throw WorkloadError(m.file, 0, "BatchNormalization.epsilon",
                        "layers use different epsilons; a weight map holds one (bn_eps)");
  const fs::path final_dir(dir), tmp(dir + ".tmp");
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) throw ConfigError("", 0, "--weights-dir", fmt::format("cannot create {}: {}", tmp.string(), ec.message()));
  auto vec = [](const std::vector<float>& v) {
    Tensor t({static_cast<int64_t>(v.size())});
    t.data = v;
    return t;
  };
  try {
    for (const auto& [name, lw] : m.weights.layers) {
      write_npy((tmp / (name + ".weight.npy")).string(), lw.weight);
      if (!lw.bias.empty()) write_npy((tmp / (name + ".bias.npy")).string(), vec(lw.bias));
      if (lw.bn) {
        write_npy((tmp / (name + ".bn.weight.npy")).string(), vec(lw.bn->gamma));
        write_npy((tmp / (name + ".bn.bias.npy")).string(), vec(lw.bn->beta));
        write_npy((tmp / (name + ".bn.running_mean.npy")).string(), vec(lw.bn->mean));
        write_npy((tmp / (name + ".bn.running_var.npy")).string(), vec(lw.bn->var));
      }
    }
    const std::string map = fmt::format(
        "# written by imcsim import from {}: tensors use the default names <layer>.weight,\n"
        "# <layer>.bias, <layer>.bn.* (workloads/npy_weights.hpp)\nbn_eps: {}\nlayers: {{}}\n",
        m.file, eps.empty() ? 1e-5f : *eps.begin());
    write_file_atomic((tmp / "weight_map.yaml").string(), map);
  } catch (...) {
    fs::remove_all(tmp, ec);  // a failed write leaves no half-written folder behind
    throw;
  }
  fs::remove_all(final_dir, ec);
  fs::rename(tmp, final_dir, ec);
  if (ec) throw ConfigError("", 0, "--weights-dir", fmt::format("cannot write {}: {}", dir, ec.message()));
}

}  // namespace

void register_import_command(CLI::App& app, CommandContext& ctx) {
  struct Options {
    std::string model, output, weights_dir, name;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("import", "ONNX model -> workload YAML (+ .npy weights)");
  cmd->add_option("model", o->model, "ONNX model (.onnx)")->required();
  cmd->add_option("-o,--output", o->output, "workload YAML to write (default: standard output)");
  cmd->add_option("--weights-dir", o->weights_dir,
                  "also write the weights as .npy files (and weight_map.yaml) into this folder");
  cmd->add_option("--name", o->name, "workload name (default: the ONNX graph name)");
  cmd->callback([o, &ctx] {
    onnx_io::OnnxModel m = onnx_io::import_onnx(o->model);
    if (m.integer)
      throw WorkloadError(o->model, 0, "", "integer (ConvInteger) models have no workload YAML form");
    if (!o->name.empty()) m.net.name = o->name;
    const std::string yaml = onnx_io::workload_yaml(
        m.net, fmt::format("imported from {} ({} layers)", fs::path(o->model).filename().string(),
                           m.net.layers.size()));
    // The YAML first: an unwritable -o then fails before any weight is written, and a
    // failure writing the weights takes the YAML away again (no partial output).
    emit(yaml, o->output);
    if (!o->weights_dir.empty()) {
      try {
        write_weights_dir(m, o->weights_dir);
      } catch (...) {
        std::error_code ec;
        if (!o->output.empty()) fs::remove(o->output, ec);
        throw;
      }
    }
    if (!o->output.empty())
      std::cerr << fmt::format("imcsim: wrote {} ({} layers, {} MACs)\n", o->output,
                               m.net.layers.size(), m.net.total_macs());
    ctx.exit_code = 0;
  });
}

}  // namespace imcsim::cli
