#include "sim/report/report.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "workloads/error.hpp"

namespace fs = std::filesystem;

namespace imcsim {

std::string fixed(double v, int digits) {
  return fmt::format("{:.{}f}", v, digits);
}

std::string mappings_csv(const std::vector<NetworkMapping>& mappings) {
  std::string out =
      "layer,I_h,I_w,K_h,K_w,IC,OC,mapper,cycles,pw_h,pw_w,ic_tile,oc_tile,utilization,"
      "method,O_h,O_w,stride,groups,win_h,win_w,row_tiles,col_tiles,arrays,positions,"
      "row_utilization,col_utilization\n";
  for (const auto& nm : mappings) {
    for (const auto& m : nm.layers) {
      const ConvShape& s = m.shape;
      out += fmt::format(
          "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
          m.layer, s.in_h, s.in_w, s.k_h, s.k_w, s.ic * s.groups, s.oc * s.groups, m.mapper,
          m.cycles, m.pw_h, m.pw_w, m.ic_tile, m.oc_tile, fixed(m.utilization, 6), m.method, s.o_h,
          s.o_w, s.s_h, s.groups, m.win_h, m.win_w, m.row_tiles, m.col_tiles, m.arrays(),
          m.positions, fixed(m.row_utilization, 6), fixed(m.col_utilization, 6));
    }
    out += fmt::format("TOTAL,,,,,,,{},{},,,,,,,,,,,,,,,{},,,\n", nm.mapper, nm.total_cycles(),
                       nm.max_arrays());
  }
  return out;
}

namespace {

std::string shape_cell(const ConvShape& s) {
  return fmt::format("{}x{}", s.in_h, s.in_w);
}

std::string kernel_cell(const ConvShape& s) {
  std::string k = fmt::format("{}x{}", s.k_h, s.k_w);
  if (s.s_h > 1) k += fmt::format("/{}", s.s_h);
  return k;
}

std::string header_line(const NetworkMapping& nm) {
  const ArrayGeometry& a = nm.array;
  return fmt::format("{} on {}x{} arrays ({} column{} per weight), {} convention\n", nm.network,
                     a.rows, a.cols, a.cols_per_weight, a.cols_per_weight == 1 ? "" : "s",
                     to_string(nm.convention));
}

}  // namespace

std::string mappings_table(const std::vector<NetworkMapping>& mappings) {
  if (mappings.empty()) return "";
  std::string out = header_line(mappings.front());
  size_t name_w = 5;
  for (const auto& m : mappings.front().layers) name_w = std::max(name_w, m.layer.size());

  if (mappings.size() == 1) {
    const NetworkMapping& nm = mappings.front();
    out += fmt::format("mapper: {}\n", nm.mapper);
    out +=
        fmt::format("{:<{}} {:>9} {:>6} {:>5} {:>5} {:>7} {:>7} {:>5} {:>6} {:>7} {:>12} {:>6}\n",
                    "layer", name_w, "input", "kernel", "IC", "OC", "method", "PW", "win", "tiles",
                    "arrays", "cycles", "util%");
    for (const auto& m : nm.layers) {
      const ConvShape& s = m.shape;
      out += fmt::format(
          "{:<{}} {:>9} {:>6} {:>5} {:>5} {:>7} {:>7} {:>5} {:>6} {:>7} {:>12} {:>6}\n", m.layer,
          name_w, shape_cell(s), kernel_cell(s), s.ic * s.groups, s.oc * s.groups, m.method,
          fmt::format("{}x{}", m.pw_h, m.pw_w), fmt::format("{}x{}", m.win_h, m.win_w),
          fmt::format("{}x{}", m.row_tiles, m.col_tiles), m.arrays(), m.cycles,
          fixed(100 * m.utilization, 1));
    }
    out += fmt::format("{:<{}} {:>101}\n", "TOTAL", name_w, nm.total_cycles());
    return out;
  }

  // Side by side: cycles per mapper, per layer.
  out +=
      fmt::format("{:<{}} {:>9} {:>6} {:>5} {:>5}", "layer", name_w, "input", "kernel", "IC", "OC");
  for (const auto& nm : mappings) out += fmt::format(" {:>12}", nm.mapper);
  out += "  best\n";
  for (size_t li = 0; li < mappings.front().layers.size(); ++li) {
    const LayerMapping& first = mappings.front().layers[li];
    const ConvShape& s = first.shape;
    out += fmt::format("{:<{}} {:>9} {:>6} {:>5} {:>5}", first.layer, name_w, shape_cell(s),
                       kernel_cell(s), s.ic * s.groups, s.oc * s.groups);
    const LayerMapping* best = &first;
    for (const auto& nm : mappings) {
      out += fmt::format(" {:>12}", nm.layers[li].cycles);
      if (nm.layers[li].cycles < best->cycles) best = &nm.layers[li];
    }
    out += fmt::format("  {}\n", best->method);
  }
  out += fmt::format("{:<{}} {:>29}", "TOTAL", name_w, "");
  for (const auto& nm : mappings) out += fmt::format(" {:>12}", nm.total_cycles());
  out += "\n";
  const int64_t base = mappings.front().total_cycles();
  out += fmt::format("{:<{}} {:>29}", fmt::format("speed-up vs {}", mappings.front().mapper),
                     name_w, "");
  for (const auto& nm : mappings) {
    out += fmt::format(
        " {:>12}",
        fmt::format("{:.2f}x", static_cast<double>(base) / static_cast<double>(nm.total_cycles())));
  }
  out += "\n";
  return out;
}

Json mapping_json(const LayerMapping& m) {
  const ConvShape& s = m.shape;
  Json j;
  j["layer"] = m.layer;
  j["mapper"] = m.mapper;
  j["method"] = m.method;
  j["shape"] = {{"I_h", s.in_h},         {"I_w", s.in_w},         {"K_h", s.k_h}, {"K_w", s.k_w},
                {"IC", s.ic * s.groups}, {"OC", s.oc * s.groups}, {"O_h", s.o_h}, {"O_w", s.o_w},
                {"stride", s.s_h},       {"groups", s.groups}};
  j["cycles"] = m.cycles;
  j["pw_h"] = m.pw_h;
  j["pw_w"] = m.pw_w;
  j["win_h"] = m.win_h;
  j["win_w"] = m.win_w;
  j["ic_tile"] = m.ic_tile;
  j["oc_tile"] = m.oc_tile;
  j["row_tiles"] = m.row_tiles;
  j["col_tiles"] = m.col_tiles;
  j["arrays"] = m.arrays();
  j["positions"] = m.positions;
  j["utilization"] = m.utilization;
  j["row_utilization"] = m.row_utilization;
  j["col_utilization"] = m.col_utilization;
  return j;
}

Json mappings_json(const std::vector<NetworkMapping>& mappings) {
  Json out = Json::array();
  for (const auto& nm : mappings) {
    Json j;
    j["network"] = nm.network;
    j["mapper"] = nm.mapper;
    j["convention"] = to_string(nm.convention);
    j["array"] = {{"rows", nm.array.rows},
                  {"cols", nm.array.cols},
                  {"cols_per_weight", nm.array.cols_per_weight}};
    j["total_cycles"] = nm.total_cycles();
    j["max_arrays"] = nm.max_arrays();
    Json layers = Json::array();
    for (const auto& m : nm.layers) layers.push_back(mapping_json(m));
    j["layers"] = std::move(layers);
    out.push_back(std::move(j));
  }
  return out;
}

namespace {

void write_or_throw(const fs::path& path, const std::string& content) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) throw ConfigError(path.string(), 0, "output_dir", "cannot create file for writing");
  f << content;
  f.flush();
  if (!f) throw ConfigError(path.string(), 0, "output_dir", "write failed (disk full?)");
}

std::string temp_suffix() {
  return fmt::format(".tmp-{}", static_cast<long>(::getpid()));
}

// Temporaries of `run_id` left in `root` by a writer that was killed outright (SIGKILL, a
// power cut): `.ID.tmp-PID` and `.ID.old.tmp-PID`. Called with the run's lock held, so no
// live writer of this run owns one.
void remove_stale_run_temporaries(const std::string& root, const std::string& run_id) {
  const std::string tmp = "." + run_id + ".tmp-", old = "." + run_id + ".old.tmp-";
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(tmp, 0) == 0 || name.rfind(old, 0) == 0) fs::remove_all(e.path(), ec);
  }
}

}  // namespace

void write_file_atomic(const std::string& path, const std::string& content) {
  const fs::path final_path(path);
  const fs::path tmp = final_path.string() + temp_suffix();
  try {
    write_or_throw(tmp, content);
    fs::rename(tmp, final_path);
  } catch (const fs::filesystem_error& e) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw ConfigError(path, 0, "output", std::string("cannot write: ") + e.code().message());
  } catch (const ConfigError& e) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw ConfigError(path, 0, "output", e.message());  // the file asked for, not its temporary
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
}

RunDir::RunDir(const std::string& root, const std::string& run_id, RootLock root_lock)
    : root_(root),
      final_((fs::path(root) / run_id).string()),
      tmp_((fs::path(root) / ("." + run_id + temp_suffix())).string()) {
  // A file name longer than the file system allows would fail only after the root was made.
  if (run_id.size() + temp_suffix().size() + 8 > 255)
    throw ConfigError(final_.substr(0, 300), 0, "name",
                      fmt::format("the run folder name is {} characters long: the file system "
                                  "allows 255 (shorten the experiment's name)",
                                  run_id.size()));
  std::error_code ec;
  const bool had_root = fs::exists(root_, ec);
  try {
    fs::create_directories(root_);
    if (root_lock == RootLock::PerRun) {
      const std::string lock_file = (fs::path(root_) / ("." + run_id + ".lock")).string();
      lock_ = std::make_unique<FolderLock>(lock_file, "run folder " + final_);
      guard_ = std::make_unique<TempGuard>(tmp_, lock_file);
      remove_stale_run_temporaries(root_, run_id);
    } else {
      guard_ = std::make_unique<TempGuard>(tmp_);
    }
    fs::create_directory(tmp_);
  } catch (const fs::filesystem_error& e) {
    lock_.reset();
    if (!had_root) fs::remove(root_, ec);  // only if still empty
    throw ConfigError(root_, 0, "output_dir",
                      std::string("cannot write the run folder: ") + e.code().message());
  } catch (...) {
    lock_.reset();
    if (!had_root) fs::remove(root_, ec);
    throw;
  }
}

RunDir::~RunDir() {
  if (!committed_) {
    std::error_code ec;
    fs::remove_all(tmp_, ec);
  }
}

std::string RunDir::path(const std::string& name) const {
  return (fs::path(tmp_) / name).string();
}

void RunDir::write(const std::string& name, const std::string& content) {
  write_or_throw(fs::path(tmp_) / name, content);
}

std::string RunDir::commit() {
  const fs::path old_dir =
      fs::path(root_) / ("." + fs::path(final_).filename().string() + ".old" + temp_suffix());
  std::error_code ec;
  try {
    if (fs::exists(final_)) fs::rename(final_, old_dir);
    fs::rename(tmp_, final_);
    fs::remove_all(old_dir, ec);
  } catch (const fs::filesystem_error& e) {
    throw ConfigError(root_, 0, "output_dir",
                      std::string("cannot write the run folder: ") + e.code().message());
  }
  committed_ = true;
  return final_;
}

std::string write_run_dir(const std::string& root, const std::string& run_id,
                          const std::map<std::string, std::string>& files, RootLock lock) {
  RunDir dir(root, run_id, lock);
  for (const auto& [name, content] : files) dir.write(name, content);
  return dir.commit();
}

}  // namespace imcsim
