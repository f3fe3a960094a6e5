// Helpers shared by the imcsim commands.
#include "sim/cli/cli.hpp"

#include <fmt/format.h>

#include <iostream>

#include "sim/report/report.hpp"

namespace imcsim::cli {

int64_t parse_count(const std::string& flag, const std::string& text, int64_t lo, int64_t hi) {
  try {
    size_t used = 0;
    const long long v = std::stoll(text, &used);
    if (used == text.size() && v >= lo && v <= hi) return v;
  } catch (const std::exception&) {
  }
  throw UsageError("", 0, flag,
                   fmt::format("expected an integer in {}..{}, got \"{}\"", lo, hi, text));
}

void emit(const std::string& text, const std::string& output_file) {
  if (output_file.empty()) {
    std::cout << text;
  } else {
    write_file_atomic(output_file, text);
  }
}

}  // namespace imcsim::cli
