// imcsim run / imcsim validate: experiment YAML -> run folder, or the resolved config.
#include <iostream>

#include "sim/cli.hpp"
#include "sim/config.hpp"
#include "sim/cycle_run.hpp"
#include "sim/run.hpp"

namespace imcsim::cli {

namespace {

int cmd_run(const std::string& file, const std::string& output_root, bool quiet, bool trace) {
  const ExperimentSpec spec = load_experiment_file(file);
  const std::string root = output_root.empty() ? spec.output_dir : output_root;
  if (spec.mode == RunMode::Cycle) {
    const RunResult r = run_cycle(spec, root, CycleOptions{quiet, trace});
    std::cerr << "imcsim: wrote " << r.dir << "/\n";
    return 0;
  }
  const RunResult r = run_analytic(spec, root);
  if (!quiet) std::cout << mappings_table(r.mappings);
  std::cerr << "imcsim: wrote " << r.dir << "/{resolved.yaml,summary.json,layers.csv}\n";
  return 0;
}

}  // namespace

void register_run_command(CLI::App& app, CommandContext& ctx) {
  struct Options {
    std::string file, output_root;
    bool quiet = false;
    bool trace = false;
  };
  auto o = std::make_shared<Options>();
  auto* run = app.add_subcommand("run", "run an experiment YAML; writes out/<run-id>/");
  run->add_option("experiment", o->file, "experiment .yaml")->required();
  run->add_option("-o,--output-dir", o->output_root,
                  "output root (default: output_dir of the experiment)");
  run->add_flag("-q,--quiet", o->quiet, "no per-layer table (analytic) or progress lines (cycle)");
  run->add_flag("--trace", o->trace, "mode cycle: write trace.vcd (as engine.trace: true)");
  run->callback([o, &ctx] { ctx.exit_code = cmd_run(o->file, o->output_root, o->quiet, o->trace); });
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
