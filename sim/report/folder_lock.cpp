#include "sim/report/folder_lock.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "workloads/error.hpp"

namespace imcsim {

FolderLock::FolderLock(const std::string& lock_file, const std::string& what) : path_(lock_file) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    const int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
      throw ConfigError(
          path_, 0, "output_dir",
          fmt::format("cannot create the lock file of the {}: {}", what, std::strerror(errno)));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      char holder[32] = {0};
      const ssize_t n = ::pread(fd, holder, sizeof holder - 1, 0);
      ::close(fd);
      const std::string pid = n > 0 ? std::string(holder, static_cast<size_t>(n)) : "?";
      throw ConfigError(path_, 0, "output_dir",
                        fmt::format("another imcsim process (pid {}) is writing the {}; wait for "
                                    "it to finish or write elsewhere",
                                    pid.substr(0, pid.find('\n')), what));
    }
    // The holder before us may have removed the file between our open and our flock: the
    // lock then protects nothing, so start again on the file now at that path.
    struct stat held {
    }, now{};
    if (::fstat(fd, &held) == 0 && ::stat(path_.c_str(), &now) == 0 && held.st_ino == now.st_ino &&
        held.st_dev == now.st_dev) {
      fd_ = fd;
      const std::string pid = std::to_string(::getpid()) + "\n";
      if (::ftruncate(fd_, 0) == 0 && ::pwrite(fd_, pid.data(), pid.size(), 0) < 0) {
        // The pid is only shown to a second writer; a failed write does not matter.
      }
      return;
    }
    ::close(fd);
  }
  throw ConfigError(path_, 0, "output_dir", fmt::format("cannot lock the {}", what));
}

FolderLock::~FolderLock() {
  if (fd_ < 0) return;
  ::unlink(path_.c_str());  // while still locked: no other writer can hold this inode
  ::close(fd_);
}

namespace {

constexpr int kSlots = 64;
constexpr size_t kPathMax = 4096;
char g_dirs[kSlots][kPathMax];
char g_locks[kSlots][kPathMax];  // the lock file of each folder, "" for none
std::atomic<bool> g_used[kSlots];
std::mutex g_mutex;
bool g_installed = false;

// Removes the files of `dir` and the folder itself with async-signal-safe calls only. Run
// folders are flat (resolved.yaml, summary.json, layers.csv, schedule.yaml, trace.vcd).
void remove_flat_dir(const char* dir) {
  const int fd = ::open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    alignas(8) char buf[8192];
    for (;;) {
      const long n = ::syscall(SYS_getdents64, fd, buf, sizeof buf);
      if (n <= 0) break;
      for (long at = 0; at < n;) {
        const auto* e = reinterpret_cast<const struct dirent64*>(buf + at);
        if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
          ::unlinkat(fd, e->d_name, 0);
        at += e->d_reclen;
      }
    }
    ::close(fd);
  }
  ::rmdir(dir);
}

void on_signal(int sig) {
  for (int i = 0; i < kSlots; ++i)
    if (g_used[i].load()) {
      remove_flat_dir(g_dirs[i]);
      if (g_locks[i][0] != '\0') ::unlink(g_locks[i]);
    }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

void install_once() {
  if (g_installed) return;
  g_installed = true;
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) {
    struct sigaction old {};
    if (::sigaction(sig, nullptr, &old) != 0 || old.sa_handler != SIG_DFL) continue;
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    ::sigaction(sig, &sa, nullptr);
  }
}

}  // namespace

TempGuard::TempGuard(const std::string& dir, const std::string& lock_file) {
  if (dir.size() >= kPathMax || lock_file.size() >= kPathMax) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  install_once();
  for (int i = 0; i < kSlots; ++i) {
    if (g_used[i].load()) continue;
    std::memcpy(g_dirs[i], dir.c_str(), dir.size() + 1);
    std::memcpy(g_locks[i], lock_file.c_str(), lock_file.size() + 1);
    g_used[i].store(true);
    slot_ = i;
    return;
  }
}

TempGuard::~TempGuard() {
  if (slot_ >= 0) g_used[slot_].store(false);
}

void die_with_parent(long parent) {
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != static_cast<pid_t>(parent)) ::_exit(1);
}

}  // namespace imcsim
