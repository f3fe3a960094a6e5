// imcsim reprice: a finished cycle run priced with another technology's energy table,
// from the event counts recorded in its summary.json (no re-simulation; REFERENCE §11).
#include <fmt/format.h>

#include <cmath>
#include <iostream>
#include <sstream>

#include "sim/cli/cli.hpp"
#include "sim/run/energy.hpp"
#include "workloads/input_file.hpp"

namespace imcsim::cli {

namespace {

// 2^53: the largest count a JSON number holds exactly, far above any simulated event count.
constexpr double kMaxCount = 9007199254740992.0;

// An event count, latency or architecture number of a summary: an integral (or, for
// `integral == false`, any) finite number in [0, 2^53]. A wrapped or hostile value (1e308, -1,
// NaN as a string) would otherwise come out as a negative or infinite energy.
void check_count(const Json& j, const std::string& key, const std::string& file, bool integral) {
  const bool number = j.is_number();
  const double v = number ? j.get<double>() : 0.0;
  if (!number || !std::isfinite(v) || v < 0.0 || v > kMaxCount ||
      (integral && (!j.is_number_integer() && !j.is_number_unsigned()) && v != std::floor(v)))
    throw ConfigError(
        file, 0, key,
        fmt::format("expected {} in 0..2^53, got {}",
                    integral ? "an integer count" : "a finite number", excerpt(j.dump(), 40)));
}

void check_events(const Json& holder, const std::string& key, const std::string& file) {
  const Json& events = holder.at("events");
  if (!events.is_object())
    throw ConfigError(file, 0, key + ".events", "expected an object of counts");
  for (const auto& [name, v] : events.items())
    check_count(v, fmt::format("{}.events.{}", key, name), file, true);
  check_count(holder.at("latency_ns"), key + ".latency_ns", file, false);
}

// Every number reprice_summary reads, checked before it reads them.
void check_summary(const Json& summary, const std::string& file) {
  if (!summary.is_object())
    throw ConfigError(file, 0, "", "not a JSON summary: expected an object");
  check_count(summary.at("arch").at("adc_bits"), "arch.adc_bits", file, true);
  check_count(summary.at("arch").at("arrays"), "arch.arrays", file, true);
  check_events(summary.at("totals"), "totals", file);
  const Json& layers = summary.at("layers");
  if (!layers.is_array()) throw ConfigError(file, 0, "layers", "expected a list of layers");
  for (size_t i = 0; i < layers.size(); ++i)
    check_events(layers[i], fmt::format("layers[{}]", i), file);
}

// The re-priced energies must be finite and >= 0: a technology table with huge per-event
// energies could still overflow a sum.
void check_energies(const Json& j, const std::string& key, const std::string& file) {
  for (const auto& [name, v] : j.at("energy_pj").items()) {
    const double pj = v.get<double>();
    if (!std::isfinite(pj) || pj < 0.0)
      throw ConfigError(file, 0, fmt::format("{}.energy_pj.{}", key, name),
                        fmt::format("re-priced energy is {}: the counts or the technology's "
                                    "energies are out of range",
                                    pj));
  }
}

int cmd_reprice(const std::string& summary_path, const std::string& tech_name,
                const std::string& output) {
  const std::string text = read_input_file(summary_path, InputKind::JsonDoc, ErrorKind::Config);
  Json summary;
  try {
    summary = Json::parse(text);
  } catch (const Json::parse_error& e) {
    // The parser's message quotes the input; only the position is repeated here.
    throw ConfigError(summary_path, 0, "",
                      fmt::format("not a JSON summary: syntax error at byte {}", e.byte));
  }
  const std::string tech_file = resolve_tech(tech_name, "./");
  if (tech_file.empty())
    throw UsageError("", 0, "--tech",
                     fmt::format("unknown technology \"{}\" (built-in: {}; or a path)", tech_name,
                                 join_choices(builtin_techs())));
  Json out;
  try {
    check_summary(summary, summary_path);
    out = reprice_summary(summary, load_tech_file(tech_file));
    check_energies(out.at("totals"), "totals", summary_path);
    for (size_t i = 0; i < out.at("layers").size(); ++i)
      check_energies(out["layers"][i], fmt::format("layers[{}]", i), summary_path);
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
  auto* cmd =
      app.add_subcommand("reprice", "re-price a cycle run's summary.json with another technology");
  cmd->add_option("summary", o->summary, "summary.json of a cycle run")->required();
  cmd->add_option("--tech", o->tech, "technology name (configs/tech) or .yaml path")->required();
  cmd->add_option("-o,--output", o->output, "write the re-priced summary here (default: stdout)");
  cmd->callback([o, &ctx] { ctx.exit_code = cmd_reprice(o->summary, o->tech, o->output); });
}

}  // namespace imcsim::cli
