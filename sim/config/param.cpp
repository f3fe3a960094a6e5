#include "sim/config/param.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include "mappers/mapper.hpp"

namespace imcsim {

namespace {

Param make_param(std::string key, ParamType type) {
  Param p;
  p.key = std::move(key);
  p.type = type;
  return p;
}

std::string param_real_text(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

[[noreturn]] void bad_param_default(const Param& p, const char* what) {
  throw ConfigError("", 0, p.key,
                    fmt::format("the default \"{}\" is not {}", p.default_text, what));
}

// The mapping holding `p`: the reader's map itself (a dotted key's parent is passed in).
std::optional<YamlNode> param_value_of(const YamlNode& map, const Param& p) {
  auto v = map.find(p.leaf());
  if (!v && !p.has_default()) map.child(p.leaf());  // "missing required key"
  return v;
}

}  // namespace

// The study: the energy arrays of `study.energy` take the architecture's defaults (the
// paper's 8-bit weights on 2-bit cells, 8-bit inputs through 1-bit DACs, 64 arrays).
ParamTable study_param_table(const ParamTable& arch) {
  ParamTable t{"study", "paper study parameters (under `study:`, study/paper_study.cpp):", {}};
  auto& p = t.params;
  auto list = [&](const char* key, const char* values, const char* what) {
    p.push_back(Param::text(key).required().values(values).desc(what).src("required"));
  };
  list("workloads", "a mapping", "workloads: name -> {weights: synthetic or a .npy folder}");
  p.push_back(Param::integer("seed", 0, int64_t{1} << 62)
                  .default_val(1)
                  .desc("seed of the synthetic weights")
                  .src("as an experiment's seed"));
  p.push_back(Param::choice("convention", {"framework", "vwsdk"})
                  .default_val("framework")
                  .desc("output-size convention of the mappers (REFERENCE §1)")
                  .src("as an experiment's convention"));
  list("arrays", "a list of sizes", "square paper-level arrays, one weight per column");
  list("dense", "a list of mappers", "dense variants: im2col, sdk, vwsdk");
  p.push_back(Param::choice("base_mapper", mapper_names())
                  .default_val("sdk")
                  .desc("window search of R, of the dense baseline and of pruning")
                  .src("Jeon et al. (DATE 2025): R mapped with SDK"));
  list("lowrank.ranks", "a list of ranks", "low-rank variants");
  list("group_lowrank.ranks", "a list of ranks", "group low-rank variants: rank per group");
  list("group_lowrank.groups", "a list of counts", "group low-rank variants: groups");
  list("group_lowrank.axes", "a list of in, out", "group low-rank variants: group axes");
  list("prune.patterns", "a list of pattern sets", "pruning variants");
  p.push_back(Param::text("energy.tech")
                  .required()
                  .values("a configs/tech name or a .yaml path")
                  .desc("technology pricing the energy arrays' events")
                  .src("required"));
  // The energy arrays are the architecture's (its defaults and their sources).
  for (const char* key : {"weight_bits", "cell_bits", "input_bits", "dac_bits", "arrays"})
    p.push_back(arch.at(key).renamed(std::string("energy.") + key));
  list("pin", "a list of variant labels", "variants pinned by --pin / --check");
  return t;
}

Param Param::integer(std::string key, int64_t lo, int64_t hi) {
  Param p = make_param(std::move(key), ParamType::Integer);
  p.lo = lo;
  p.hi = hi;
  return p;
}

Param Param::real(std::string key, double lo, double hi) {
  Param p = make_param(std::move(key), ParamType::Real);
  p.real_lo = lo;
  p.real_hi = hi;
  return p;
}

Param Param::boolean(std::string key) {
  return make_param(std::move(key), ParamType::Bool);
}

Param Param::choice(std::string key, std::vector<std::string> choices) {
  Param p = make_param(std::move(key), ParamType::Choice);
  p.choices = std::move(choices);
  return p;
}

Param Param::text(std::string key) {
  return make_param(std::move(key), ParamType::String);
}

Param& Param::default_val(int64_t v) {
  presence = Presence::Default;
  default_text = std::to_string(v);
  return *this;
}

Param& Param::default_val(double v) {
  presence = Presence::Default;
  default_text = fmt::format("{}", v);
  return *this;
}

Param& Param::default_val(bool v) {
  presence = Presence::Default;
  default_text = v ? "true" : "false";
  return *this;
}

Param& Param::default_val(const std::string& v) {
  presence = Presence::Default;
  default_text = v;
  return *this;
}

Param& Param::required() {
  presence = Presence::Required;
  default_text.clear();
  return *this;
}

Param& Param::optional(const std::string& meaning) {
  presence = Presence::Optional;
  default_text = meaning;
  return *this;
}

Param& Param::units(std::string u) {
  unit = std::move(u);
  return *this;
}

Param& Param::desc(std::string d) {
  description = std::move(d);
  return *this;
}

Param& Param::src(std::string s) {
  source = std::move(s);
  return *this;
}

Param& Param::values(std::string v) {
  values_text = std::move(v);
  return *this;
}

Param Param::renamed(std::string new_key) const {
  Param p = *this;
  p.key = std::move(new_key);
  return p;
}

std::string Param::leaf() const {
  const size_t dot = key.rfind('.');
  return dot == std::string::npos ? key : key.substr(dot + 1);
}

std::string Param::range_text() const {
  if (!values_text.empty()) return values_text;
  switch (type) {
    case ParamType::Integer: return fmt::format("{}..{}", lo, hi);
    case ParamType::Real: return param_real_text(real_lo) + ".." + param_real_text(real_hi);
    case ParamType::Bool: return "true or false";
    case ParamType::Choice: return join_choices(choices);
    case ParamType::String: break;
  }
  return "text";
}

std::string Param::default_column() const {
  switch (presence) {
    case Presence::Default: return default_text;
    case Presence::Required: break;
    case Presence::Optional: return "(" + default_text + ")";
  }
  return "(required)";
}

int64_t Param::default_int() const {
  size_t used = 0;
  int64_t v = 0;
  try {
    v = std::stoll(default_text, &used);
  } catch (const std::exception&) {
    bad_param_default(*this, "an integer");
  }
  if (!has_default() || used != default_text.size()) bad_param_default(*this, "an integer");
  return v;
}

double Param::default_real() const {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(default_text, &used);
  } catch (const std::exception&) {
    bad_param_default(*this, "a number");
  }
  if (!has_default() || used != default_text.size()) bad_param_default(*this, "a number");
  return v;
}

bool Param::default_bool() const {
  if (has_default() && default_text == "true") return true;
  if (has_default() && default_text == "false") return false;
  bad_param_default(*this, "true or false");
}

const Param& ParamTable::at(const std::string& key) const {
  for (const auto& p : params)
    if (p.key == key) return p;
  throw std::out_of_range("no parameter " + section + "." + key);
}

bool ParamTable::contains(const std::string& key) const {
  return std::any_of(params.begin(), params.end(), [&](const Param& p) { return p.key == key; });
}

std::vector<std::string> ParamTable::keys(const std::string& prefix) const {
  std::vector<std::string> out;
  const std::string head = prefix.empty() ? "" : prefix + ".";
  for (const auto& p : params) {
    if (p.key.compare(0, head.size(), head) != 0) continue;
    const std::string rest = p.key.substr(head.size());
    if (rest.find('.') == std::string::npos) out.push_back(rest);
  }
  return out;
}

const std::vector<ParamTable>& param_tables() {
  static const std::vector<ParamTable> tables = [] {
    const ParamTable arch = arch_param_table();
    return std::vector<ParamTable>{compression_param_table(), arch,
                                   timing_param_table(),      engine_param_table(),
                                   limits_param_table(),      study_param_table(arch)};
  }();
  return tables;
}

const ParamTable& param_table(const std::string& section) {
  for (const auto& t : param_tables())
    if (t.section == section) return t;
  throw std::out_of_range("no parameter section " + section);
}

std::vector<std::string> param_sections() {
  std::vector<std::string> out;
  for (const auto& t : param_tables()) out.push_back(t.section);
  return out;
}

int64_t param_int(const YamlNode& map, const Param& p) {
  const auto v = param_value_of(map, p);
  return v ? v->as_int(p.lo, p.hi) : p.default_int();
}

double param_real(const YamlNode& map, const Param& p) {
  const auto v = param_value_of(map, p);
  return v ? v->as_number(p.real_lo, p.real_hi) : p.default_real();
}

bool param_bool(const YamlNode& map, const Param& p) {
  const auto v = param_value_of(map, p);
  return v ? v->as_bool() : p.default_bool();
}

std::string param_choice(const YamlNode& map, const Param& p) {
  const auto v = param_value_of(map, p);
  return v ? v->as_choice(p.choices) : p.default_text;
}

std::string param_text(const YamlNode& map, const Param& p) {
  const auto v = param_value_of(map, p);
  return v ? v->as_string() : p.default_text;
}

int64_t param_int(const YamlNode& map, const ParamTable& t, const std::string& key) {
  return param_int(map, t.at(key));
}
double param_real(const YamlNode& map, const ParamTable& t, const std::string& key) {
  return param_real(map, t.at(key));
}
bool param_bool(const YamlNode& map, const ParamTable& t, const std::string& key) {
  return param_bool(map, t.at(key));
}
std::string param_choice(const YamlNode& map, const ParamTable& t, const std::string& key) {
  return param_choice(map, t.at(key));
}
std::string param_text(const YamlNode& map, const ParamTable& t, const std::string& key) {
  return param_text(map, t.at(key));
}

std::string param_table_text(const ParamTable& t) {
  // Column widths: at least those of the architecture table as it always printed (16, 22,
  // 10), wider where a section's keys, ranges or defaults are.
  size_t key_w = 16, range_w = 22, default_w = 10;
  for (const auto& p : t.params) {
    key_w = std::max(key_w, p.key.size() + 1);
    range_w = std::max(range_w, p.range_text().size());
    default_w = std::max(default_w, p.default_column().size());
  }
  std::string out = t.title + "\n";
  for (const auto& p : t.params) {
    out += fmt::format("  {:<{}} {:<{}} default {:<{}} {} [{}]\n", p.key, key_w, p.range_text(),
                       range_w, p.default_column(), default_w, p.description, p.source);
  }
  return out;
}

}  // namespace imcsim
