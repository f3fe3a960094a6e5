// imcsim sweep: expands the `sweep:` section of an experiment and runs its points
// (sim/sweep/sweep.hpp, sim/sweep/sweep_run.hpp). Exit code 4 when the sweep finished but some
// points failed, 130 when interrupted (rerun with --resume).
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "sim/cli/cli.hpp"
#include "sim/run/background.hpp"
#include "sim/run/estimate.hpp"
#include "sim/sweep/sweep.hpp"
#include "sim/sweep/sweep_run.hpp"

namespace imcsim::cli {

namespace {

constexpr int kSomePointsFailed = 4;
constexpr int kInterrupted = 130;

struct SweepArgs {
  std::string file, out_dir, jobs, shard;
  bool resume = false, list = false, quiet = false, dry_run = false;
  std::string max_memory, max_disk;
  int64_t max_events = 0, max_points = 0;
  int64_t threads = 0;  // 0: cores / jobs, at most 2
};

// The limits: the sweep's own (points, folder size: the file's `limits:`, overridden by the
// flags) and the flags its cycle points pass on to each `imcsim run` (memory, events, disk;
// sim/run/estimate.hpp). Without a flag a point keeps the `limits:` of its own experiment.
void apply_limits(const SweepArgs& a, const RunLimits& from_yaml, SweepRunOptions& o) {
  o.max_points = a.max_points > 0 ? a.max_points : from_yaml.max_points;
  o.max_disk = from_yaml.max_disk;
  if (!a.max_disk.empty()) {
    if (!parse_size(a.max_disk, o.max_disk))
      throw UsageError("", 0, "--max-disk",
                       fmt::format("expected a size such as 512M, 8G or 1T, got \"{}\"",
                                   a.max_disk.substr(0, 60)));
    o.point_args.insert(o.point_args.end(), {"--max-disk", a.max_disk});
  }
  if (!a.max_memory.empty()) {
    int64_t bytes = 0;
    if (!parse_size(a.max_memory, bytes))
      throw UsageError("", 0, "--max-memory",
                       fmt::format("expected a size such as 512M, 8G or 1T, got \"{}\"",
                                   a.max_memory.substr(0, 60)));
    o.point_args.insert(o.point_args.end(), {"--max-memory", a.max_memory});
  }
  if (a.max_events > 0)
    o.point_args.insert(o.point_args.end(), {"--max-events", std::to_string(a.max_events)});
}

int cmd_sweep(const SweepArgs& a) {
  SweepRunOptions o;
  const int64_t cores = usable_cores();
  o.jobs = a.jobs.empty() ? cores : parse_count("--jobs", a.jobs, 1, 4096);
  // A cycle point's reference passes take a second thread only where the points at a time
  // leave a core for it (imcsim run --threads), unless --threads says otherwise.
  const int64_t threads = a.threads > 0 ? a.threads : std::clamp<int64_t>(cores / o.jobs, 1, 2);
  o.point_args.insert(o.point_args.end(), {"--threads", std::to_string(threads)});
  if (!a.shard.empty()) {
    const auto slash = a.shard.find('/');
    if (slash == std::string::npos)
      throw UsageError("", 0, "--shard", fmt::format("expected k/n, got \"{}\"", a.shard));
    o.shard_n = parse_count("--shard", a.shard.substr(slash + 1), 1, 1 << 20);
    o.shard_k = parse_count("--shard", a.shard.substr(0, slash), 0, o.shard_n - 1);
  }
  const Sweep sw = load_sweep(a.file);
  if (a.list) {
    std::cout << "index,id";
    for (const auto& ax : sw.axes) std::cout << "," << ax.key;
    std::cout << "\n";
    for (const auto& p : shard_points(sw, o.shard_k, o.shard_n)) {
      std::cout << p.index << "," << p.id;
      for (const auto& l : p.labels)
        std::cout << "," << (l.find(',') == std::string::npos ? l : "\"" + l + "\"");
      std::cout << "\n";
    }
    return 0;
  }
  o.out_dir = a.out_dir.empty()
                  ? (std::filesystem::path(sw.output_dir) / (sw.name + "-sweep")).string()
                  : a.out_dir;
  o.resume = a.resume;
  o.quiet = a.quiet;
  apply_limits(a, sw.limits, o);
  if (a.dry_run) {
    const auto shard = shard_points(sw, o.shard_k, o.shard_n);
    std::cout << fmt::format("estimate: {} points ({} in shard {}/{}), {} mode, folder about {}\n",
                             sw.points.size(), shard.size(), o.shard_k, o.shard_n,
                             to_string(sw.mode),
                             size_text(estimate_sweep_disk(estimate_points(sw, shard))));
    return 0;
  }
  o.progress_bar = !a.quiet && ::isatty(2);
  const SweepRunSummary s = run_sweep(sw, o);
  std::cerr << fmt::format(
      "imcsim sweep: {} of {} points run, {} failed, {} already done, "
      "{:.2f} s -> {}\n",
      s.ran, s.shard_points, s.failed, s.skipped, s.seconds, o.out_dir);
  if (s.interrupted) {
    std::cerr << "imcsim sweep: interrupted; continue with --resume\n";
    return kInterrupted;
  }
  return s.failed > 0 ? kSomePointsFailed : 0;
}

}  // namespace

void register_sweep_command(CLI::App& app, CommandContext& ctx) {
  auto a = std::make_shared<SweepArgs>();
  auto* cmd = app.add_subcommand(
      "sweep", "run the points of an experiment's sweep: section; writes DIR/points/<id>/");
  cmd->add_option("experiment", a->file, "experiment .yaml with a sweep: section")->required();
  cmd->add_option("-j,--jobs", a->jobs,
                  "points at a time (default: the cores this process may use, its CPU affinity)");
  cmd->add_option("-o,--output-dir", a->out_dir,
                  "sweep folder (default: <output_dir>/<name>-sweep)");
  cmd->add_option("--shard", a->shard, "run shard k of n (k in 0..n-1): points with index k mod n");
  cmd->add_flag("--resume", a->resume, "keep finished points, run only the missing ones");
  cmd->add_flag("--list", a->list, "print the points (index, id, values) and run nothing");
  cmd->add_flag("-q,--quiet", a->quiet, "no progress, only failures and the final line");
  cmd->add_flag("--dry-run", a->dry_run,
                "print the number of points and the folder size; run nothing");
  cmd->add_option("--max-points", a->max_points,
                  "refuse a shard of more points (default: limits.max_points, else 1000000)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--max-disk", a->max_disk,
                  "refuse a sweep folder estimated above this size (default: limits.max_disk, "
                  "else 16G)");
  cmd->add_option("--max-memory", a->max_memory, "cycle points: as `imcsim run --max-memory`");
  cmd->add_option("--max-events", a->max_events, "cycle points: as `imcsim run --max-events`")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--threads", a->threads,
                  "cycle points: as `imcsim run --threads`, 1 or 2 (default: cores / jobs, at "
                  "most 2; 1 keeps a sweep at -j 1 on one core)")
      ->check(CLI::Range(1, 2));
  cmd->callback([a, &ctx] { ctx.exit_code = cmd_sweep(*a); });
}

}  // namespace imcsim::cli
