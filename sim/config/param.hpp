// One parameter mechanism (STYLE.md "Self-describing components", after Ramulator 2.0's
// `param<T>("x").desc(..).default_val(..)`): every configuration key of a section is declared
// once in a table with its type, range or choices, default (or required / optional), unit,
// description and the source of the default. The parsers read keys through the param_*
// readers below, so range, choices and default come from the table, and `imcsim list
// <section>` prints the same table. Where a plain struct initializer is the single place a
// default is written (RunLimits, EngineSpec, compress::CompressionSpec), the table reads it
// from a default-constructed struct instead of typing the number again.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "workloads/yaml_reader.hpp"

namespace imcsim {

enum class ParamType { Integer, Real, Bool, Choice, String };

struct Param {
  enum class Presence { Default, Required, Optional };

  std::string key;  // YAML key; a dotted key (trace.from_ns) is read from a nested mapping
  ParamType type = ParamType::Integer;
  int64_t lo = 0, hi = 0;            // Integer range
  double real_lo = 0, real_hi = 0;   // Real range
  std::vector<std::string> choices;  // Choice
  Presence presence = Presence::Required;
  std::string default_text;  // Default: the value as written in YAML; Optional: what absence means
  std::string unit;
  std::string description;
  std::string source;
  std::string values_text;  // the range column of a String parameter ("a name or a path")

  static Param integer(std::string key, int64_t lo, int64_t hi);
  static Param real(std::string key, double lo, double hi);
  static Param boolean(std::string key);
  static Param choice(std::string key, std::vector<std::string> choices);
  static Param text(std::string key);

  // Builders (each returns *this).
  Param& default_val(int64_t v);
  Param& default_val(int v) { return default_val(static_cast<int64_t>(v)); }
  Param& default_val(double v);
  Param& default_val(bool v);
  Param& default_val(const std::string& v);
  Param& default_val(const char* v) { return default_val(std::string(v)); }
  Param& required();
  // No default value: absence means `meaning` (printed as the default, in parentheses).
  Param& optional(const std::string& meaning);
  Param& units(std::string u);
  Param& desc(std::string d);
  Param& src(std::string s);
  Param& values(std::string v);  // what a String parameter accepts, for `imcsim list`
  // The same parameter under another key (a study key that copies an arch parameter).
  Param renamed(std::string new_key) const;

  bool has_default() const { return presence == Presence::Default; }
  // The key inside its own mapping: "from_ns" of "trace.from_ns".
  std::string leaf() const;
  // "1..8", "offset or differential", "true or false", "0..1", "text".
  std::string range_text() const;
  // The default column of `imcsim list`: the default, "(required)" or "(<meaning>)".
  std::string default_column() const;

  // The default as a value (ConfigError naming the key when the text does not parse).
  int64_t default_int() const;
  double default_real() const;
  bool default_bool() const;
};

struct ParamTable {
  std::string section;  // arch, timing, engine, compression, limits, study
  std::string title;    // heading of `imcsim list <section>`
  std::vector<Param> params;
  // The parameter of `key` (std::out_of_range naming the key when there is none).
  const Param& at(const std::string& key) const;
  bool contains(const std::string& key) const;
  // Leaf keys of the params directly under `prefix` ("" = the section's own mapping,
  // "trace" = the keys of engine.trace), in table order.
  std::vector<std::string> keys(const std::string& prefix = "") const;
};

// Every section, in the order `imcsim list` prints them: compression, arch, timing, engine,
// limits, study. Each section's table is declared next to its parser (arch_param_table() in
// config.cpp, ...); the study's copies the arch entries its energy arrays share.
const std::vector<ParamTable>& param_tables();
const ParamTable& param_table(const std::string& section);  // std::out_of_range if none
std::vector<std::string> param_sections();

// The tables of the sections, each built once by param_tables().
ParamTable compression_param_table();                  // sim/config/config_compression.cpp
ParamTable arch_param_table();                         // sim/config/config.cpp
ParamTable timing_param_table();                       // sim/config/config_engine.cpp
ParamTable engine_param_table();                       // sim/config/config_engine.cpp
ParamTable limits_param_table();                       // sim/config/config_limits.cpp
ParamTable study_param_table(const ParamTable& arch);  // sim/config/param.cpp

// Readers: the key `p.leaf()` of the mapping `map`, checked against the table (range,
// choices, type), the table's default when absent; a Required (or Optional) parameter that
// is absent is "missing required key" (callers test map.has() first for Optional ones).
// Errors are the YamlNode errors: "<file>:<line>: <path>: expected an integer in 1..16, got ..".
int64_t param_int(const YamlNode& map, const Param& p);
double param_real(const YamlNode& map, const Param& p);
bool param_bool(const YamlNode& map, const Param& p);
std::string param_choice(const YamlNode& map, const Param& p);
std::string param_text(const YamlNode& map, const Param& p);
// The same, by table and key.
int64_t param_int(const YamlNode& map, const ParamTable& t, const std::string& key);
double param_real(const YamlNode& map, const ParamTable& t, const std::string& key);
bool param_bool(const YamlNode& map, const ParamTable& t, const std::string& key);
std::string param_choice(const YamlNode& map, const ParamTable& t, const std::string& key);
std::string param_text(const YamlNode& map, const ParamTable& t, const std::string& key);

// `imcsim list <section>`: the title, then one line per parameter
// ("  key  range  default D  description [source]").
std::string param_table_text(const ParamTable& t);

}  // namespace imcsim
