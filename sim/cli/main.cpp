// imcsim command-line interface: builds the CLI11 app from the commands' register
// functions (sim/cli/cli.hpp) and is the only place an imcsim::Error becomes an exit code:
//   0 success, 1 bad input (config, workload, mapping, output), 2 bad command line,
//   3 internal error.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <new>
#include <string>

#include "sim/cli/cli.hpp"
#include "sim/report/folder_lock.hpp"
#include "sim/report/version.hpp"
#include "workloads/reference.hpp"

using namespace imcsim;

// libsystemc references sc_main (its own main() would call it); imcsim has its own main,
// which constructs the SystemC engine only for `run` in mode cycle.
extern "C" int sc_main(int, char**) {
  return 3;
}

int main(int argc, char** argv) {
  // The SystemC banner would land in the middle of a command's standard output.
  ::setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
  // Before any thread starts: the BLAS is loaded with an environment variable set.
  ref::load_blas();
  // A point process of a sweep dies with the sweep (sim/sweep/sweep_run.cpp sets this).
  if (const char* parent = std::getenv("IMCSIM_SWEEP_PARENT"); parent && *parent)
    die_with_parent(std::strtol(parent, nullptr, 10));
  CLI::App app{"imcsim: IMC accelerator simulator (mapping, compression, cycle-accurate engine)"};
  app.set_version_flag("--version", std::string("imcsim ") + kVersion);
  app.require_subcommand(1);

  cli::CommandContext ctx;
  // One line per command.
  cli::register_map_command(app, ctx);
  cli::register_run_command(app, ctx);
  cli::register_validate_command(app, ctx);
  cli::register_list_command(app, ctx);
  cli::register_sweep_command(app, ctx);
  cli::register_merge_command(app, ctx);
  cli::register_compress_command(app, ctx);
  cli::register_reprice_command(app, ctx);
  cli::register_import_command(app, ctx);
  cli::register_infer_command(app, ctx);
  cli::register_eval_command(app, ctx);
  cli::register_calibrate_command(app, ctx);

  // Name an unknown command word instead of CLI11's generic "A subcommand is required".
  if (argc > 1 && argv[1][0] != '-') {
    const std::string word = argv[1];
    std::string names;
    bool known = false;
    for (const auto* sub : app.get_subcommands({})) {
      known = known || sub->get_name() == word;
      names += (names.empty() ? "" : ", ") + sub->get_name();
    }
    if (!known) {
      std::cerr << "imcsim: error: unknown command \"" << word << "\" (expected one of: " << names
                << ")\n";
      return 2;
    }
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "imcsim: error: " << e.what() << "\n(run with --help for usage)\n";
    return 2;
  } catch (const cli::UsageError& e) {
    std::cerr << "imcsim: error: " << e.what() << "\n";
    return 2;
  } catch (const Error& e) {
    std::cerr << "imcsim: error: " << e.what() << "\n";
    return 1;
  } catch (const std::filesystem::filesystem_error& e) {
    // A path the user gave that the system refuses (too long, a loop of links, ...).
    std::cerr << "imcsim: error: " << e.path1().string().substr(0, 300)
              << (e.path1().string().size() > 300 ? "...: " : ": ") << e.code().message() << "\n";
    return 1;
  } catch (const std::bad_alloc&) {
    // A backstop only: readers and runs size their work before they start (README "Limits").
    std::cerr << "imcsim: error: out of memory (the input needs more memory than this machine "
                 "gives the process)\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "imcsim: internal error: " << e.what() << "\n";
    return 3;
  }
  return ctx.exit_code;
}
