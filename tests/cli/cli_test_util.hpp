// Shared by the tests that drive the imcsim binary end to end: a fresh temporary folder per
// test and a runner that captures exit code, standard output and standard error.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace imcsim::test {

namespace fs = std::filesystem;

inline std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

struct CliResult {
  int code;  // exit code, -1 when killed by a signal
  std::string out, err;
};

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    // One folder, never nested: parameterized names ("Catalogue/BadInputs", "Test/case")
    // hold slashes, which would leave their parent folders behind in the temporary folder.
    std::string name = std::string("imcsim-") + info->test_suite_name() + "-" + info->name() + "-" +
                       std::to_string(::getpid());
    for (char& c : name)
      if (c == '/') c = '_';
    tmp_ = fs::temp_directory_path() / name;
    fs::remove_all(tmp_);
    fs::create_directories(tmp_);
  }
  void TearDown() override { fs::remove_all(tmp_); }

  // Runs `imcsim <args>` (shell words) from the source root.
  CliResult run(const std::string& args) const {
    const std::string cmd = std::string("cd ") + IMCSIM_SOURCE_DIR + " && " + IMCSIM_BIN + " " +
                            args + " >" + (tmp_ / "stdout").string() + " 2>" +
                            (tmp_ / "stderr").string();
    const int status = std::system(cmd.c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(tmp_ / "stdout"),
            slurp(tmp_ / "stderr")};
  }
  std::string path(const std::string& name) const { return (tmp_ / name).string(); }

  fs::path tmp_;
};

}  // namespace imcsim::test
