// The imcsim command line: each command lives in its own cmd_<name>.cpp and adds
// itself to the CLI11 app through one register_<name>_command function; main.cpp
// calls them and is the only place an error becomes an exit code:
//   0 success, 1 bad input (config, workload, mapping, output), 2 bad command line,
//   3 internal error. A command that finishes but must report failure (e.g. some sweep
//   points failed) sets CommandContext::exit_code.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "workloads/error.hpp"

namespace imcsim::cli {

// A bad command line: exit code 2 (workloads/error.hpp).
using imcsim::UsageError;

struct CommandContext {
  int exit_code = 0;
};

// Strict integer of a command-line flag value; UsageError naming the flag otherwise.
int64_t parse_count(const std::string& flag, const std::string& text, int64_t lo, int64_t hi);
// Writes `text` to standard output, or atomically to `output_file` when non-empty.
void emit(const std::string& text, const std::string& output_file);

void register_map_command(CLI::App& app, CommandContext& ctx);
void register_run_command(CLI::App& app, CommandContext& ctx);
void register_validate_command(CLI::App& app, CommandContext& ctx);
void register_list_command(CLI::App& app, CommandContext& ctx);
void register_sweep_command(CLI::App& app, CommandContext& ctx);
void register_merge_command(CLI::App& app, CommandContext& ctx);
void register_compress_command(CLI::App& app, CommandContext& ctx);
void register_reprice_command(CLI::App& app, CommandContext& ctx);
void register_import_command(CLI::App& app, CommandContext& ctx);
void register_infer_command(CLI::App& app, CommandContext& ctx);
void register_eval_command(CLI::App& app, CommandContext& ctx);
void register_calibrate_command(CLI::App& app, CommandContext& ctx);

}  // namespace imcsim::cli
