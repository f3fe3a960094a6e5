// imcsim calibrate: per-tensor activation quantization from training images
// (workloads/calibration.hpp, REFERENCE §13: calibrated on training images only).
#include <fmt/format.h>

#include <chrono>
#include <iostream>
#include <memory>

#include "sim/cli/cli.hpp"
#include "sim/eval/eval.hpp"

namespace imcsim::cli {

void register_calibrate_command(CLI::App& app, CommandContext& ctx) {
  struct Options {
    eval::ModelFlags model;
    std::string dataset, split = "train", images = "512", method = "percentile:99.99", bits = "8";
    std::string threads = "1", output;
    bool quiet = false;
  };
  auto o = std::make_shared<Options>();
  auto* cmd =
      app.add_subcommand("calibrate", "activation scales and zero points from training images");
  eval::add_model_options(cmd, o->model);
  cmd->add_option("--dataset", o->dataset, "data set folder (holding dataset.yaml)")->required();
  cmd->add_option("--split", o->split,
                  "training split to calibrate on (default train; never test)");
  cmd->add_option("--images", o->images,
                  "calibrate on the first N images of the split (default 512)");
  cmd->add_option(
      "--method", o->method,
      "max (min/max of all values) or percentile:P (the 100-P and P percentiles, exact; "
      "default percentile:99.99)");
  cmd->add_option("--bits", o->bits,
                  "activation code bits (default 8; the architecture's input_bits)");
  cmd->add_option("-j", o->threads,
                  "float runs on N threads (the result does not depend on N; default 1)");
  cmd->add_option("-o,--output", o->output, "calibration file to write (calib.yaml)")->required();
  cmd->add_flag("-q,--quiet", o->quiet, "no progress lines on standard error");
  cmd->callback([o, &ctx] {
    eval::check_model_flags(o->model);
    if (o->split == "test")
      throw UsageError(
          "", 0, "--split",
          "test images are for measuring only; calibrate on a training split (--split train)");
    if (!is_safe_identifier(o->split))
      throw UsageError("", 0, "--split",
                       fmt::format("expected a split name, got \"{}\"", o->split));
    CalibrationOptions opt;
    opt.images = parse_count("--images", o->images, 1, int64_t{1} << 40);
    const auto method = parse_calibration_method(o->method);
    if (!method)
      throw UsageError(
          "", 0, "--method",
          fmt::format("expected max or percentile:P with P in (50, 100], got \"{}\"", o->method));
    opt.method = *method;
    opt.bits = static_cast<int>(parse_count("--bits", o->bits, 1, 16));
    opt.threads = static_cast<int>(parse_count("-j", o->threads, 1, 256));

    const auto t0 = std::chrono::steady_clock::now();
    eval::EvalInputs in;
    in.dataset = load_dataset(o->dataset);
    const Split& split = in.dataset.split(o->split);
    if (opt.images > split.count)
      throw UsageError("", 0, "--images",
                       fmt::format("split {} of {} has {} images, asked for {}", split.name,
                                   in.dataset.name, split.count, opt.images));
    eval::load_network(o->model, in);
    std::unique_ptr<eval::Progress> progress;  // its total is known once the stride is
    opt.progress = [&progress, o](int64_t, int64_t total) {
      if (!progress) progress = std::make_unique<eval::Progress>("calibrate", total, o->quiet);
      progress->tick();
    };
    const Calibration c = calibrate(in.net, in.weights, in.dataset, split, opt);
    if (c.image_stride > 1)
      std::cerr << fmt::format(
          "imcsim: calibrate: {} would keep more than {} values; used every {}th of the first {} "
          "images\n",
          opt.method.text(), opt.max_collected, c.image_stride, c.images);
    emit(calibration_yaml(c), o->output);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!o->quiet)
      std::cerr << fmt::format(
          "imcsim: wrote {} ({} tensors, {} {} images, {}, {} bits) in {:.1f} s\n", o->output,
          c.tensors.size(), c.images, c.split, c.method, c.bits, s);
    ctx.exit_code = 0;
  });
}

}  // namespace imcsim::cli
