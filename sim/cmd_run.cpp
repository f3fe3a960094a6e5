// imcsim run / imcsim validate: experiment YAML -> run folder, or the resolved config.
#include <iostream>

#include "sim/cli.hpp"
#include "sim/config.hpp"
#include "sim/run.hpp"

namespace imcsim::cli {

namespace {

int cmd_run(const std::string& file, const std::string& output_root, bool quiet) {
  const ExperimentSpec spec = load_experiment_file(file);
  const RunResult r = run_analytic(spec, output_root.empty() ? spec.output_dir : output_root);
  if (!quiet) std::cout << mappings_table(r.mappings);
  std::cerr << "imcsim: wrote " << r.dir << "/{resolved.yaml,summary.json,layers.csv}\n";
  return 0;
}

}  // namespace

void register_run_command(CLI::App& app, CommandContext& ctx) {
  struct Options {
    std::string file, output_root;
    bool quiet = false;
  };
  auto o = std::make_shared<Options>();
  auto* run = app.add_subcommand("run", "run an experiment YAML; writes out/<run-id>/");
  run->add_option("experiment", o->file, "experiment .yaml")->required();
  run->add_option("-o,--output-dir", o->output_root,
                  "output root (default: output_dir of the experiment)");
  run->add_flag("-q,--quiet", o->quiet, "do not print the per-layer table");
  run->callback([o, &ctx] { ctx.exit_code = cmd_run(o->file, o->output_root, o->quiet); });
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
