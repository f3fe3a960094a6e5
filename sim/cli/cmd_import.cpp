// imcsim import: an ONNX model -> the equivalent workload YAML (and optionally its weights as
// .npy files), so mappers, sweeps and the executor treat it like a built-in workload.
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <iostream>
#include <set>

#include "sim/cli/cli.hpp"
#include "sim/report/report.hpp"
#include "workloads/npy.hpp"
#include "workloads/onnx/onnx_import.hpp"

namespace fs = std::filesystem;

namespace imcsim::cli {

namespace {

// A layer name as a file name stem: characters outside [A-Za-z0-9_.-] become '_' and a
// leading '.' becomes '_', so a name taken from a model ("../../x", "/etc/y") can never
// leave the weights folder; `used` keeps the stems of one folder distinct.
std::string file_stem(const std::string& name, std::set<std::string>& used) {
  std::string s;
  for (char ch : name) {
    const bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                    (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-';
    s += ok ? ch : '_';
  }
  if (s.empty() || s.front() == '.') s.insert(s.begin(), '_');
  if (s.size() > 200) s.resize(200);
  std::string stem = s;
  for (int k = 1; used.count(stem); ++k) stem = fmt::format("{}_{}", s, k);
  used.insert(stem);
  return stem;
}

// Weights of every layer as .npy files named after the layer (file_stem), plus a
// weight_map.yaml naming each layer's tensors and its BatchNorm epsilon. Written into a
// temporary sibling folder renamed into place, so a failure leaves nothing half-written.
void write_weights_dir(const onnx_io::OnnxModel& m, const std::string& dir) {
  const fs::path final_dir(dir), tmp(dir + ".tmp");
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec)
    throw ConfigError("", 0, "--weights-dir",
                      fmt::format("cannot create {}: {}", tmp.string(), ec.message()));
  auto vec = [](const std::vector<float>& v) {
    Tensor t({static_cast<int64_t>(v.size())});
    t.data = v;
    return t;
  };
  try {
    YAML::Emitter map;
    map << YAML::BeginMap << YAML::Key << "layers" << YAML::Value << YAML::BeginMap;
    std::set<std::string> used;
    for (const auto& [name, lw] : m.weights.layers) {
      const std::string stem = file_stem(name, used);
      map << YAML::Key << name << YAML::Value << YAML::Flow << YAML::BeginMap;
      map << YAML::Key << "weight" << YAML::Value << stem + ".weight";
      write_npy((tmp / (stem + ".weight.npy")).string(), lw.weight);
      if (!lw.bias.empty()) {
        map << YAML::Key << "bias" << YAML::Value << stem + ".bias";
        write_npy((tmp / (stem + ".bias.npy")).string(), vec(lw.bias));
      }
      if (lw.bn) {
        map << YAML::Key << "bn" << YAML::Value << stem + ".bn";
        map << YAML::Key << "bn_eps" << YAML::Value << fmt::format("{}", lw.bn->eps);
        write_npy((tmp / (stem + ".bn.weight.npy")).string(), vec(lw.bn->gamma));
        write_npy((tmp / (stem + ".bn.bias.npy")).string(), vec(lw.bn->beta));
        write_npy((tmp / (stem + ".bn.running_mean.npy")).string(), vec(lw.bn->mean));
        write_npy((tmp / (stem + ".bn.running_var.npy")).string(), vec(lw.bn->var));
      }
      map << YAML::EndMap;
    }
    map << YAML::EndMap << YAML::EndMap;
    write_file_atomic(
        (tmp / "weight_map.yaml").string(),
        fmt::format("# written by imcsim import from {}: each layer's tensors (file names\n"
                    "# are layer names restricted to [A-Za-z0-9_.-]) and its BatchNorm\n"
                    "# epsilon (workloads/npy_weights.hpp)\n{}\n",
                    m.file, map.c_str()));
  } catch (...) {
    fs::remove_all(tmp, ec);  // a failed write leaves no half-written folder behind
    throw;
  }
  fs::remove_all(final_dir, ec);
  fs::rename(tmp, final_dir, ec);
  if (ec)
    throw ConfigError("", 0, "--weights-dir",
                      fmt::format("cannot write {}: {}", dir, ec.message()));
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
      throw WorkloadError(o->model, 0, "",
                          "integer (ConvInteger) models have no workload YAML form");
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
