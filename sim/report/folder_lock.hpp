// One writer per output folder, nothing left behind.
//  - FolderLock: an advisory lock (flock) on a lock file, held while a run or a sweep folder
//    is written; a second writer gets a named error at once. The kernel drops a flock when
//    its process dies, so a stale lock file of a killed process does not block.
//  - Temporary folders registered with TempGuard are removed when SIGINT, SIGTERM, SIGHUP or
//    SIGPIPE (standard error piped into a reader that quit) ends the process (the handler unlinks
//    their files with async-signal-safe calls, then lets the signal take its default action); when
//    the process already handles those signals (a sweep, which stops cleanly itself), the handler
//    is not installed.
#pragma once

#include <string>

namespace imcsim {

class FolderLock {
 public:
  // Locks `lock_file` (created if absent) for `what` ("run folder out/x", "sweep folder y");
  // ConfigError naming the folder and the holder's process id when another process holds it.
  FolderLock(const std::string& lock_file, const std::string& what);
  ~FolderLock();  // unlocks and removes the lock file
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

 private:
  std::string path_;
  int fd_ = -1;
};

class TempGuard {
 public:
  // `lock_file` (may be empty): the FolderLock's file, removed with the folder.
  explicit TempGuard(const std::string& dir, const std::string& lock_file = "");
  ~TempGuard();
  TempGuard(const TempGuard&) = delete;
  TempGuard& operator=(const TempGuard&) = delete;

 private:
  int slot_ = -1;
};

// For a child process of a sweep: asks the kernel to send SIGTERM when the parent dies
// (PR_SET_PDEATHSIG), so no point process outlives a killed sweep. `parent` is the pid the
// child expects as its parent; if that parent is already gone, the process exits at once.
void die_with_parent(long parent);

}  // namespace imcsim
