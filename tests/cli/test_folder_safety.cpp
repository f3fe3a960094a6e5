// One writer per folder, nothing left behind (README "Limits"): cases the one-command
// catalogue (tests/bad_inputs) cannot express, because they need a second process holding
// a lock or a signal sent to a run while it runs.
//  - a run or sweep folder locked by another process (this test holds the flock itself):
//    a named error with the holder's pid, nothing written, and the lock file left alone;
//  - SIGINT, SIGTERM and SIGPIPE of a running cycle run (sent once its first progress line
//    is on standard error): the run dies of the signal, its temporary folder and lock file
//    are gone;
//  - a lock file (and temporary folders) left by a dead process do not block the next run,
//    which removes them.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "tests/cli/cli_test_util.hpp"

namespace fs = std::filesystem;

namespace {

constexpr const char* kTinyCycle = "tests/bad_inputs/data/cycle_tiny.yaml";
constexpr const char* kFourPoints = "tests/bad_inputs/data/sweep_four.yaml";

std::map<std::string, uintmax_t> listing(const fs::path& dir) {
  std::map<std::string, uintmax_t> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    out[fs::relative(e.path(), dir).string()] = e.is_regular_file() ? e.file_size() : 0;
  return out;
}

// Holds an flock on `file` (created, holding this process's pid) until destroyed, as a
// running imcsim holds the lock of the folder it writes.
class HeldLock {
 public:
  explicit HeldLock(const fs::path& file) {
    fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    EXPECT_GE(fd_, 0) << file;
    EXPECT_EQ(::flock(fd_, LOCK_EX | LOCK_NB), 0) << file;
    const std::string pid = std::to_string(::getpid()) + "\n";
    EXPECT_EQ(::write(fd_, pid.data(), pid.size()), static_cast<ssize_t>(pid.size()));
  }
  ~HeldLock() { release(); }
  HeldLock(const HeldLock&) = delete;
  HeldLock& operator=(const HeldLock&) = delete;
  void release() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// `imcsim <args>` started from the source root with standard error on a pipe, the signals
// of the test process's environment reset to their defaults (a test runner that ignores
// SIGINT or SIGPIPE would otherwise pass that on).
struct Child {
  pid_t pid = -1;
  int err = -1;  // read end of its standard error
};

Child spawn(const std::vector<std::string>& args) {
  std::vector<std::string> words = {IMCSIM_BIN};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  argv.reserve(words.size() + 1);
  for (auto& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return {};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(p[1], 2);
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    for (int sig : {SIGINT, SIGTERM, SIGPIPE, SIGHUP}) ::signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (::chdir(IMCSIM_SOURCE_DIR) != 0) ::_exit(126);
    ::execv(IMCSIM_BIN, argv.data());
    ::_exit(127);
  }
  ::close(p[1]);
  return {pid, p[0]};
}

// Reads the child's standard error until it holds `needle` (true) or ends (false); gives up
// after two minutes of silence.
bool read_until(int fd, const std::string& needle, std::string& text) {
  char buf[4096];
  while (text.find(needle) == std::string::npos) {
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, 120'000) <= 0) return false;
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return false;
    text.append(buf, static_cast<size_t>(n));
  }
  return true;
}

// The child's wait status; SIGKILL (and a test failure) if it has not ended within two
// minutes.
int wait_for(pid_t pid) {
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ADD_FAILURE() << "imcsim (pid " << pid << ") did not end";
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return status;
}

class CliFolderSafety : public imcsim::test::CliTest {
 protected:
  // The run folder name of `experiment` (a hash of its resolved configuration), from a run
  // into a scratch root.
  std::string run_id_of(const std::string& experiment) {
    const fs::path probe = tmp_ / "probe";
    const auto r = run(std::string("run ") + experiment + " -q -o " + probe.string());
    EXPECT_EQ(r.code, 0) << r.err;
    std::string id;
    for (const auto& e : fs::directory_iterator(probe)) id = e.path().filename().string();
    fs::remove_all(probe);
    return id;
  }

  // A cycle run of several seconds after its first layer, so a signal sent once the first
  // progress line is out always reaches it while it runs.
  std::string long_cycle_run() {
    const fs::path file = tmp_ / "long.yaml";
    std::ofstream(file)
        << "name: long-cycle\nworkload: resnet18\n"
           "arch: {rows: 128, cols: 128, weight_bits: 8, cell_bits: 2, arrays: 64}\n"
           "mappers: [vwsdk]\nmode: cycle\nengine: {tech: isaac-rram-32nm}\n";
    return file.string();
  }

  // Starts the long cycle run into `root`, waits for its first progress line, then either
  // sends `sig` or (sig == SIGPIPE) closes the read end of its standard error, so its next
  // progress line raises SIGPIPE. Returns the wait status.
  int interrupt_cycle_run(const fs::path& root, int sig) {
    Child c = spawn({"run", long_cycle_run(), "-o", root.string()});
    if (c.pid <= 0) {  // never kill(-1, ...)
      ADD_FAILURE() << "could not start imcsim";
      return 0;
    }
    std::string err;
    const bool started = read_until(c.err, "imcsim: layer 1/", err);
    EXPECT_TRUE(started) << "no progress line from the run:\n" << err;
    if (sig == SIGPIPE) {
      ::close(c.err);
    } else {
      ::kill(c.pid, sig);
      read_until(c.err, "\x01never", err);  // to the end of its output
      ::close(c.err);
    }
    return wait_for(c.pid);
  }

  void expect_killed_and_clean(int status, int sig, const fs::path& root) {
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == sig)
        << "expected death by signal " << sig << ", got wait status " << status;
    ASSERT_TRUE(fs::is_directory(root));
    std::string left;
    for (const auto& e : fs::directory_iterator(root)) left += " " + e.path().filename().string();
    EXPECT_TRUE(left.empty()) << "left behind in " << root << ":" << left;
  }
};

}  // namespace

TEST_F(CliFolderSafety, SecondWriterIntoALockedRunFolderIsRefusedNamingTheHolder) {
  const std::string id = run_id_of(kTinyCycle);
  ASSERT_FALSE(id.empty());
  const fs::path root = tmp_ / "out";
  fs::create_directories(root);
  const fs::path lock_file = root / ("." + id + ".lock");
  HeldLock held(lock_file);
  const auto before = listing(root);

  const auto r = run(std::string("run ") + kTinyCycle + " -q -o " + root.string());
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_EQ(r.err.rfind("imcsim: error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("another imcsim process (pid " + std::to_string(::getpid()) +
                       ") is writing the run folder"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(listing(root), before) << "the refused run wrote or removed something";

  // Once the holder is gone the same command runs: the lock, not the folder, refused it.
  held.release();
  const auto again = run(std::string("run ") + kTinyCycle + " -q -o " + root.string());
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_TRUE(fs::is_regular_file(root / id / "summary.json"));
  EXPECT_FALSE(fs::exists(lock_file)) << "the run left its lock file";
}

TEST_F(CliFolderSafety, SecondSweepResumeIntoALockedSweepFolderIsRefused) {
  const fs::path dir = tmp_ / "sweep";
  const std::string sweep = std::string("sweep ") + kFourPoints + " -q -j 1 -o " + dir.string();
  ASSERT_EQ(run(sweep).code, 0);
  HeldLock held(dir / ".sweep.lock");
  const auto before = listing(dir);

  const auto r = run(sweep + " --resume");
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_EQ(r.err.rfind("imcsim: error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("another imcsim process (pid " + std::to_string(::getpid()) +
                       ") is writing the sweep folder"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(listing(dir), before) << "the refused sweep wrote or removed something";

  held.release();
  const auto again = run(sweep + " --resume");
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_FALSE(fs::exists(dir / ".sweep.lock"));
}

TEST_F(CliFolderSafety, SweepIntoALockedNewFolderWritesNothing) {
  const fs::path dir = tmp_ / "sweep";
  fs::create_directories(dir);
  HeldLock held(dir / ".sweep.lock");
  const auto before = listing(dir);
  const auto r = run(std::string("sweep ") + kFourPoints + " -q -j 1 -o " + dir.string());
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("is writing the sweep folder"), std::string::npos) << r.err;
  EXPECT_EQ(listing(dir), before) << "the refused sweep wrote or removed something";
}

TEST_F(CliFolderSafety, SigintOfACycleRunRemovesItsTemporaryFolderAndLock) {
  const fs::path root = tmp_ / "out";
  expect_killed_and_clean(interrupt_cycle_run(root, SIGINT), SIGINT, root);
}

TEST_F(CliFolderSafety, SigtermOfACycleRunRemovesItsTemporaryFolderAndLock) {
  const fs::path root = tmp_ / "out";
  expect_killed_and_clean(interrupt_cycle_run(root, SIGTERM), SIGTERM, root);
}

TEST_F(CliFolderSafety, SigpipeOfACycleRunRemovesItsTemporaryFolderAndLock) {
  const fs::path root = tmp_ / "out";
  expect_killed_and_clean(interrupt_cycle_run(root, SIGPIPE), SIGPIPE, root);
}

TEST_F(CliFolderSafety, StaleLockOfADeadProcessDoesNotBlock) {
  const std::string id = run_id_of(kTinyCycle);
  ASSERT_FALSE(id.empty());
  const fs::path root = tmp_ / "out";
  fs::create_directories(root);
  const fs::path lock_file = root / ("." + id + ".lock");
  // A process that took the lock, wrote its pid and died without unlocking or removing it.
  const pid_t dead = ::fork();
  if (dead == 0) {
    const int fd = ::open(lock_file.c_str(), O_RDWR | O_CREAT, 0644);
    if (fd < 0 || ::flock(fd, LOCK_EX | LOCK_NB) != 0) ::_exit(1);
    const std::string pid = std::to_string(::getpid()) + "\n";
    ::_exit(::write(fd, pid.data(), pid.size()) == static_cast<ssize_t>(pid.size()) ? 0 : 1);
  }
  ASSERT_GT(dead, 0);
  int status = 0;
  ASSERT_EQ(::waitpid(dead, &status, 0), dead);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_TRUE(fs::is_regular_file(lock_file));
  // ... and, killed outright, left its temporary folder and the set-aside previous run.
  const std::string suffix = ".tmp-" + std::to_string(dead);
  const std::string tmp_name = "." + id + suffix, old_name = "." + id + ".old" + suffix;
  for (const std::string& name : {tmp_name, old_name}) {
    fs::create_directories(root / name);
    std::ofstream(root / name / "summary.json") << "{}";
  }

  const auto r = run(std::string("run ") + kTinyCycle + " -q -o " + root.string());
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::is_regular_file(root / id / "summary.json"));
  EXPECT_FALSE(fs::exists(lock_file)) << "the stale lock file is still there";
  std::string left;
  for (const auto& e : fs::directory_iterator(root))
    if (e.path().filename() != id) left += " " + e.path().filename().string();
  EXPECT_TRUE(left.empty()) << "left next to the run folder:" << left;
}
