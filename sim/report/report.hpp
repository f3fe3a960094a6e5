// Report writers: mapping results as a terminal table, CSV and JSON, and the
// atomic writing of files and run directories (no half-written output).
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mappers/mapper.hpp"
#include "sim/report/folder_lock.hpp"

namespace imcsim {

using Json = nlohmann::ordered_json;

// CSV of every layer of every mapping, one block per mapper ending in a TOTAL row.
// Column order is a contract (later tooling reads it):
// layer,I_h,I_w,K_h,K_w,IC,OC,mapper,cycles,pw_h,pw_w,ic_tile,oc_tile,utilization, then more.
std::string mappings_csv(const std::vector<NetworkMapping>& mappings);
// Human-readable table: per-layer details for one mapper, a side-by-side comparison for several.
std::string mappings_table(const std::vector<NetworkMapping>& mappings);
Json mapping_json(const LayerMapping& m);
Json mappings_json(const std::vector<NetworkMapping>& mappings);

// Formats a double with fixed digits (deterministic text for CSV).
std::string fixed(double v, int digits);

// Writes `content` to `path` through a temporary file and a rename.
void write_file_atomic(const std::string& path, const std::string& content);
// A run folder under construction: files go into a temporary sibling of `root/run_id`,
// commit() renames it into place (replacing an earlier run of the same id); destroyed
// without commit, it removes what was written. ConfigError (key `output_dir`) when the
// folder cannot be written. While it exists it holds the lock `root/.run_id.lock` (a second
// writer of the same run gets a named error) and SIGINT/SIGTERM remove its temporary folder;
// temporaries of this run left by a killed writer are removed once the lock is held.
// RootLock::HeldByCaller: the caller holds a lock on all of `root` and has removed the stale
// temporaries in it already (a sweep's points/ folder, under its .sweep.lock): no lock file
// per run and no scan of `root`. Both would cost a created and deleted file and a directory
// read per point, and ext4's inode allocator slows with every recently deleted inode.
enum class RootLock { PerRun, HeldByCaller };
class RunDir {
 public:
  RunDir(const std::string& root, const std::string& run_id, RootLock lock = RootLock::PerRun);
  ~RunDir();
  RunDir(const RunDir&) = delete;
  RunDir& operator=(const RunDir&) = delete;
  // Path of a file inside the temporary folder (for writers that stream, e.g. a VCD).
  std::string path(const std::string& name) const;
  void write(const std::string& name, const std::string& content);
  std::string commit();  // returns the final folder

 private:
  std::string root_, final_, tmp_;
  std::unique_ptr<FolderLock> lock_;
  std::unique_ptr<TempGuard> guard_;
  bool committed_ = false;
};

// Writes files (name -> content) into `root/run_id/`: all are written into a temporary
// sibling folder which is then renamed into place, replacing an earlier run of the same id.
// Returns the final folder. ConfigError (key `output_dir`) if the folder cannot be written.
std::string write_run_dir(const std::string& root, const std::string& run_id,
                          const std::map<std::string, std::string>& files,
                          RootLock lock = RootLock::PerRun);

}  // namespace imcsim
