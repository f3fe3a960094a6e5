#include "sim/sweep/sweep_run.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "sim/report/folder_lock.hpp"
#include "sim/report/report.hpp"
#include "sim/report/version.hpp"
#include "sim/run/estimate.hpp"
#include "sim/run/run.hpp"
#include "workloads/input_file.hpp"
#include "workloads/loader.hpp"
#include "workloads/parallel.hpp"

extern char** environ;

namespace fs = std::filesystem;

namespace imcsim {

namespace {

using Clock = std::chrono::steady_clock;

std::atomic<int> g_stop_signal{0};
extern "C" void on_stop_signal(int sig) {
  g_stop_signal.store(sig);
}

// SIGINT/SIGTERM stop the sweep between points (no SA_RESTART: waitpid returns EINTR).
class StopSignals {
 public:
  StopSignals() {
    g_stop_signal.store(0);
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~StopSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  bool stopped() const { return g_stop_signal.load() != 0; }

 private:
  struct sigaction old_int_ {
  }, old_term_{};
};

// The file's bytes; empty when it cannot be read (a point process that wrote nothing).
std::string read_file_or_empty(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string duration_text(double seconds) {
  const auto s = static_cast<int64_t>(std::llround(seconds));
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, (s / 60) % 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

std::string values_text(const Sweep& sw, const SweepPoint& p) {
  std::string out;
  for (size_t a = 0; a < sw.axes.size(); ++a)
    out += (a ? " " : "") + sw.axes[a].key + "=" + p.labels[a];
  return out;
}

Json point_values(const Sweep& sw, const SweepPoint& p) {
  Json v = Json::object();
  for (size_t a = 0; a < sw.axes.size(); ++a) v[sw.axes[a].key] = p.labels[a];
  return v;
}

Json point_record(const Sweep& sw, const SweepPoint& p) {
  Json r;
  r["id"] = p.id;
  r["index"] = p.index;
  r["values"] = point_values(sw, p);
  return r;
}

// done/total, failures, rate and ETA: one redrawn line on a terminal, plain lines otherwise.
// With each point's estimated work (cycle points: simulation events) the ETA scales the
// elapsed time by the work left, not by the points left: cycle points run longest first.
class Progress {
 public:
  Progress(size_t total, bool bar, bool quiet, std::map<std::string, int64_t> work = {})
      : total_(total), bar_(bar), quiet_(quiet), work_(std::move(work)) {
    for (const auto& [id, w] : work_) total_work_ += static_cast<double>(w);
  }

  void point_done(const Sweep& sw, const SweepPoint& p, const std::string& error) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++done_;
    if (const auto it = work_.find(p.id); it != work_.end())
      done_work_ += static_cast<double>(it->second);
    if (!error.empty()) {
      ++failed_;
      if (bar_) std::cerr << "\r\033[K";
      std::cerr << fmt::format("imcsim sweep: point {} ({}) failed: {}\n", p.id, values_text(sw, p),
                               error);
    }
    if (quiet_) return;
    const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
    const double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;
    const double left = total_work_ > 0 && done_work_ > 0
                            ? elapsed * (total_work_ - done_work_) / done_work_
                            : (rate > 0 ? static_cast<double>(total_ - done_) / rate : -1);
    const std::string eta = left >= 0 ? duration_text(left) : "?";
    const std::string counts = fmt::format("{}/{} points, {} failed, {:.1f} points/s, ETA {}",
                                           done_, total_, failed_, rate, eta);
    if (bar_) {
      const size_t width = 30, filled = total_ ? width * done_ / total_ : width;
      std::cerr << "\r\033[K[" << std::string(filled, '#') << std::string(width - filled, '.')
                << "] " << counts << (done_ == total_ ? "\n" : "") << std::flush;
    } else {
      // About every 10 %, and the last point.
      const size_t step = std::max<size_t>(1, total_ / 10);
      if (done_ % step == 0 || done_ == total_) std::cerr << "imcsim sweep: " << counts << "\n";
    }
  }
  size_t failed() const { return failed_; }

 private:
  std::mutex mutex_;
  size_t total_, done_ = 0, failed_ = 0;
  bool bar_, quiet_;
  std::map<std::string, int64_t> work_;  // point id -> estimated work
  double total_work_ = 0, done_work_ = 0;
  Clock::time_point start_ = Clock::now();
};

// Temporary entries (".<id>.tmp-<pid>", ".<id>.run.tmp-<pid>") left by a killed sweep on
// this machine: removed when their process is gone.
void remove_stale_temporaries(const fs::path& points) {
  std::error_code ec;
  if (!fs::is_directory(points, ec)) return;
  for (const auto& e : fs::directory_iterator(points, ec)) {
    const std::string name = e.path().filename().string();
    const auto at = name.rfind(".tmp-");
    if (name.empty() || name[0] != '.' || at == std::string::npos) continue;
    const long pid = std::strtol(name.c_str() + at + 5, nullptr, 10);
    if (pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH)) continue;
    fs::remove_all(e.path(), ec);
  }
}

void write_manifest(const Sweep& sw, const std::vector<SweepPoint>& shard,
                    const SweepRunOptions& o) {
  Json m;
  m["imcsim_version"] = kVersion;
  m["name"] = sw.name;
  m["experiment"] = sw.file;
  m["fingerprint"] = sw.fingerprint;
  m["mode"] = to_string(sw.mode);
  Json axes = Json::array();
  for (const auto& a : sw.axes) axes.push_back(a.key);
  m["axes"] = std::move(axes);
  m["total_points"] = sw.points.size();
  m["shard"] = {{"index", o.shard_k}, {"count", o.shard_n}};
  Json points = Json::array();
  for (const auto& p : shard) points.push_back(point_record(sw, p));
  m["points"] = std::move(points);
  write_file_atomic((fs::path(o.out_dir) / "sweep.json").string(), m.dump(2) + "\n");
}

// Moves a finished folder to DIR/points/<id>, replacing an earlier one.
void install_point_dir(const fs::path& from, const fs::path& final_dir) {
  const fs::path old = final_dir.parent_path() /
                       fmt::format(".{}.old.tmp-{}", final_dir.filename().string(), ::getpid());
  std::error_code ec;
  if (fs::exists(final_dir)) fs::rename(final_dir, old);
  fs::rename(from, final_dir);
  fs::remove_all(old, ec);
}

// Each workload file is read once per sweep; its Network is shared, read-only, by workers.
class NetworkCache {
 public:
  std::shared_ptr<const Network> get(const std::string& file) {
    std::shared_ptr<Entry> e;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto& slot = entries_[file];
      if (!slot) slot = std::make_shared<Entry>();
      e = slot;
    }
    std::call_once(e->once, [&] {
      try {
        e->net = std::make_shared<const Network>(load_workload_file(file));
      } catch (...) {
        e->error = std::current_exception();
      }
    });
    if (e->error) std::rethrow_exception(e->error);
    return e->net;
  }

 private:
  struct Entry {
    std::once_flag once;
    std::shared_ptr<const Network> net;
    std::exception_ptr error;
  };
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Entry>> entries_;
};

// One analytic point, in-process: validate, map, write its folder.
std::string run_analytic_point(const Sweep& sw, const SweepPoint& p, const fs::path& points,
                               NetworkCache& networks) {
  Json rec = point_record(sw, p);
  std::map<std::string, std::string> files;
  std::string error;
  try {
    const ExperimentSpec spec = point_spec(sw, p);
    files["resolved.yaml"] = resolved_yaml(spec);
    if (spec.mode != RunMode::Analytic)
      throw ConfigError(sw.file, 0, "sweep.mode", "cycle points run one process each: set cycle");
    const RunResult r = evaluate_analytic(spec, *networks.get(spec.workload_file));
    files["summary.json"] = r.summary.dump(2) + "\n";
    files["layers.csv"] = mappings_csv(r.mappings);
    rec["run_id"] = r.run_id;
  } catch (const Error& e) {
    error = e.what();
  } catch (const std::exception& e) {
    error = std::string("internal error: ") + e.what();
  }
  rec["status"] = error.empty() ? "ok" : "failed";
  if (!error.empty()) {
    files.erase("summary.json");
    files.erase("layers.csv");
    rec["error"] = error;
  }
  files["point.json"] = rec.dump(2) + "\n";
  write_run_dir(points.string(), p.id, files, RootLock::HeldByCaller);
  return error;
}

struct Child {
  SweepPoint point;
  fs::path tmp;
};

pid_t spawn_point(const std::string& exe, const fs::path& tmp, const SweepRunOptions& o) {
  const std::string yaml = (tmp / "point.yaml").string();
  const std::string out = (tmp / "out").string();
  const std::string err = (tmp / "stderr.txt").string();
  std::vector<std::string> args = {exe, "run", yaml, "-o", out, "-q"};
  args.insert(args.end(), o.point_args.begin(), o.point_args.end());
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // The child asks the kernel for SIGTERM when this process dies (sim/report/folder_lock.hpp).
  std::vector<std::string> env_text = {"IMCSIM_SWEEP_PARENT=" + std::to_string(::getpid())};
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "IMCSIM_SWEEP_PARENT=", 20) != 0) env_text.emplace_back(*e);
  std::vector<char*> envp;
  envp.reserve(env_text.size() + 1);
  for (auto& e : env_text) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, exe.c_str(), &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0)
    throw ConfigError(exe, 0, "",
                      std::string("cannot start a point process: ") + std::strerror(rc));
  return pid;
}

// The child's error: the last line it wrote to stderr, else how it ended.
std::string child_error(int status, const fs::path& tmp) {
  std::string last;
  std::istringstream lines(read_file_or_empty(tmp / "stderr.txt"));
  for (std::string l; std::getline(lines, l);)
    if (!l.empty()) last = l;
  const std::string prefix = "imcsim: error: ";
  if (last.rfind(prefix, 0) == 0) last = last.substr(prefix.size());
  const std::string how = WIFEXITED(status) ? fmt::format("exit code {}", WEXITSTATUS(status))
                                            : fmt::format("killed by signal {}", WTERMSIG(status));
  return last.empty() ? "point process failed (" + how + ")" : last + " (" + how + ")";
}

// Records a point that failed before or inside its process.
void record_failure(const Sweep& sw, const SweepPoint& p, const fs::path& points,
                    const std::string& error, const std::string& resolved) {
  Json rec = point_record(sw, p);
  rec["status"] = "failed";
  rec["error"] = error;
  std::map<std::string, std::string> files = {{"point.json", rec.dump(2) + "\n"}};
  if (!resolved.empty()) files["resolved.yaml"] = resolved;
  write_run_dir(points.string(), p.id, files, RootLock::HeldByCaller);
}

// Finishes a child that exited: installs its run folder as the point's folder.
std::string finish_child(const Sweep& sw, const Child& c, int status, const fs::path& points) {
  std::error_code ec;
  std::string error;
  fs::path run_dir;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    for (const auto& e : fs::directory_iterator(c.tmp / "out", ec))
      if (e.is_directory() && e.path().filename().string()[0] != '.') run_dir = e.path();
    if (run_dir.empty()) error = "point process wrote no run folder";
  } else {
    error = child_error(status, c.tmp);
    // The child named its temporary copy of the point's YAML: name the one the failed
    // point's folder keeps.
    const std::string tmp_yaml = (c.tmp / "point.yaml").string();
    const std::string kept = (points / c.point.id / "resolved.yaml").string();
    for (size_t at = error.find(tmp_yaml); at != std::string::npos;
         at = error.find(tmp_yaml, at + kept.size()))
      error.replace(at, tmp_yaml.size(), kept);
  }
  if (error.empty()) {
    Json rec = point_record(sw, c.point);
    rec["run_id"] = run_dir.filename().string();
    rec["status"] = "ok";
    write_file_atomic((run_dir / "point.json").string(), rec.dump(2) + "\n");
    install_point_dir(run_dir, points / c.point.id);
  } else {
    record_failure(sw, c.point, points, error, read_file_or_empty(c.tmp / "point.yaml"));
  }
  fs::remove_all(c.tmp, ec);
  return error;
}

void run_cycle_points(const Sweep& sw, const std::vector<SweepPoint>& todo,
                      const SweepRunOptions& o, const fs::path& points, Progress& progress,
                      const StopSignals& signals) {
  const std::string exe =
      o.imcsim_exe.empty() ? fs::read_symlink("/proc/self/exe").string() : o.imcsim_exe;
  std::map<pid_t, Child> running;
  size_t next = 0;
  std::error_code ec;
  while (next < todo.size() || !running.empty()) {
    while (!signals.stopped() && next < todo.size() &&
           static_cast<int64_t>(running.size()) < o.jobs) {
      const SweepPoint& p = todo[next++];
      std::string resolved;
      try {
        resolved = resolved_yaml(point_spec(sw, p));
      } catch (const Error& e) {
        record_failure(sw, p, points, e.what(), "");
        progress.point_done(sw, p, e.what());
        continue;
      }
      const fs::path tmp = points / fmt::format(".{}.run.tmp-{}", p.id, ::getpid());
      fs::remove_all(tmp, ec);
      fs::create_directories(tmp);
      write_file_atomic((tmp / "point.yaml").string(), resolved);
      running.emplace(spawn_point(exe, tmp, o), Child{p, tmp});
    }
    if (running.empty()) break;
    if (signals.stopped()) {
      for (const auto& [pid, c] : running) ::kill(pid, SIGTERM);
      for (const auto& [pid, c] : running) {
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        fs::remove_all(c.tmp, ec);
      }
      return;
    }
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("waitpid: ") + std::strerror(errno));
    }
    const auto it = running.find(pid);
    if (it == running.end()) continue;
    const Child c = it->second;
    running.erase(it);
    progress.point_done(sw, c.point, finish_child(sw, c, status, points));
  }
}

void run_analytic_points(const Sweep& sw, const std::vector<SweepPoint>& todo,
                         const SweepRunOptions& o, const fs::path& points, Progress& progress,
                         const StopSignals& signals) {
  NetworkCache networks;
  // A point that fails is recorded in its folder; an exception here means a folder could
  // not be written, which stops the sweep (parallel_for rethrows it).
  parallel_for(static_cast<int64_t>(todo.size()), static_cast<int>(o.jobs), [&](int64_t k) {
    if (signals.stopped()) return;
    const SweepPoint& p = todo[static_cast<size_t>(k)];
    progress.point_done(sw, p, run_analytic_point(sw, p, points, networks));
  });
}

void check_sweep_size(const Sweep& sw, const std::vector<SweepPoint>& shard,
                      const std::vector<PointEstimate>& estimates, const SweepRunOptions& o) {
  if (static_cast<int64_t>(shard.size()) > o.max_points)
    throw ConfigError(
        sw.file, 0, "sweep",
        fmt::format("the sweep has {} points, above the limit of {}; raise it with "
                    "--max-points (or limits.max_points) if that is intended, or split it "
                    "with --shard",
                    shard.size(), o.max_points));
  const int64_t disk = estimate_sweep_disk(estimates);
  if (disk > o.max_disk)
    throw ConfigError(
        sw.file, 0, "sweep",
        fmt::format("the sweep folder would take about {} ({} points), above the "
                    "limit of {}; raise it with --max-disk (or limits.max_disk) if that is "
                    "intended",
                    size_text(disk), shard.size(), size_text(o.max_disk)));
}

void check_not_foreign(const Sweep& sw, const fs::path& manifest) {
  std::string fingerprint;
  try {
    fingerprint = Json::parse(read_file_or_empty(manifest)).value("fingerprint", "");
  } catch (const std::exception&) {
    throw ConfigError(manifest.string(), 0, "", "not a sweep manifest (invalid JSON)");
  }
  if (fingerprint != sw.fingerprint)
    throw ConfigError(manifest.string(), 0, "",
                      fmt::format("the folder holds another sweep (fingerprint {}); write sweep "
                                  "{} to another folder (-o)",
                                  excerpt(fingerprint, 40), sw.fingerprint));
}

}  // namespace

std::vector<PointEstimate> estimate_points(const Sweep& sw, const std::vector<SweepPoint>& points) {
  // An analytic point folder: resolved.yaml, summary.json, layers.csv, point.json (about
  // 36 KiB for ResNet-20 with three mappers); 48 KiB leaves room for larger networks.
  constexpr int64_t kAnalyticPointBytes = 48 << 10;
  std::vector<PointEstimate> out(points.size());
  if (sw.mode != SweepMode::Cycle) {
    for (auto& e : out) e.disk_bytes = kAnalyticPointBytes;
    return out;
  }
  std::map<std::string, Network> nets;
  for (size_t i = 0; i < points.size(); ++i) {
    ExperimentSpec spec;
    try {
      spec = point_spec(sw, points[i]);
    } catch (const Error&) {
      continue;  // recorded as a failed point when it runs
    }
    auto it = nets.find(spec.workload_file);
    if (it == nets.end())
      it = nets.emplace(spec.workload_file, load_workload_file(spec.workload_file)).first;
    try {
      const RunEstimate e = estimate_cycle_run(spec, it->second, false);
      out[i] = {e.events, e.disk_bytes};
    } catch (const Error&) {
      continue;
    }
  }
  return out;
}

int64_t estimate_sweep_disk(const std::vector<PointEstimate>& estimates) {
  int64_t total = 0;
  for (const auto& e : estimates)
    if (__builtin_add_overflow(total, e.disk_bytes, &total))
      return std::numeric_limits<int64_t>::max();
  return total;
}

std::string point_dir(const std::string& out_dir, const std::string& id) {
  return (fs::path(out_dir) / "points" / id).string();
}

bool point_finished(const std::string& out_dir, const std::string& id) {
  std::error_code ec;
  return fs::is_regular_file(fs::path(point_dir(out_dir, id)) / "point.json", ec);
}

SweepRunSummary run_sweep(const Sweep& sw, const SweepRunOptions& o) {
  const auto start = Clock::now();
  const std::vector<SweepPoint> shard = shard_points(sw, o.shard_k, o.shard_n);
  const fs::path out(o.out_dir);
  const fs::path points = out / "points";

  // Points that fail validation are recorded as failed points (a design space has
  // infeasible corners), but a sweep none of whose points is valid is a mistake in the
  // file (a misspelt axis key): that is an error, and nothing is written.
  std::exception_ptr first_error;
  for (const auto& p : shard) {
    try {
      point_spec(sw, p);
      first_error = nullptr;
      break;
    } catch (const Error&) {
      if (!first_error) first_error = std::current_exception();
    }
  }
  if (first_error) std::rethrow_exception(first_error);

  const std::vector<PointEstimate> estimates = estimate_points(sw, shard);
  check_sweep_size(sw, shard, estimates, o);
  // --resume continues the same sweep only; without it, a folder of another sweep is not
  // overwritten (its points would be kept and dropped by merge).
  const fs::path manifest = out / "sweep.json";
  if (!o.resume && fs::exists(manifest)) check_not_foreign(sw, manifest);
  if (o.resume && fs::exists(manifest)) {
    Json old;
    try {
      old = Json::parse(read_file_or_empty(manifest));
    } catch (const std::exception&) {
      throw ConfigError(manifest.string(), 0, "", "not a sweep manifest (invalid JSON)");
    }
    const Json want = {{"fingerprint", sw.fingerprint}, {"index", o.shard_k}, {"count", o.shard_n}};
    const Json have = {{"fingerprint", old.value("fingerprint", "")},
                       {"index", old.contains("shard") ? old["shard"].value("index", -1) : -1},
                       {"count", old.contains("shard") ? old["shard"].value("count", -1) : -1}};
    if (want != have)
      throw ConfigError(manifest.string(), 0, "",
                        fmt::format("holds another sweep or shard (fingerprint {}, shard {}/{}); "
                                    "cannot resume {} shard {}/{} here",
                                    have["fingerprint"].get<std::string>(), have["index"].dump(),
                                    have["count"].dump(), sw.fingerprint, o.shard_k, o.shard_n));
  }
  // The lock comes before anything is made inside the folder: a second writer, refused,
  // leaves the folder as it found it.
  auto make_dir = [&](const fs::path& dir) {
    try {
      fs::create_directories(dir);
    } catch (const fs::filesystem_error& e) {
      throw ConfigError(o.out_dir, 0, "", "cannot create the sweep folder: " + e.code().message());
    }
  };
  make_dir(out);
  const FolderLock lock((out / ".sweep.lock").string(), "sweep folder " + o.out_dir);
  make_dir(points);
  write_manifest(sw, shard, o);
  remove_stale_temporaries(points);

  SweepRunSummary s;
  s.shard_points = shard.size();
  std::vector<SweepPoint> todo;
  std::map<std::string, int64_t> work;  // point id -> estimated events (order, ETA)
  for (size_t i = 0; i < shard.size(); ++i) {
    if (o.resume && point_finished(o.out_dir, shard[i].id)) {
      ++s.skipped;
    } else {
      todo.push_back(shard[i]);
      work[shard[i].id] = estimates[i].events;
    }
  }
  // Cycle points run longest first (by their estimated simulation events; ties in sweep
  // order): with -j N the sweep ends when its last point does, and a long point started
  // last would run alone on one core (longest-processing-time-first list scheduling).
  // Each point's folder does not depend on the order.
  if (sw.mode == SweepMode::Cycle)
    std::stable_sort(todo.begin(), todo.end(), [&](const SweepPoint& a, const SweepPoint& b) {
      return work.at(a.id) > work.at(b.id);
    });
  if (!o.quiet)
    std::cerr << fmt::format(
        "imcsim sweep: {} points ({} in shard {}/{}), {} to run, {} done, "
        "-j {}, {} mode -> {}\n",
        sw.points.size(), shard.size(), o.shard_k, o.shard_n, todo.size(), s.skipped, o.jobs,
        to_string(sw.mode), o.out_dir);
  Progress progress(
      todo.size(), o.progress_bar, o.quiet,
      sw.mode == SweepMode::Cycle ? std::move(work) : std::map<std::string, int64_t>{});
  const StopSignals signals;
  if (sw.mode == SweepMode::Cycle) {
    run_cycle_points(sw, todo, o, points, progress, signals);
  } else {
    run_analytic_points(sw, todo, o, points, progress, signals);
  }
  s.interrupted = signals.stopped();
  s.failed = progress.failed();
  for (const auto& p : todo) s.ran += point_finished(o.out_dir, p.id) ? 1 : 0;
  s.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return s;
}

}  // namespace imcsim
