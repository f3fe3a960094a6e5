#include "sim/sweep/sweep.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <unordered_map>

#include "workloads/hash.hpp"
#include "workloads/input_file.hpp"

namespace fs = std::filesystem;

namespace imcsim {

namespace {

constexpr size_t kMaxRangeValues = 100000;

bool is_quoted(const YAML::Node& n) {
  return !n.Tag().empty() && n.Tag() != "?";
}

// Canonical text of a value: a scalar as written, anything else in YAML flow form.
std::string value_label(const YamlNode& v) {
  if (v.is_null()) v.fail_expected("a value");
  if (v.is_scalar()) return v.raw().Scalar();
  YAML::Emitter out;
  out << YAML::Flow << v.raw();
  return out.c_str();
}

std::optional<int64_t> plain_int(const YAML::Node& n) {
  if (!n.IsScalar() || is_quoted(n)) return std::nullopt;
  const std::string& s = n.Scalar();
  int64_t v = 0;
  const char* end = s.data() + s.size();
  const char* begin = s.data() + (!s.empty() && s[0] == '+' ? 1 : 0);
  auto [p, ec] = std::from_chars(begin, end, v);
  if (ec != std::errc() || p != end || begin == end) return std::nullopt;
  return v;
}

std::optional<double> plain_number(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

// Labels of a range {from, to, step}: integers when all three are integers.
std::vector<std::string> range_labels(const YamlNode& r) {
  r.allow_only({"from", "to", "step"});
  const YamlNode from = r.child("from");
  const YamlNode to = r.child("to");
  const auto step_node = r.find("step");
  const auto fi = plain_int(from.raw());
  const auto ti = plain_int(to.raw());
  const auto si = step_node ? plain_int(step_node->raw()) : std::optional<int64_t>(1);
  std::vector<std::string> labels;
  auto too_many = [&] {
    r.fail(fmt::format("expected a range of at most {} values", kMaxRangeValues));
  };
  if (fi && ti && si) {
    const int64_t f = *fi, t = *ti, s = *si;
    if (s == 0) step_node->fail_expected("a nonzero step");
    if ((s > 0 && f > t) || (s < 0 && f < t))
      to.fail(fmt::format("empty range: from {} to {} with step {}", f, t, s));
    const uint64_t span = s > 0 ? static_cast<uint64_t>(t) - static_cast<uint64_t>(f)
                                : static_cast<uint64_t>(f) - static_cast<uint64_t>(t);
    const uint64_t count = span / static_cast<uint64_t>(s > 0 ? s : -s) + 1;
    if (count > kMaxRangeValues) too_many();
    for (uint64_t i = 0; i < count; ++i)
      labels.push_back(std::to_string(f + static_cast<int64_t>(i) * s));
    return labels;
  }
  const double f = from.as_number(-1e300, 1e300);
  const double t = to.as_number(-1e300, 1e300);
  const double s = step_node ? step_node->as_number(-1e300, 1e300) : 1.0;
  if (s == 0) step_node->fail_expected("a nonzero step");
  if ((s > 0 && f > t) || (s < 0 && f < t))
    to.fail(fmt::format("empty range: from {} to {} with step {}", f, t, s));
  // Values are from + i*step (no accumulated rounding); `to` is included within 1e-9 steps.
  const double n = std::floor((t - f) / s + 1e-9) + 1;
  if (n > static_cast<double>(kMaxRangeValues)) too_many();
  for (int64_t i = 0; i < static_cast<int64_t>(n); ++i) {
    const double v = f + static_cast<double>(i) * s;
    labels.push_back(fmt::format("{}", v == 0 ? 0.0 : v));
  }
  return labels;
}

bool labels_equal(const std::string& a, const std::string& b) {
  if (a == b) return true;
  const auto x = plain_number(a), y = plain_number(b);
  return x && y && *x == *y;
}

void check_axis_key(const YamlNode& value, const std::string& key) {
  bool ok = !key.empty() && key.front() != '.' && key.back() != '.' &&
            key.find("..") == std::string::npos;
  for (char c : key)
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-');
  if (!ok) value.fail("expected an axis key: a dotted path into the experiment (e.g. arch.rows)");
  if (key == "sweep" || key.rfind("sweep.", 0) == 0)
    value.fail("the sweep section cannot be swept");
  if (key == "limits" || key.rfind("limits.", 0) == 0)
    value.fail(
        "the limits section cannot be swept: a limit changes nothing a point computes, "
        "only whether it is refused (set it once under limits:, or with its flag)");
  // Every point of a sweep is written to the sweep's own folder: these keys change nothing
  // a point computes, so an axis over them only repeats the same point.
  if (key == "output_dir" || key == "description")
    value.fail(
        fmt::format("an axis over {} changes nothing a point computes (points are written "
                    "to the sweep folder; use -o to choose it)",
                    key));
}

std::string read_text(const std::string& file) {
  return read_input_file(file, InputKind::Yaml, ErrorKind::Config);
}

std::vector<std::string> split_key(const std::string& key) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t dot; (dot = key.find('.', start)) != std::string::npos; start = dot + 1)
    out.push_back(key.substr(start, dot - start));
  out.push_back(key.substr(start));
  return out;
}

// `arch: file.yaml` becomes an inline mapping when a sweep sets a key inside it. The copied
// nodes carry no marks, so an error in them names the line of `arch:` in the experiment.
YAML::Node inline_arch_file(const YamlNode& arch_ref, const std::string& experiment_file) {
  fs::path path(arch_ref.as_string());
  if (!path.is_absolute())
    path = (fs::path(experiment_file).parent_path() / path).lexically_normal();
  if (!fs::exists(path))
    arch_ref.fail(fmt::format("architecture file \"{}\" does not exist", path.string()));
  const YamlNode file = YamlNode::load_file(path.string(), ErrorKind::Config);
  const auto arch = file.is_map() ? file.find("arch") : std::nullopt;
  if (!arch || !arch->is_map())
    arch_ref.fail(fmt::format("architecture file \"{}\" has no `arch:` mapping", path.string()));
  YAML::Node out(YAML::NodeType::Map);
  for (const auto& [key, value] : arch->entries()) {
    if (value.is_scalar()) {
      YAML::Node copy(value.raw().Scalar());
      copy.SetTag(value.raw().Tag());
      out[key] = copy;
    } else {
      out[key] = YAML::Clone(value.raw());
    }
  }
  return out;
}

// The sweep's mode. The experiment's own mode decides the default: cycle points need one
// process each.
SweepMode parse_mode(const YamlNode& root, const YamlNode& section) {
  const auto exp_mode = root.find("mode");
  const bool exp_cycle = exp_mode && exp_mode->is_scalar() && exp_mode->raw().Scalar() == "cycle";
  const SweepMode mode =
      section.get_choice("mode", {"analytic", "cycle"}, exp_cycle ? "cycle" : "analytic") == "cycle"
          ? SweepMode::Cycle
          : SweepMode::Analytic;
  if (exp_cycle && mode == SweepMode::Analytic)
    section.child("mode").fail("cycle experiments run one process per point: expected cycle");
  return mode;
}

// Axes, in file order.
std::vector<SweepAxis> parse_axes(const YamlNode& axes_node) {
  std::vector<SweepAxis> axes;
  const auto entries = axes_node.entries();
  if (entries.empty()) axes_node.fail_expected("at least one axis");
  for (const auto& [key, value] : entries) {
    check_axis_key(value, key);
    for (const auto& other : axes) {
      const auto& a = key.size() < other.key.size() ? key : other.key;
      const auto& b = key.size() < other.key.size() ? other.key : key;
      if (a == b || b.rfind(a + ".", 0) == 0)
        value.fail(fmt::format("overlaps axis {} (line {})", other.key, other.line));
    }
    SweepAxis axis;
    axis.key = key;
    axis.line = value.line();
    if (value.is_seq()) {
      const auto items = value.items();
      if (items.empty())
        value.fail_expected("a non-empty list of values or a range {from, to, step}");
      for (const auto& item : items) axis.labels.push_back(value_label(item));
    } else if (value.is_map()) {
      axis.is_range = true;
      axis.labels = range_labels(value);
    } else {
      value.fail_expected("a list of values or a range {from, to, step}");
    }
    axes.push_back(std::move(axis));
  }
  return axes;
}

size_t axis_index(const std::vector<SweepAxis>& axes, const YamlNode& key_node) {
  const std::string key = key_node.as_string();
  for (size_t i = 0; i < axes.size(); ++i)
    if (axes[i].key == key) return i;
  std::string names;
  for (const auto& a : axes) names += (names.empty() ? "" : ", ") + a.key;
  key_node.fail(fmt::format("\"{}\" is not an axis (axes: {})", key, names));
}

struct ZipGroups {
  std::vector<int> group_of;                // group per axis, -1 = free axis
  std::vector<std::vector<size_t>> groups;  // axes of each group, in the order listed
};

// Zip groups: the group takes the place of its first axis in the product.
ZipGroups parse_zip(const YamlNode& section, const std::vector<SweepAxis>& axes) {
  ZipGroups z;
  z.group_of.assign(axes.size(), -1);
  if (const auto zip = section.find("zip")) {
    zip->expect_seq();
    for (const auto& g : zip->items()) {
      g.expect_seq();
      const auto keys = g.items();
      if (keys.size() < 2) g.fail_expected("a list of at least two axes that move together");
      std::vector<size_t> members;
      for (const auto& k : keys) {
        const size_t a = axis_index(axes, k);
        if (z.group_of[a] >= 0) k.fail(fmt::format("axis {} is already zipped", axes[a].key));
        if (axes[a].labels.size() != axes[members.empty() ? a : members[0]].labels.size())
          k.fail(fmt::format("axis {} has {} values but {} has {}: zipped axes need as many values",
                             axes[a].key, axes[a].labels.size(), axes[members[0]].key,
                             axes[members[0]].labels.size()));
        z.group_of[a] = static_cast<int>(z.groups.size());
        members.push_back(a);
      }
      z.groups.push_back(std::move(members));
    }
  }
  return z;
}

// A value listed twice on a free axis would give two identical points.
void reject_repeated_values(const YamlNode& axes_node, const std::vector<SweepAxis>& axes,
                            const std::vector<int>& group_of) {
  for (size_t a = 0; a < axes.size(); ++a) {
    if (group_of[a] >= 0) continue;
    std::set<std::string> seen;
    const auto node = axes_node.child(axes[a].key);
    for (size_t i = 0; i < axes[a].labels.size(); ++i) {
      if (!seen.insert(axes[a].labels[i]).second) {
        const YamlNode at = node.is_seq() ? node.items()[i] : node;
        at.fail(fmt::format("value {} listed twice", axes[a].labels[i]));
      }
    }
  }
}

// An exclude rule: (axis, excluded value indices) for each of its keys.
using ExcludeRule = std::vector<std::pair<size_t, std::set<size_t>>>;

// Exclude rules: axis -> value or list of values; all of a rule's keys must match.
std::vector<ExcludeRule> parse_exclude(const std::optional<YamlNode>& exclude,
                                       const std::vector<SweepAxis>& axes) {
  std::vector<ExcludeRule> rules;
  if (exclude) {
    exclude->expect_seq();
    for (const auto& rule_node : exclude->items()) {
      rule_node.expect_map();
      const auto conds = rule_node.entries();
      if (conds.empty()) rule_node.fail_expected("a mapping of axis keys to excluded values");
      ExcludeRule rule;
      for (const auto& [key, value] : conds) {
        size_t a = axes.size();
        for (size_t i = 0; i < axes.size(); ++i)
          if (axes[i].key == key) a = i;
        if (a == axes.size()) value.fail("not an axis of this sweep");
        std::set<size_t> values;
        const auto items = value.is_seq() ? value.items() : std::vector<YamlNode>{value};
        if (items.empty()) value.fail_expected("a value or a list of values");
        for (const auto& item : items) {
          const std::string label = value_label(item);
          const auto& labels = axes[a].labels;
          size_t found = labels.size();
          for (size_t i = 0; i < labels.size(); ++i)
            if (labels_equal(labels[i], label)) found = i;
          if (found == labels.size())
            item.fail(fmt::format("{} is not a value of axis {}", label, key));
          values.insert(found);
        }
        rule.emplace_back(a, std::move(values));
      }
      rules.push_back(std::move(rule));
    }
  }
  return rules;
}

// Units of the product: free axes and zip groups, in the order of their first axis.
std::vector<std::vector<size_t>> product_units(const ZipGroups& z, size_t axis_count) {
  std::vector<std::vector<size_t>> units;
  std::vector<bool> placed(z.groups.size(), false);
  for (size_t a = 0; a < axis_count; ++a) {
    if (z.group_of[a] < 0) {
      units.push_back({a});
    } else if (!placed[static_cast<size_t>(z.group_of[a])]) {
      placed[static_cast<size_t>(z.group_of[a])] = true;
      units.push_back(z.groups[static_cast<size_t>(z.group_of[a])]);
    }
  }
  return units;
}

// Points of the product (excluded ones included); refused above max_points.
size_t product_size(const std::vector<std::vector<size_t>>& units,
                    const std::vector<SweepAxis>& axes, const YamlNode& axes_node,
                    size_t max_points) {
  size_t total = 1;
  for (const auto& u : units) {
    const size_t n = axes[u[0]].labels.size();
    if (total > max_points / n)
      axes_node.fail(fmt::format("the sweep has more than {} points", max_points));
    total *= n;
  }
  return total;
}

bool is_excluded(const std::vector<ExcludeRule>& rules, const std::vector<size_t>& choice) {
  bool excluded = false;
  for (const auto& rule : rules) {
    bool all = true;
    for (const auto& [a, values] : rule) all = all && values.count(choice[a]) > 0;
    excluded = excluded || all;
  }
  return excluded;
}

// The points no rule excludes, in product order (last unit fastest), with their ids; two
// points with the same values (a zip group listing the same values twice) are refused.
std::vector<SweepPoint> enumerate_points(const std::vector<SweepAxis>& axes,
                                         const std::vector<std::vector<size_t>>& units,
                                         size_t total, const std::vector<ExcludeRule>& rules,
                                         const YamlNode& axes_node) {
  // Sorted keys, so that the id does not depend on the order the axes are written in.
  std::vector<size_t> by_key(axes.size());
  for (size_t i = 0; i < by_key.size(); ++i) by_key[i] = i;
  std::sort(by_key.begin(), by_key.end(),
            [&](size_t x, size_t y) { return axes[x].key < axes[y].key; });

  std::vector<SweepPoint> points;
  std::unordered_map<std::string, size_t> ids;
  std::vector<size_t> digit(units.size(), 0);  // odometer, last unit fastest
  for (size_t n = 0; n < total; ++n) {
    SweepPoint p;
    p.choice.assign(axes.size(), 0);
    for (size_t u = 0; u < units.size(); ++u)
      for (size_t a : units[u]) p.choice[a] = digit[u];
    for (size_t u = units.size(); u-- > 0;) {
      if (++digit[u] < axes[units[u][0]].labels.size()) break;
      digit[u] = 0;
    }
    if (is_excluded(rules, p.choice)) continue;
    std::string canonical;
    for (size_t a = 0; a < axes.size(); ++a) p.labels.push_back(axes[a].labels[p.choice[a]]);
    for (size_t a : by_key) canonical += axes[a].key + "=" + p.labels[a] + "\n";
    p.id = hash_hex(canonical);
    p.index = points.size();
    if (const auto it = ids.find(p.id); it != ids.end())
      axes_node.fail(fmt::format("points {} and {} have the same values ({})", it->second, p.index,
                                 canonical.substr(0, canonical.size() - 1)));
    ids.emplace(p.id, p.index);
    points.push_back(std::move(p));
  }
  return points;
}

}  // namespace

std::string to_string(SweepMode mode) {
  return mode == SweepMode::Cycle ? "cycle" : "analytic";
}

std::string hash_hex(const std::string& text) {
  return fmt::format("{:016x}", fnv1a(text));
}

Sweep load_sweep(const std::string& file) {
  return parse_sweep(read_text(file), file);
}

Sweep parse_sweep(const std::string& text, const std::string& file, size_t max_points) {
  const YamlNode root = YamlNode::load_string(text, file, ErrorKind::Config);
  if (root.is_null())
    root.fail("empty experiment file (expected keys workload, arch, mappers, sweep)");
  root.expect_map();
  Sweep sw;
  sw.file = file;
  sw.text = text;
  sw.name = root.get_string("name", fs::path(file).stem().string());
  sw.output_dir = root.get_string("output_dir", "out");
  sw.limits = parse_limits(root);

  const auto section = root.find("sweep");
  if (!section)
    root.fail("no `sweep:` section (expected sweep.axes; `imcsim run` runs a single experiment)");
  section->expect_map();
  section->allow_only({"mode", "axes", "zip", "exclude"});
  sw.mode = parse_mode(root, *section);

  const YamlNode axes = section->child("axes");
  axes.expect_map();
  sw.axes = parse_axes(axes);
  const ZipGroups zip = parse_zip(*section, sw.axes);
  reject_repeated_values(axes, sw.axes, zip.group_of);
  const auto exclude = section->find("exclude");
  const std::vector<ExcludeRule> rules = parse_exclude(exclude, sw.axes);

  const std::vector<std::vector<size_t>> units = product_units(zip, sw.axes.size());
  const size_t total = product_size(units, sw.axes, axes, max_points);
  sw.points = enumerate_points(sw.axes, units, total, rules, axes);
  if (sw.points.empty())
    (exclude ? *exclude : axes).fail("every point is excluded: the sweep has no points");

  std::string all_ids;
  for (const auto& p : sw.points) all_ids += p.id + "\n";
  sw.fingerprint = hash_hex(text + "\n" + all_ids);
  return sw;
}

YamlNode point_tree(const Sweep& sw, const SweepPoint& point) {
  // A fresh parse per point: every value node keeps the mark of its line in the file.
  const YamlNode root = YamlNode::load_string(sw.text, sw.file, ErrorKind::Config);
  YAML::Node tree = root.raw();
  const YAML::Node& const_tree = tree;
  const YAML::Node axes = const_tree["sweep"]["axes"];
  std::vector<YAML::Node> values;
  for (size_t a = 0; a < sw.axes.size(); ++a) {
    const SweepAxis& axis = sw.axes[a];
    const YAML::Node& spec = axes[axis.key];
    if (axis.is_range) {
      // The generated number replaces the text of `from:`, so it keeps that line.
      YAML::Node v = spec["from"];
      v = axis.labels[point.choice[a]];
      values.push_back(v);
    } else {
      values.push_back(spec[point.choice[a]]);
    }
  }
  tree.remove("sweep");

  for (size_t a = 0; a < sw.axes.size(); ++a) {
    const auto segments = split_key(sw.axes[a].key);
    YAML::Node cur;
    cur.reset(tree);
    std::string path;
    for (size_t s = 0; s + 1 < segments.size(); ++s) {
      const std::string& seg = segments[s];
      path += (path.empty() ? "" : ".") + seg;
      const YAML::Node& const_cur = cur;
      YAML::Node next = const_cur[seg];
      if (!next.IsDefined() || next.IsNull()) {
        cur[seg] = YAML::Node(YAML::NodeType::Map);
      } else if (next.IsScalar() && path == "arch") {
        cur[seg] = inline_arch_file(YamlNode(next, sw.file, path, ErrorKind::Config, 1), sw.file);
      } else if (!next.IsMap()) {
        YamlNode(next, sw.file, path, ErrorKind::Config, 1)
            .fail(fmt::format("cannot set {}: {} is not a mapping", sw.axes[a].key, path));
      }
      YAML::Node child = cur[seg];
      cur.reset(child);
    }
    cur[segments.back()] = values[a];
  }
  return YamlNode(tree, sw.file, "", ErrorKind::Config, 1);
}

ExperimentSpec point_spec(const Sweep& sw, const SweepPoint& point) {
  return parse_experiment(point_tree(sw, point));
}

std::vector<SweepPoint> shard_points(const Sweep& sw, int64_t shard_k, int64_t shard_n) {
  std::vector<SweepPoint> out;
  for (const auto& p : sw.points)
    if (static_cast<int64_t>(p.index % static_cast<size_t>(shard_n)) == shard_k) out.push_back(p);
  return out;
}

}  // namespace imcsim
