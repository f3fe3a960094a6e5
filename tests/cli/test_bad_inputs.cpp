// The bad-input catalogues, under one harness: tests/bad_inputs/ (inputs of every kind:
// configurations, workloads, weights, models, data sets, flags) and tests/bad_configs/
// (experiment configurations; their cases are named config_<file>). Every case is a file
// whose leading comment lines say what must happen,
//   # expect: <text the error message must contain>
//   # command: <imcsim arguments>      (optional; default: run {file} -q -o {out})
//   # exit: <code>                      (optional; default 1)
//   # fifo: <name>                      (optional; a FIFO {fixtures}/<name> made first)
//   # sized: <name> <bytes>             (optional; {fixtures}/<name>: a YAML file of that
//                                        size, `big:` and a list of zeros)
// where {file} is the case's path from the source root, {out} an output path in a fresh
// scratch folder {tmp}, {fixtures} a folder apart from {tmp} for inputs made at test time.
// Each command runs under `timeout`: a hang (a FIFO opened blocking) fails the case. A `.yaml` case
// is itself the bad input; a `.case` file only holds the header and points at inputs in
// tests/bad_inputs/data (made by data/make.sh). Each case must exit with its code, print "imcsim:
// error: " and the expected text on standard error, and leave nothing behind: {out} absent, {tmp}
// empty, and the catalogue's own folder unchanged.
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "tests/cli/cli_test_util.hpp"

namespace fs = std::filesystem;

namespace {

struct Case {
  fs::path file;
  std::string expect, command, fifo, sized;
  int exit_code = 1;
};

Case parse_case(const fs::path& file) {
  Case c;
  c.file = file;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line) && line.rfind('#', 0) == 0;) {
    for (const auto& [tag, field] : {std::pair<std::string, std::string*>{"# expect: ", &c.expect},
                                     {"# command: ", &c.command},
                                     {"# fifo: ", &c.fifo},
                                     {"# sized: ", &c.sized}}) {
      if (line.rfind(tag, 0) == 0) *field = line.substr(tag.size());
    }
    if (line.rfind("# exit: ", 0) == 0) c.exit_code = std::stoi(line.substr(8));
  }
  if (c.command.empty()) c.command = "run {file} -q -o {out}";
  return c;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

// Every file under `dir` with its size: a case must not add, remove or change any.
std::map<std::string, uintmax_t> listing(const fs::path& dir) {
  std::map<std::string, uintmax_t> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    out[e.path().string()] = e.is_regular_file() ? e.file_size() : 0;
  return out;
}

const fs::path kSource = IMCSIM_SOURCE_DIR;
const fs::path kInputs = kSource / "tests/bad_inputs";
const fs::path kConfigs = kSource / "tests/bad_configs";

std::vector<fs::path> case_files(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".yaml" || e.path().extension() == ".case")
      files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<fs::path> case_files() {
  std::vector<fs::path> files = case_files(kInputs);
  for (const fs::path& f : case_files(kConfigs)) files.push_back(f);
  return files;
}

class BadInputs : public imcsim::test::CliTest, public ::testing::WithParamInterface<fs::path> {
 protected:
  // As CliTest::run, killed after 60 s (exit 137): no case may hang.
  imcsim::test::CliResult run_with_timeout(const std::string& args) const {
    const std::string cmd = std::string("cd ") + IMCSIM_SOURCE_DIR + " && timeout -s KILL 60 " +
                            IMCSIM_BIN + " " + args + " >" + (tmp_ / "stdout").string() + " 2>" +
                            (tmp_ / "stderr").string();
    const int status = std::system(cmd.c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, imcsim::test::slurp(tmp_ / "stdout"),
            imcsim::test::slurp(tmp_ / "stderr")};
  }
};

}  // namespace

TEST(BadInputCatalogue, HasEnoughWellFormedCases) {
  EXPECT_GE(case_files(kInputs).size(), 150u);
  EXPECT_GE(case_files(kConfigs).size(), 30u);
  const auto files = case_files();
  for (const auto& f : files) {
    const Case c = parse_case(f);
    EXPECT_FALSE(c.expect.empty()) << f << " has no '# expect: ' line";
    EXPECT_NE(c.expect, "?") << f << " has no expected error text yet";
  }
}

TEST_P(BadInputs, FailsWithANamedErrorAndWritesNothing) {
  const Case c = parse_case(GetParam());
  const fs::path tmp = tmp_ / "scratch";
  fs::create_directories(tmp);
  const fs::path out = tmp / "out";
  std::string args = replace_all(c.command, "{file}", fs::relative(c.file, kSource).string());
  args = replace_all(args, "{out}", out.string());
  args = replace_all(args, "{tmp}", tmp.string());

  const fs::path fixtures = tmp_ / "fixtures";
  fs::create_directories(fixtures);
  if (!c.fifo.empty()) {
    ASSERT_EQ(::mkfifo((fixtures / c.fifo).c_str(), 0600), 0);
  }
  if (!c.sized.empty()) {
    const size_t space = c.sized.find(' ');
    std::ofstream big(fixtures / c.sized.substr(0, space), std::ios::binary);
    const size_t bytes = std::stoul(c.sized.substr(space + 1));
    big << "big:\n";
    for (size_t n = 5; n + 4 <= bytes; n += 4) big << "- 0\n";
  }
  args = replace_all(args, "{fixtures}", fixtures.string());

  const fs::path catalogue = c.file.parent_path();
  const auto before = listing(catalogue);
  const imcsim::test::CliResult r = run_with_timeout(args);
  const int code = r.code;
  const std::string& err = r.err;

  EXPECT_EQ(code, c.exit_code) << args << "\n" << err;
  EXPECT_EQ(err.rfind("imcsim: error: ", 0), 0u) << args << "\n" << err;
  EXPECT_NE(err.find(c.expect), std::string::npos)
      << args << "\n  expected: " << c.expect << "\n  got: " << err;
  EXPECT_FALSE(fs::exists(out)) << args << ": output written despite the error";
  EXPECT_TRUE(fs::is_empty(tmp)) << args << ": files left in " << tmp;
  EXPECT_EQ(listing(catalogue), before) << args << ": the catalogue folder changed";
}

INSTANTIATE_TEST_SUITE_P(Catalogue, BadInputs, ::testing::ValuesIn(case_files()),
                         [](const ::testing::TestParamInfo<fs::path>& param) {
                           std::string name = param.param.stem().string();
                           std::replace_if(
                               name.begin(), name.end(), [](char ch) { return !std::isalnum(ch); },
                               '_');
                           const bool config = param.param.parent_path() == kConfigs;
                           return (config ? "config_" : "") + name +
                                  (param.param.extension() == ".case" ? "_case" : "");
                         });
