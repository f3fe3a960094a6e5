#include "sim/config/config_limits.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cmath>
#include <limits>

#include "sim/config/param.hpp"

namespace imcsim {

namespace {

constexpr const char* kSizeExpected =
    "a size such as 512M, 8G or 1T (bytes, or K, M, G, T, P: powers of 1024), at least 1 byte";

int64_t size_key(const YamlNode& section, const Param& p) {
  const auto n = section.find(p.key);
  if (!n) return p.default_int();
  int64_t bytes = 0;
  if (!n->is_scalar() || !parse_size(n->as_string(), bytes)) n->fail_expected(kSizeExpected);
  return bytes;
}

// A count written as an integer or in exponent form (5e10), which must be whole.
int64_t count_key(const YamlNode& section, const Param& p) {
  const auto n = section.find(p.key);
  if (!n) return p.default_int();
  const char* expected = "a whole number of events in 1..9e18, such as 50000000000 or 5e10";
  double v = 0;
  try {
    v = n->as_number(1, 9.0e18);
  } catch (const Error&) {
    n->fail_expected(expected);
  }
  if (v != std::floor(v)) n->fail_expected(expected);
  return static_cast<int64_t>(v);
}

}  // namespace

ParamTable limits_param_table() {
  // Defaults of the struct initializers of RunLimits (config_limits.hpp), read back here.
  const RunLimits d;
  constexpr int64_t kMaxBytes = 9'000'000'000'000'000'000;  // parse_size's upper bound
  ParamTable t{"limits",
               "run limits (under `limits:`; the --max-* flags override them; README \"Limits\"):",
               {}};
  auto& p = t.params;
  p.push_back(Param::integer("max_memory", 1, kMaxBytes)
                  .default_val(d.max_memory)
                  .units("bytes")
                  .values("a size: 512M, 8G, 1T")
                  .desc("refuse a cycle run estimated above this peak memory")
                  .src("8 GiB: a run above it would not fit a typical workstation next to its "
                       "other work"));
  p.push_back(Param::integer("max_events", 1, kMaxBytes)
                  .default_val(d.max_events)
                  .units("events")
                  .values("a count: 5e10")
                  .desc("refuse a cycle run estimated above this many simulation events")
                  .src("about 1.5 hours of the engine at its measured 1e7 events/s"));
  p.push_back(Param::integer("max_disk", 1, kMaxBytes)
                  .default_val(d.max_disk)
                  .units("bytes")
                  .values("a size: 512M, 8G, 1T")
                  .desc("refuse a run (or sweep) whose folder is estimated above this size")
                  .src("16 GiB of run or sweep folders (trace.vcd is the large file of a run)"));
  p.push_back(Param::integer("max_points", 1, std::numeric_limits<int64_t>::max())
                  .default_val(d.max_points)
                  .units("points")
                  .desc("refuse a sweep (or its shard) of more points")
                  .src("a sweep above 1,000,000 points is almost always an axis typed wrong"));
  return t;
}

RunLimits parse_limits(const YamlNode& root, bool* given) {
  RunLimits l;
  if (given) *given = false;
  const auto section = root.find("limits");
  if (!section) return l;
  if (given) *given = true;
  section->expect_map();
  const ParamTable& t = param_table("limits");
  section->allow_only(t.keys());
  l.max_memory = size_key(*section, t.at("max_memory"));
  l.max_events = count_key(*section, t.at("max_events"));
  l.max_disk = size_key(*section, t.at("max_disk"));
  l.max_points = param_int(*section, t, "max_points");
  return l;
}

void emit_limits(YAML::Emitter& out, const RunLimits& l) {
  out << YAML::BeginMap;
  out << YAML::Key << "max_memory" << YAML::Value << l.max_memory;
  out << YAML::Key << "max_events" << YAML::Value << l.max_events;
  out << YAML::Key << "max_disk" << YAML::Value << l.max_disk;
  out << YAML::Key << "max_points" << YAML::Value << l.max_points;
  out << YAML::EndMap;
}

bool parse_size(const std::string& text, int64_t& bytes) {
  if (text.empty()) return false;
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    return false;
  }
  std::string unit = text.substr(used);
  if (!unit.empty() && (unit.back() == 'B' || unit.back() == 'b')) unit.pop_back();
  if (unit.size() == 2 && unit[1] == 'i') unit.pop_back();
  int shift = 0;
  if (unit.size() == 1) {
    const std::string units = "KMGTP";
    const size_t at =
        units.find(static_cast<char>(std::toupper(static_cast<unsigned char>(unit[0]))));
    if (at == std::string::npos) return false;
    shift = 10 * static_cast<int>(at + 1);
  } else if (!unit.empty()) {
    return false;
  }
  const double b = std::ldexp(v, shift);
  if (!std::isfinite(b) || b < 1 || b > 9.0e18) return false;
  bytes = static_cast<int64_t>(b);
  return true;
}

std::string size_text(int64_t bytes) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 6) v /= 1024, ++u;
  return u == 0 ? fmt::format("{} bytes", bytes) : fmt::format("{:.1f} {}", v, units[u]);
}

}  // namespace imcsim
