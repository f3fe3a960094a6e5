// imcsim run / imcsim validate: experiment YAML -> run folder, or the resolved config.
#include <fmt/format.h>

#include <iostream>

#include "sim/cli/cli.hpp"
#include "sim/config/config.hpp"
#include "sim/run/cycle_run.hpp"
#include "sim/run/estimate.hpp"
#include "sim/run/run.hpp"
#include "workloads/loader.hpp"

namespace imcsim::cli {

namespace {

struct RunOptions {
  std::string file, output_root;
  bool quiet = false;
  bool trace = false;
  bool dry_run = false;
  bool stage_processes = false;
  std::string max_memory, max_disk;
  int64_t max_events = 0;
  int64_t threads = 0;  // 0: default_run_threads()
};

int64_t size_flag(const std::string& text, const char* flag, int64_t def) {
  if (text.empty()) return def;
  int64_t bytes = 0;
  if (!parse_size(text, bytes))
    throw UsageError(
        "", 0, flag,
        fmt::format("expected a size such as 512M, 8G or 1T, got \"{}\"", text.substr(0, 60)));
  return bytes;
}

// The experiment's `limits:` (or the defaults), each overridden by its flag when given.
RunLimits limits_of(const RunOptions& o, const RunLimits& from_yaml) {
  RunLimits l = from_yaml;
  l.max_memory = size_flag(o.max_memory, "--max-memory", l.max_memory);
  l.max_disk = size_flag(o.max_disk, "--max-disk", l.max_disk);
  if (o.max_events > 0) l.max_events = o.max_events;
  return l;
}

int cmd_run(const RunOptions& o) {
  const ExperimentSpec spec = load_experiment_file(o.file);
  const std::string root = o.output_root.empty() ? spec.output_dir : o.output_root;
  const RunLimits limits = limits_of(o, spec.limits);
  if (spec.mode == RunMode::Cycle) {
    // Sized before anything is elaborated or written.
    const RunEstimate e = estimate_cycle_run(spec, load_workload_file(spec.workload_file), o.trace);
    if (o.dry_run) {
      std::cout << "estimate: " << estimate_text(e) << "\n";
      check_estimate(e, limits, spec.file);
      return 0;
    }
    check_estimate(e, limits, spec.file);
    CycleOptions co;
    co.quiet = o.quiet;
    co.trace = o.trace;
    co.stage_processes = o.stage_processes;
    co.threads = static_cast<int>(o.threads > 0 ? o.threads : default_run_threads());
    const RunResult r = run_cycle(spec, root, co);
    std::cerr << "imcsim: wrote " << r.dir << "/\n";
    return 0;
  }
  if (o.dry_run) {
    const Network net = load_workload_file(spec.workload_file);
    std::cout << fmt::format(
        "estimate: analytic run of {} layers ({} mappers), output about "
        "{}\n",
        net.layers.size(), spec.mappers.size(),
        size_text(int64_t{16 << 10} +
                  int64_t{2048} * static_cast<int64_t>(net.layers.size() * spec.mappers.size())));
    return 0;
  }
  const RunResult r = run_analytic(spec, root);
  if (!o.quiet) std::cout << mappings_table(r.mappings);
  std::cerr << "imcsim: wrote " << r.dir << "/{resolved.yaml,summary.json,layers.csv}\n";
  return 0;
}

}  // namespace

void register_run_command(CLI::App& app, CommandContext& ctx) {
  auto o = std::make_shared<RunOptions>();
  auto* run = app.add_subcommand("run", "run an experiment YAML; writes out/<run-id>/");
  run->add_option("experiment", o->file, "experiment .yaml")->required();
  run->add_option("-o,--output-dir", o->output_root,
                  "output root (default: output_dir of the experiment)");
  run->add_flag("-q,--quiet", o->quiet, "no per-layer table (analytic) or progress lines (cycle)");
  run->add_flag("--trace", o->trace, "mode cycle: write trace.vcd (as engine.trace: true)");
  run->add_flag("--stage-processes", o->stage_processes,
                "mode cycle: each stage of an array pipeline as its own SystemC process, one DAC "
                "phase at a time, as in a traced run (the reference the default model is checked "
                "against; the outputs are the same, the run slower)");
  run->add_flag("--dry-run", o->dry_run,
                "print the estimated work, memory and output size; run and write nothing");
  run->add_option(
      "--max-memory", o->max_memory,
      "mode cycle: refuse a run estimated above this memory (default: limits.max_memory, "
      "else 8G)");
  run->add_option("--max-events", o->max_events,
                  "mode cycle: refuse a run estimated above this many events (default: "
                  "limits.max_events, else 5e10)")
      ->check(CLI::PositiveNumber);
  run->add_option("--max-disk", o->max_disk,
                  "mode cycle: refuse a run whose folder is estimated above this size (default: "
                  "limits.max_disk, else 16G)");
  run->add_option(
         "--threads", o->threads,
         "mode cycle: threads the run uses: 2 runs the reference passes beside the "
         "engine, 1 after it; the outputs are the same (default: 2 where the process may use two "
         "or more cores, else 1; imcsim sweep passes cores / jobs)")
      ->check(CLI::Range(1, 2));
  run->callback([o, &ctx] { ctx.exit_code = cmd_run(*o); });
}

void register_validate_command(CLI::App& app, CommandContext& ctx) {
  auto file = std::make_shared<std::string>();
  auto* validate = app.add_subcommand("validate", "check an experiment YAML and print it resolved");
  validate->add_option("experiment", *file, "experiment .yaml")->required();
  validate->callback([file, &ctx] {
    std::cout << resolved_yaml(load_experiment_file(*file));
    ctx.exit_code = 0;
  });
}

}  // namespace imcsim::cli
