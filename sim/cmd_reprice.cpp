// imcsim reprice: a finished cycle run priced with another technology's energy table,
// from the event counts recorded in its summary.json (no re-simulation; REFERENCE §11).
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>

#include "sim/cli.hpp"
#include "sim/cycle_run.hpp"

namespace imcsim::cli {

namespace {

int cmd_reprice(const std::string& summary_path, const std::string& tech_name,
                const std::string& output) {
  std::ifstream in(summary_path);
  if (!in) throw ConfigError(summary_path, 0, "", "cannot open summary for reading");
  std::stringstream text;
  text << in.rdbuf();
  Json summary;
  try {
    summary = Json::parse(text.str());
  } catch (const std::exception& e) {
    throw ConfigError(summary_path, 0, "", std::string("not a JSON summary: ") + e.what());
  }
  const std::string tech_file = resolve_tech(tech_name, "./");
  if (tech_file.empty())
    throw UsageError("", 0, "--tech",
                     fmt::format("unknown technology \"{}\" (built-in: {}; or a path)", tech_name,
                                 join_choices(builtin_techs())));
  Json out;
  try {
    out = reprice_summary(summary, load_tech_file(tech_file));
  } catch (const Json::exception& e) {
    throw ConfigError(summary_path, 0, "", std::string("summary lacks event counts: ") + e.what());
  }
  emit(out.dump(2) + "\n", output);
  if (!output.empty()) {
    std::cerr << fmt::format("imcsim: energy {:.3f} nJ with {} (was {:.3f} nJ with {})\n",
                             out["totals"]["energy_pj"]["total"].get<double>() * 1e-3,
                             out["tech"].get<std::string>(),
                             summary["totals"]["energy_pj"]["total"].get<double>() * 1e-3,
                             summary["tech"].get<std::string>());
  }
  return 0;
}

}  // namespace

void register_reprice_command(CLI::App& app, CommandContext& ctx) {
  struct Options {
    std::string summary, tech, output;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("reprice", "re-price a cycle run's summary.json with another technology");
  cmd->add_option("summary", o->summary, "summary.json of a cycle run")->required();
  cmd->add_option("--tech", o->tech, "technology name (configs/tech) or .yaml path")->required();
  cmd->add_option("-o,--output", o->output, "write the re-priced summary here (default: stdout)");
  cmd->callback([o, &ctx] { ctx.exit_code = cmd_reprice(o->summary, o->tech, o->output); });
}

}  // namespace imcsim::cli
