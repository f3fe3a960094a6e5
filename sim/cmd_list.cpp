// imcsim list: the mapper registry, built-in workloads and architecture parameters.
#include <iostream>

#include <fmt/format.h>

#include "mappers/compress/compress.hpp"
#include "mappers/mapper.hpp"
#include "sim/cli.hpp"
#include "sim/config.hpp"
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
      std::cout << fmt::format("  {:<10} {}x{}x{} input, {} layers ({} on arrays), {} params, "
                               "{} MACs\n",
                               n, net.input.h, net.input.w, net.input.c, net.layers.size(),
                               array_layers, net.parameter_count(), net.total_macs());
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
  }
  if (what.empty() || what == "arch") {
    std::cout << "architecture parameters (under `arch:`):\n";
    for (const auto& p : arch_params()) {
      const std::string range = p.choices.empty() ? fmt::format("{}..{}", p.lo, p.hi)
                                                  : join_choices(p.choices);
      std::cout << fmt::format("  {:<16} {:<22} default {:<10} {} [{}]\n", p.key, range,
                               p.default_value.empty() ? "(required)" : p.default_value,
                               p.description, p.source);
    }
  }
  return 0;
}

}  // namespace

void register_list_command(CLI::App& app, CommandContext& ctx) {
  auto what = std::make_shared<std::string>();
  auto* list = app.add_subcommand("list", "list mappers, workloads and architecture parameters");
  list->add_option("what", *what, "mappers, workloads or arch (default: all)")
      ->check(CLI::IsMember({"mappers", "workloads", "arch", "compression"}));
  list->callback([what, &ctx] { ctx.exit_code = cmd_list(*what); });
}

}  // namespace imcsim::cli
