// imcsim infer: the reference executor (workloads/reference.hpp) on an ONNX TensorProto
// input, writing the output tensor as a TensorProto. Float mode is the network as trained;
// integer mode quantizes weights and activations (bits from --arch or the flags).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>
#include <iostream>

#include "sim/cli/cli.hpp"
#include "sim/config/config.hpp"
#include "workloads/loader.hpp"
#include "workloads/npy_weights.hpp"
#include "workloads/onnx/onnx_run.hpp"

namespace imcsim::cli {

void register_infer_command(CLI::App& app, CommandContext& ctx) {
  struct Options {
    std::string model, workload, weights, weight_map, input, output, mode = "float", arch;
    std::string weight_bits, input_bits;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("infer", "reference inference: input .pb -> output .pb");
  cmd->add_option("--model", o->model, "ONNX model (.onnx)");
  cmd->add_option("--workload", o->workload, "workload name or .yaml (with --weights)");
  cmd->add_option("--weights", o->weights, "folder of .npy weights for --workload");
  cmd->add_option("--weight-map", o->weight_map,
                  "weight name map for --weights (default: DIR/weight_map.yaml, else "
                  "workloads/weight_maps/<name>.yaml, else <layer>.weight ...)");
  cmd->add_option("--input", o->input, "input tensor (ONNX TensorProto .pb)")->required();
  cmd->add_option("--output", o->output, "output tensor file to write (.pb)")->required();
  cmd->add_option("--mode", o->mode, "float (double accumulate) or int (quantized)")
      ->check(CLI::IsMember({"float", "int"}));
  cmd->add_option("--arch", o->arch,
                  "architecture YAML: weight_bits and input_bits for --mode int");
  cmd->add_option("--weight-bits", o->weight_bits,
                  "weight bits for --mode int (default 8, or --arch)");
  cmd->add_option("--input-bits", o->input_bits,
                  "activation bits for --mode int (default 8, or --arch)");
  cmd->callback([o, &ctx] {
    if (o->model.empty() == o->workload.empty())
      throw UsageError("", 0, "--model/--workload", "give exactly one of --model or --workload");
    if (!o->workload.empty() && o->weights.empty())
      throw UsageError("", 0, "--weights",
                       "--workload needs --weights DIR (a folder of .npy tensors)");
    if (!o->model.empty() && (!o->weights.empty() || !o->weight_map.empty()))
      throw UsageError("", 0, "--weights",
                       "--weights/--weight-map go with --workload, not --model");
    onnx_io::InferOptions opt;
    opt.mode = o->mode == "int" ? onnx_io::InferMode::Int : onnx_io::InferMode::Float;
    if (!o->arch.empty()) {
      const ArchSpec arch = load_arch_file(o->arch);
      opt.int_options.weight_bits = static_cast<int>(arch.weight_bits);
      opt.int_options.input_bits = static_cast<int>(arch.input_bits);
    }
    if (!o->weight_bits.empty())
      opt.int_options.weight_bits =
          static_cast<int>(parse_count("--weight-bits", o->weight_bits, 2, 16));
    if (!o->input_bits.empty())
      opt.int_options.input_bits =
          static_cast<int>(parse_count("--input-bits", o->input_bits, 1, 16));

    const auto t0 = std::chrono::steady_clock::now();
    const onnx_io::ProtoTensor input = onnx_io::read_tensor_proto(o->input);
    onnx_io::ProtoTensor out;
    if (!o->model.empty()) {
      const onnx_io::OnnxModel m = onnx_io::import_onnx(o->model);
      out = onnx_io::infer_model(m, input, o->input, opt);
    } else {
      const Network net = load_workload(o->workload);
      const WeightSet w = load_npy_weights(net, o->weights, o->weight_map);
      const int out_rank = net.layers.back().type == LayerType::Fc ? 2 : 4;
      out = onnx_io::infer_network(net, w, input, o->input, 4, out_rank, opt);
    }
    onnx_io::write_tensor_proto(o->output, out);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    const std::string mode =
        opt.mode == onnx_io::InferMode::Float
            ? std::string("float")
            : fmt::format("int, {}-bit weights, {}-bit activations", opt.int_options.weight_bits,
                          opt.int_options.input_bits);
    std::cerr << fmt::format("imcsim: wrote {} ([{}] {}, mode {}) in {:.1f} ms\n", o->output,
                             fmt::join(out.dims, ", "), onnx_io::elem_type_name(out.data_type),
                             mode, ms);
    ctx.exit_code = 0;
  });
}

}  // namespace imcsim::cli
