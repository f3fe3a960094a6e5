// Shared by the libFuzzer targets: a finding is anything but a clean return or an
// imcsim::Error (the named error `main` turns into exit code 1). Another exception would
// reach `main` as "internal error" (exit 3), a crash or a sanitizer report kills the run;
// libFuzzer records both as a crash and saves the input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

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

}  // namespace imcsim::fuzz
