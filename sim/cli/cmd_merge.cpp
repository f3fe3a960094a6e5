// imcsim merge: joins sweep folders (shards) into OUT/results.csv, results.json and
// layers.csv (sim/sweep/sweep_merge.hpp).
#include <fmt/format.h>

#include <iostream>

#include "sim/cli/cli.hpp"
#include "sim/sweep/sweep_merge.hpp"

namespace imcsim::cli {

void register_merge_command(CLI::App& app, CommandContext& ctx) {
  struct Args {
    std::vector<std::string> dirs;
    std::string out_dir;
  };
  auto a = std::make_shared<Args>();
  auto* cmd =
      app.add_subcommand("merge", "join sweep folders into OUT/results.csv and results.json");
  cmd->add_option("dirs", a->dirs, "sweep folders (imcsim sweep -o DIR), e.g. one per shard")
      ->required();
  cmd->add_option("-o,--output-dir", a->out_dir, "folder for results.csv, results.json, layers.csv")
      ->required();
  cmd->callback([a, &ctx] {
    const MergeSummary s = merge_sweeps(a->dirs, a->out_dir);
    std::cerr << fmt::format("imcsim merge: {} points ({} failed), {} rows -> {}/results.csv\n",
                             s.points, s.failed, s.rows, a->out_dir);
    ctx.exit_code = 0;
  });
}

}  // namespace imcsim::cli
