// Shared by the libFuzzer targets: a finding is anything but a clean return or an
// imcsim::Error (the named error `main` turns into exit code 1). Another exception would
// reach `main` as "internal error" (exit 3), a crash or a sanitizer report kills the run;
// libFuzzer records both as a crash and saves the input.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>

#include "workloads/error.hpp"

namespace imcsim::fuzz {

inline std::string as_text(const uint8_t* data, size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

// Runs `body`; an imcsim::Error is the expected outcome of most inputs and is swallowed.
template <typename Body>
int expect_named_errors(Body&& body) {
  try {
    body();
  } catch (const imcsim::Error&) {
  }
  return 0;
}

// A scratch file or folder of one fuzzing process, <temp>/imcsim-fuzz-<tag>-<pid><suffix>.
// Kept as a function-local static: libFuzzer ends a run with exit(), which destroys it, so a
// finished run leaves nothing in the temporary folder.
class Scratch {
 public:
  Scratch(const std::string& tag, const std::string& suffix, bool folder)
      : path_(std::filesystem::temp_directory_path() /
              ("imcsim-fuzz-" + tag + "-" + std::to_string(::getpid()) + suffix)) {
    if (folder) std::filesystem::create_directories(path_);
  }
  ~Scratch() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace imcsim::fuzz
