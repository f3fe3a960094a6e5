// imcsim eval: top-1 accuracy of a network on a data set split (REFERENCE §13), in float, in
// the integer datapath (int) or on the cycle-accurate engine (cycle); see sim/eval/eval.hpp.
#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <iostream>

#include "sim/cli/cli.hpp"
#include "sim/eval/eval.hpp"

namespace imcsim::cli {

namespace {

// A file can be created at `path` (its folder exists): checked before a long evaluation so a
// typo in -o fails at once; the file itself is written atomically at the end.
void check_output_folder(const std::string& path) {
  if (path.empty()) return;
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty() && !std::filesystem::is_directory(parent, ec))
    throw ConfigError(path, 0, "output",
                      "cannot create file for writing (no folder " + parent.string() + ")");
}

}  // namespace

void register_eval_command(CLI::App& app, CommandContext& ctx) {
  struct Options {
    eval::ModelFlags model;
    std::string dataset, split = "test", mode = "float", arch, calibration, limit, threads = "1";
    std::string format = "table", output;
    bool quiet = false;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("eval", "top-1 accuracy of a network on a data set split");
  eval::add_model_options(cmd, o->model);
  cmd->add_option("--dataset", o->dataset, "data set folder (holding dataset.yaml)")->required();
  cmd->add_option("--split", o->split, "split to evaluate (default test)");
  cmd->add_option("--mode", o->mode,
                  "float (as trained), int (quantized datapath) or cycle (engine)");
  cmd->add_option(
      "--arch", o->arch,
      "architecture YAML: weight_bits and input_bits for --mode int|cycle (default without "
      "it: 8-bit weights, 8-bit activations, or the calibration's bits)");
  cmd->add_option(
      "--calibration", o->calibration,
      "activation calibration (imcsim calibrate) for --mode int|cycle (default: dynamic "
      "per-image ranges)");
  cmd->add_option("--limit", o->limit, "evaluate only the first N images of the split");
  cmd->add_option("-j", o->threads,
                  "images evaluated on N threads (results do not depend on N; default 1)");
  cmd->add_option("--format", o->format, "table (default) or json");
  cmd->add_option("-o,--output", o->output, "write the report to FILE instead of standard output");
  cmd->add_flag("-q,--quiet", o->quiet, "no progress lines on standard error");
  cmd->callback([o, &ctx] {
    eval::check_model_flags(o->model);
    eval::EvalOptions opt;
    if (o->mode == "float")
      opt.mode = eval::EvalMode::Float;
    else if (o->mode == "int")
      opt.mode = eval::EvalMode::Int;
    else if (o->mode == "cycle")
      opt.mode = eval::EvalMode::Cycle;
    else
      throw UsageError("", 0, "--mode",
                       fmt::format("expected float, int or cycle, got \"{}\"", o->mode));
    if (o->format != "table" && o->format != "json")
      throw UsageError("", 0, "--format",
                       fmt::format("expected table or json, got \"{}\"", o->format));
    opt.threads = static_cast<int>(parse_count("-j", o->threads, 1, 256));
    opt.quiet = o->quiet;
    const int64_t limit =
        o->limit.empty() ? -1 : parse_count("--limit", o->limit, 1, int64_t{1} << 40);
    if (opt.mode == eval::EvalMode::Float && !o->calibration.empty())
      throw UsageError("", 0, "--calibration",
                       "a calibration applies to --mode int or cycle, not float");
    if (opt.mode == eval::EvalMode::Float && !o->arch.empty())
      throw UsageError("", 0, "--arch",
                       "an architecture applies to --mode int or cycle, not float");
    if (!is_safe_identifier(o->split))
      throw UsageError("", 0, "--split",
                       fmt::format("expected a split name, got \"{}\"", o->split));
    check_output_folder(o->output);

    const auto t0 = std::chrono::steady_clock::now();
    eval::EvalInputs in;
    in.dataset = load_dataset(o->dataset);
    if (!in.dataset.has_split(o->split)) in.dataset.split(o->split);  // the named error
    eval::load_network(o->model, in);
    if (!o->arch.empty()) {
      in.arch = load_arch_file(o->arch);
      in.arch_file = o->arch;
      in.weight_bits = static_cast<int>(in.arch->weight_bits);
      in.input_bits = static_cast<int>(in.arch->input_bits);
      // The integer reference quantizes weights symmetrically, which needs a sign bit.
      if (opt.mode != eval::EvalMode::Float && in.weight_bits < 2)
        throw ConfigError(
            o->arch, 0, "arch.weight_bits",
            fmt::format("{}-bit weights cannot be evaluated in --mode {} (expected 2..16)",
                        in.weight_bits, o->mode));
    }
    if (!o->calibration.empty()) {
      in.calibration = load_calibration(o->calibration, in.net, in.arch ? in.input_bits : 0);
      if (!in.arch) in.input_bits = in.calibration->bits;
    }
    in.split = &in.dataset.split(o->split);
    const int64_t count = limit < 0 ? in.split->count : std::min(limit, in.split->count);
    for (int64_t i = 0; i < count; ++i) in.images.push_back(i);

    const eval::EvalResult r = eval::evaluate(in, opt, eval::eval_cycle_logits);
    const std::string text = o->format == "json" ? eval::eval_json(in, r) : eval::eval_table(in, r);
    emit(text, o->output);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!o->quiet)
      std::cerr << fmt::format("imcsim: eval {}: {} images in {:.1f} s on {} thread{}{}\n", o->mode,
                               count, s, opt.threads, opt.threads == 1 ? "" : "s",
                               o->output.empty() ? "" : ", wrote " + o->output);
    ctx.exit_code = 0;
  });
}

}  // namespace imcsim::cli
