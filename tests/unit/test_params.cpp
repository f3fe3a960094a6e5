// The parameter tables (sim/config/param.hpp): one table per configuration section, each
// default written once, read by the parsers through the param_* readers, printed by
// `imcsim list <section>`.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "sim/config/config.hpp"
#include "sim/config/param.hpp"

using namespace imcsim;

namespace {

YamlNode yaml(const std::string& text) {
  return YamlNode::load_string(text, "p.yaml", ErrorKind::Config);
}

// The error message of `f`, or "(no error)".
template <typename F>
std::string error_of(F f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

// `p.leaf(): <its default>` read back through the reader of its type; fails the test when
// the default does not parse or lies outside the parameter's range.
void expect_default_parses(const ParamTable& t, const Param& p) {
  const std::string where = t.section + "." + p.key;
  const YamlNode map = yaml(p.leaf() + ": " + p.default_text + "\n");
  switch (p.type) {
    case ParamType::Integer: {
      const int64_t v = param_int(map, p);
      EXPECT_EQ(v, p.default_int()) << where;
      EXPECT_TRUE(p.lo <= v && v <= p.hi) << where;
      break;
    }
    case ParamType::Real: {
      const double v = param_real(map, p);
      EXPECT_EQ(v, p.default_real()) << where;
      EXPECT_TRUE(p.real_lo <= v && v <= p.real_hi) << where;
      break;
    }
    case ParamType::Bool: EXPECT_EQ(param_bool(map, p), p.default_bool()) << where; break;
    case ParamType::Choice: EXPECT_EQ(param_choice(map, p), p.default_text) << where; break;
    case ParamType::String: EXPECT_EQ(param_text(map, p), p.default_text) << where; break;
  }
  // Absent, the reader gives the same default.
  const YamlNode empty = yaml("{}\n");
  switch (p.type) {
    case ParamType::Integer: EXPECT_EQ(param_int(empty, p), p.default_int()) << where; break;
    case ParamType::Real: EXPECT_EQ(param_real(empty, p), p.default_real()) << where; break;
    case ParamType::Bool: EXPECT_EQ(param_bool(empty, p), p.default_bool()) << where; break;
    case ParamType::Choice: EXPECT_EQ(param_choice(empty, p), p.default_text) << where; break;
    case ParamType::String: EXPECT_EQ(param_text(empty, p), p.default_text) << where; break;
  }
}

}  // namespace

TEST(Params, EverySectionHasATable) {
  EXPECT_EQ(param_sections(), (std::vector<std::string>{"compression", "arch", "timing", "engine",
                                                        "limits", "study"}));
  for (const auto& s : param_sections()) EXPECT_EQ(param_table(s).section, s);
  EXPECT_THROW(param_table("nonsense"), std::out_of_range);
  EXPECT_THROW(param_table("arch").at("nonsense"), std::out_of_range);
}

TEST(Params, KeysAreUniqueAndDescribed) {
  for (const auto& t : param_tables()) {
    std::set<std::string> seen;
    EXPECT_FALSE(t.params.empty()) << t.section;
    EXPECT_FALSE(t.title.empty()) << t.section;
    for (const auto& p : t.params) {
      EXPECT_TRUE(seen.insert(p.key).second) << t.section << "." << p.key << " twice";
      EXPECT_FALSE(p.description.empty()) << t.section << "." << p.key;
      EXPECT_FALSE(p.source.empty()) << t.section << "." << p.key << " needs a source";
      if (p.type == ParamType::Choice) {
        EXPECT_FALSE(p.choices.empty()) << p.key;
      }
      if (p.type == ParamType::Integer) {
        EXPECT_LE(p.lo, p.hi) << p.key;
      }
      if (p.type == ParamType::Real) {
        EXPECT_LE(p.real_lo, p.real_hi) << p.key;
      }
    }
  }
}

TEST(Params, EveryDefaultParsesThroughItsOwnParamAndLiesInRange) {
  int defaults = 0;
  for (const auto& t : param_tables()) {
    for (const auto& p : t.params) {
      if (!p.has_default()) continue;
      ++defaults;
      if (p.type == ParamType::Choice) {
        EXPECT_NE(std::find(p.choices.begin(), p.choices.end(), p.default_text), p.choices.end())
            << t.section << "." << p.key;
      }
      expect_default_parses(t, p);
    }
  }
  EXPECT_GT(defaults, 30);
}

TEST(Params, DefaultsComeFromTheStructInitializers) {
  const ParamTable& limits = param_table("limits");
  const RunLimits l;
  EXPECT_EQ(limits.at("max_memory").default_int(), l.max_memory);
  EXPECT_EQ(limits.at("max_events").default_int(), l.max_events);
  EXPECT_EQ(limits.at("max_disk").default_int(), l.max_disk);
  EXPECT_EQ(limits.at("max_points").default_int(), l.max_points);
  const RunLimits parsed = parse_limits(yaml("limits: {}\n"));
  EXPECT_EQ(parsed.max_memory, l.max_memory);
  EXPECT_EQ(parsed.max_points, l.max_points);

  const ParamTable& engine = param_table("engine");
  const EngineSpec e;
  EXPECT_EQ(engine.at("functional").default_bool(), e.functional);
  EXPECT_EQ(engine.at("input").default_text, e.input);
  EXPECT_EQ(engine.at("weights").default_text, e.weights);
  EXPECT_EQ(engine.at("calibration").default_text, e.calibration);
  EXPECT_EQ(engine.at("trace.from_ns").default_real(), e.trace_from_ns);
  EXPECT_EQ(engine.at("schedule_cycles").default_int(), e.schedule_cycles);

  const ParamTable& c = param_table("compression");
  const compress::CompressionSpec s;
  EXPECT_EQ(c.at("groups").default_int(), compress::kDefaultGroups);
  EXPECT_EQ(c.at("sigma_split").default_real(), s.sigma_split);
  EXPECT_EQ(c.at("rank_ratio").default_real(), s.rank.ratio);
  EXPECT_EQ(c.at("mapper").default_text, s.mapper);
  EXPECT_EQ(c.at("patterns").default_text, s.prune.patterns.name);
  EXPECT_EQ(c.at("fold_bn").default_bool(), s.fold_bn);
  // The registry `imcsim list compression` prints shows the same defaults.
  for (const auto& m : compress::compression_registry())
    for (const auto& p : m.params)
      if (c.contains(p.name)) {
        EXPECT_EQ(p.default_value, c.at(p.name).default_text) << p.name;
      }
}

TEST(Params, StudyEnergyArraysCopyTheArchEntries) {
  const ParamTable& study = param_table("study");
  const ParamTable& arch = param_table("arch");
  for (const char* key : {"weight_bits", "cell_bits", "input_bits", "dac_bits", "arrays"}) {
    const Param& s = study.at(std::string("energy.") + key);
    const Param& a = arch.at(key);
    EXPECT_EQ(s.default_text, a.default_text) << key;
    EXPECT_EQ(s.lo, a.lo) << key;
    EXPECT_EQ(s.hi, a.hi) << key;
    EXPECT_EQ(s.source, a.source) << key;
    EXPECT_EQ(s.leaf(), key);
  }
}

TEST(Params, ArchParamsIsAViewOfTheArchTable) {
  const ParamTable& arch = param_table("arch");
  ASSERT_EQ(arch_params().size(), arch.params.size());
  for (size_t i = 0; i < arch.params.size(); ++i) {
    const ArchParam& a = arch_params()[i];
    const Param& p = arch.params[i];
    EXPECT_EQ(a.key, p.key);
    EXPECT_EQ(a.lo, p.lo);
    EXPECT_EQ(a.hi, p.hi);
    EXPECT_EQ(a.choices, p.choices);
    EXPECT_EQ(a.default_value, p.has_default() ? p.default_text : "");
    EXPECT_EQ(a.source, p.source);
    EXPECT_EQ(a.field == nullptr, p.type == ParamType::Choice) << p.key;
  }
}

TEST(Params, ReadersRejectWithTheYamlErrors) {
  const ParamTable& arch = param_table("arch");
  EXPECT_EQ(error_of([&] { param_int(yaml("cell_bits: 9\n"), arch, "cell_bits"); }),
            "p.yaml:1: cell_bits: expected an integer in 1..8, got \"9\"");
  EXPECT_EQ(error_of([&] { param_int(yaml("cell_bits: two\n"), arch, "cell_bits"); }),
            "p.yaml:1: cell_bits: expected an integer in 1..8, got \"two\"");
  EXPECT_EQ(error_of([&] { param_int(yaml("cell_bits: 2.5\n"), arch, "cell_bits"); }),
            "p.yaml:1: cell_bits: expected an integer in 1..8, got \"2.5\"");
  EXPECT_EQ(error_of([&] { param_int(yaml("cols: 8\n"), arch, "rows"); }),
            "p.yaml:1: rows: missing required key");
  EXPECT_EQ(
      error_of([&] { param_choice(yaml("signed_encoding: twos\n"), arch, "signed_encoding"); }),
      "p.yaml:1: signed_encoding: expected one of offset or differential, got \"twos\"");
  const ParamTable& c = param_table("compression");
  EXPECT_EQ(error_of([&] { param_real(yaml("sigma_split: 1.5\n"), c, "sigma_split"); }),
            "p.yaml:1: sigma_split: expected a number in [0, 1], got \"1.5\"");
  EXPECT_EQ(error_of([&] { param_bool(yaml("fold_bn: maybe\n"), c, "fold_bn"); }),
            "p.yaml:1: fold_bn: expected true or false, got \"maybe\"");
  EXPECT_EQ(error_of([&] { param_int(yaml("groups: 1\n"), c, "groups"); }),
            "p.yaml:1: groups: expected an integer in 2..65536, got \"1\"");
  // A dotted key is read from its own mapping, and the error names the whole path.
  const YamlNode trace = yaml("trace:\n  from_ns: -1\n").child("trace");
  EXPECT_EQ(error_of([&] { param_real(trace, param_table("engine"), "trace.from_ns"); }),
            "p.yaml:2: trace.from_ns: expected a number in [0, 1e+18], got \"-1\"");
  EXPECT_EQ(param_int(yaml("cell_bits: 4\n"), arch, "cell_bits"), 4);
  EXPECT_EQ(param_int(yaml("rows: 7\n"), arch, "rows"), 7);
}

TEST(Params, KeysOfANestedMapping) {
  EXPECT_EQ(param_table("engine").keys("trace"),
            (std::vector<std::string>{"layers", "from_ns", "to_ns"}));
  EXPECT_EQ(param_table("limits").keys(),
            (std::vector<std::string>{"max_memory", "max_events", "max_disk", "max_points"}));
  EXPECT_EQ(
      param_table("compression").keys("layers.<name>"),
      (std::vector<std::string>{"skip", "rank", "rank_ratio", "energy", "groups", "group_axis"}));
}

TEST(Params, ListTextShowsEveryKeyRangeAndDefault) {
  for (const auto& t : param_tables()) {
    const std::string text = param_table_text(t);
    EXPECT_EQ(text.rfind(t.title + "\n", 0), 0u) << t.section;
    for (const auto& p : t.params) {
      EXPECT_NE(text.find("  " + p.key + " "), std::string::npos) << t.section << "." << p.key;
      EXPECT_NE(text.find(p.range_text()), std::string::npos) << t.section << "." << p.key;
      EXPECT_NE(text.find("default " + p.default_column()), std::string::npos) << p.key;
    }
  }
  // The architecture table prints as `imcsim list arch` always has.
  const std::string arch = param_table_text(param_table("arch"));
  EXPECT_NE(arch.find("  cell_bits        1..8                   default 2          bits stored "
                      "per cell [ISAAC (Shafiee et al., ISCA 2016): 2-bit ReRAM cells]\n"),
            std::string::npos)
      << arch;
  EXPECT_NE(arch.find("  rows             1..65536               default (required) crossbar "
                      "rows (AR) [required]\n"),
            std::string::npos)
      << arch;
}
