// imcsim list: the mapper registry, built-in workloads, technologies and the parameter
// tables of every configuration section (sim/config/param.hpp).
#include <fmt/format.h>

#include <iostream>

#include "mappers/compress/compress.hpp"
#include "mappers/mapper.hpp"
#include "sim/cli/cli.hpp"
#include "sim/config/config.hpp"
#include "sim/config/config_engine.hpp"
#include "sim/config/param.hpp"
#include "workloads/loader.hpp"

namespace imcsim::cli {

namespace {

int cmd_list(const std::string& what) {
  if (what.empty() || what == "mappers") {
    std::cout << "mappers:\n";
    for (const auto& m : mapper_registry()) {
      std::cout << fmt::format("  {:<8} {} [{}]\n", m.name, m.description, m.reference);
      for (const auto& p : m.params)
        std::cout << fmt::format("           {} (default {}): {}\n", p.name, p.default_value,
                                 p.description);
    }
  }
  if (what.empty() || what == "workloads") {
    std::cout << "workloads (built-in names; any workload .yaml path works too):\n";
    for (const auto& n : builtin_workloads()) {
      const Network net = load_workload(n);
      int64_t array_layers = 0;
      for (const auto& l : net.layers) array_layers += l.on_arrays() ? 1 : 0;
      std::cout << fmt::format(
          "  {:<10} {}x{}x{} input, {} layers ({} on arrays), {} params, "
          "{} MACs\n",
          n, net.input.h, net.input.w, net.input.c, net.layers.size(), array_layers,
          net.parameter_count(), net.total_macs());
    }
  }
  if (what.empty() || what == "compression") {
    std::cout << "compression methods (`imcsim compress`, experiment `compression:`):\n";
    for (const auto& m : compress::compression_registry()) {
      std::cout << fmt::format("  {:<14} {} [{}]\n", m.name, m.description, m.reference);
      for (const auto& p : m.params)
        std::cout << fmt::format("                 {} (default {}): {}\n", p.name, p.default_value,
                                 p.description);
    }
    std::cout << param_table_text(param_table("compression"));
  }
  if (what.empty() || what == "arch") std::cout << param_table_text(param_table("arch"));
  if (what.empty() || what == "tech") {
    std::cout
        << "technologies (engine.tech: a name or a .yaml path; timing in clocks, energy in pJ):\n";
    for (const auto& name : builtin_techs()) {
      const TechSpec t = load_tech_file(resolve_tech(name, "./"));
      std::cout << fmt::format(
          "  {:<18} clock {} ns, read {} + {} clocks/phase, ADC {} clocks, "
          "{}\n",
          name, t.timing.clock_ns, t.timing.t_dac, t.timing.t_read, t.timing.t_adc,
          t.adc_fom_fj > 0 ? fmt::format("ADC {} fJ x 2^bits", t.adc_fom_fj)
                           : fmt::format("ADC {} pJ/conversion",
                                         t.energy.pj[static_cast<size_t>(Event::AdcConversion)]));
    }
  }
  for (const char* section : {"timing", "engine", "limits", "study"})
    if (what.empty() || what == section) std::cout << param_table_text(param_table(section));
  return 0;
}

}  // namespace

void register_list_command(CLI::App& app, CommandContext& ctx) {
  auto what = std::make_shared<std::string>();
  auto* list = app.add_subcommand(
      "list",
      "list mappers, workloads, compression methods, technologies and the parameters of every "
      "section (sim/config/param.hpp)");
  list->add_option("what", *what,
                   "mappers, workloads, compression, arch, tech, timing, engine, limits or study "
                   "(default: all)")
      ->check(CLI::IsMember({"mappers", "workloads", "arch", "compression", "tech", "timing",
                             "engine", "limits", "study"}));
  list->callback([what, &ctx] { ctx.exit_code = cmd_list(*what); });
}

}  // namespace imcsim::cli
