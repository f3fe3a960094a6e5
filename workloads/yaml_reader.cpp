#include "workloads/yaml_reader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <set>
#include <sstream>

#include "workloads/input_file.hpp"

namespace imcsim {

namespace {

// yaml-cpp tags quoted scalars "!" and plain scalars "?": a quoted "8" is text, not a number.
// Any explicit tag ("!!str 128", "!foo 1") counts as quoted: only a plain scalar is a number
// or a boolean, so `rows: !!str 128` is refused exactly as `rows: "128"` is.
// (Nodes built in code rather than parsed have an empty tag: plain.)
bool is_quoted(const YAML::Node& n) {
  return !n.Tag().empty() && n.Tag() != "?";
}
// Plain, or explicitly tagged with one of `tags` (core schema: `!!int 8` is an integer).
bool plain_or(const YAML::Node& n, std::initializer_list<const char*> tags) {
  if (!is_quoted(n)) return true;
  for (const char* t : tags)
    if (n.Tag() == std::string("tag:yaml.org,2002:") + t) return true;
  return false;
}

// Tags of YAML's core schema (YAML 1.2 §10.3); yaml-cpp leaves "?" on untagged nodes and "!"
// on quoted scalars.
bool core_tag(const std::string& tag) {
  static const std::set<std::string> core = {"",
                                             "?",
                                             "!",
                                             "tag:yaml.org,2002:str",
                                             "tag:yaml.org,2002:int",
                                             "tag:yaml.org,2002:float",
                                             "tag:yaml.org,2002:bool",
                                             "tag:yaml.org,2002:null",
                                             "tag:yaml.org,2002:map",
                                             "tag:yaml.org,2002:seq"};
  return core.count(tag) > 0;
}

// The first node (depth first) with a tag outside the core schema: `!python/object`, `!foo`.
// Iterative, so a deeply nested document cannot exhaust the stack.
std::optional<YAML::Node> first_foreign_tag(const YAML::Node& root) {
  std::vector<YAML::Node> stack{root};
  while (!stack.empty()) {
    const YAML::Node n = stack.back();
    stack.pop_back();
    if (!n.IsDefined()) continue;
    if (!core_tag(n.Tag())) return n;
    if (n.IsMap()) {
      for (auto it = n.begin(); it != n.end(); ++it) {
        stack.push_back(it->first);
        stack.push_back(it->second);
      }
    } else if (n.IsSequence()) {
      for (size_t i = 0; i < n.size(); ++i) stack.push_back(n[i]);
    }
  }
  return std::nullopt;
}

}  // namespace

std::string join_choices(const std::vector<std::string>& choices) {
  std::string out;
  for (size_t i = 0; i < choices.size(); ++i) {
    if (i > 0) out += (i + 1 == choices.size()) ? " or " : ", ";
    out += choices[i];
  }
  return out;
}

YamlNode::YamlNode(const YAML::Node& node, std::string file, std::string path, ErrorKind kind,
                   int fallback_line)
    : node_(node),
      file_(std::move(file)),
      path_(std::move(path)),
      kind_(kind),
      fallback_line_(fallback_line) {}

YamlNode YamlNode::load_file(const std::string& file, ErrorKind kind) {
  return load_string(read_input_file(file, InputKind::Yaml, kind), file, kind);
}

namespace {

// Line (1-based) where a second YAML document starts, 0 if there is none. Document markers
// ("---", "...") stand at column 0 (YAML 1.2 §9.1); the first document may open with "---".
// A text scan instead of YAML::LoadAll, which loops without end on some malformed input
// (tests/fuzz/findings).
int second_document_line(const std::string& text) {
  bool content = false, ended = false;
  int line = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t end = std::min(text.find('\n', pos), text.size());
    const std::string l = text.substr(pos, end - pos);
    ++line;
    const bool marker = (l.rfind("---", 0) == 0 || l.rfind("...", 0) == 0) &&
                        (l.size() == 3 || l[3] == ' ' || l[3] == '\t' || l[3] == '\r');
    const size_t first = l.find_first_not_of(" \t\r");
    const bool blank = first == std::string::npos || l[first] == '#';
    if (marker) {
      if (content) ended = true;
      if (content && l.rfind("---", 0) == 0) {
        // "--- value" on the marker line is content of the new document.
        const size_t rest = l.find_first_not_of(" \t\r", 3);
        if (rest != std::string::npos && l[rest] != '#') return line;
      }
    } else if (!blank && l[0] != '%') {
      if (ended) return line;
      content = true;
    }
    pos = end + 1;
  }
  return 0;
}

}  // namespace

YamlNode YamlNode::load_string(const std::string& text, const std::string& file, ErrorKind kind) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw_error(kind, file, e.mark.is_null() ? 0 : e.mark.line + 1, "",
                "YAML syntax error: " + e.msg);
  }
  // A second document would otherwise be ignored without a word.
  if (const int line = second_document_line(text)) {
    throw_error(kind, file, line, "",
                "a second YAML document ('---'): an imcsim file holds one document");
  }
  if (const auto n = first_foreign_tag(root)) {
    const YAML::Mark m = n->Mark();
    throw_error(kind, file, m.is_null() ? 0 : m.line + 1, "",
                fmt::format("YAML tag {} is not supported (only the core schema: plain, quoted, "
                            "!!str, !!int, !!float, !!bool, !!null, !!map, !!seq)",
                            excerpt(n->Tag(), 40)));
  }
  return YamlNode(root, file, "", kind, 1);
}

int YamlNode::line() const {
  if (node_.IsDefined()) {
    const YAML::Mark m = node_.Mark();
    if (!m.is_null() && m.line >= 0) return m.line + 1;
  }
  return fallback_line_;
}

void YamlNode::fail(const std::string& message) const {
  throw_error(kind_, file_, line(), path_, message);
}

std::string YamlNode::describe() const {
  if (is_null()) return "nothing";
  if (node_.IsMap()) return "a mapping";
  if (node_.IsSequence()) return "a list";
  // A whole document that is one scalar is a file of another kind (a password file, a
  // binary): none of it is quoted. Other scalars are quoted bounded and escaped.
  if (path_.empty())
    return fmt::format("text of {} characters (not an imcsim YAML file?)", node_.Scalar().size());
  return excerpt(node_.Scalar());
}

void YamlNode::fail_expected(const std::string& what) const {
  fail("expected " + what + ", got " + describe());
}

int64_t YamlNode::as_int(int64_t lo, int64_t hi) const {
  const std::string what = "an integer in " + std::to_string(lo) + ".." + std::to_string(hi);
  if (!node_.IsScalar() || !plain_or(node_, {"int"})) fail_expected(what);
  const std::string& s = node_.Scalar();
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || end != s.c_str() + s.size() || errno == ERANGE) fail_expected(what);
  if (v < lo || v > hi) fail_expected(what);
  return v;
}

double YamlNode::as_number(double lo, double hi) const {
  std::ostringstream w;
  w << "a number in [" << lo << ", " << hi << "]";
  if (!node_.IsScalar() || !plain_or(node_, {"int", "float"})) fail_expected(w.str());
  const std::string& s = node_.Scalar();
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || errno == ERANGE || !std::isfinite(v))
    fail_expected(w.str());
  if (v < lo || v > hi) fail_expected(w.str());
  return v;
}

std::string YamlNode::as_string() const {
  if (!node_.IsScalar()) fail_expected("a string");
  return node_.Scalar();
}

std::string YamlNode::as_choice(const std::vector<std::string>& choices) const {
  const std::string what = "one of " + join_choices(choices);
  if (!node_.IsScalar()) fail_expected(what);
  for (const auto& c : choices)
    if (node_.Scalar() == c) return c;
  fail_expected(what);
}

bool YamlNode::as_bool() const {
  if (node_.IsScalar() && plain_or(node_, {"bool"})) {
    if (node_.Scalar() == "true") return true;
    if (node_.Scalar() == "false") return false;
  }
  fail_expected("true or false");
}

void YamlNode::expect_map() const {
  if (!node_.IsMap()) fail_expected("a mapping of keys to values");
}

void YamlNode::expect_seq() const {
  if (!node_.IsSequence()) fail_expected("a list");
}

std::string YamlNode::child_path(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

bool YamlNode::has(const std::string& key) const {
  return node_.IsMap() && node_[key].IsDefined();
}

std::optional<YamlNode> YamlNode::find(const std::string& key) const {
  expect_map();
  const YAML::Node c = node_[key];
  if (!c.IsDefined()) return std::nullopt;
  return YamlNode(c, file_, child_path(key), kind_, line());
}

YamlNode YamlNode::child(const std::string& key) const {
  auto c = find(key);
  if (!c) throw_error(kind_, file_, line(), child_path(key), "missing required key");
  return *c;
}

std::vector<std::pair<std::string, YamlNode>> YamlNode::entries() const {
  expect_map();
  std::vector<std::pair<std::string, YamlNode>> out;
  std::set<std::string> seen;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    // A copy: it->first lives in a proxy destroyed at the end of this statement (ASan found
    // the reference dangling).
    const YAML::Node k = it->first;
    YamlNode key_node(k, file_, path_, kind_, line());
    if (!k.IsScalar()) key_node.fail_expected("a plain key");
    const std::string& key = k.Scalar();
    if (!seen.insert(key).second) {
      YamlNode(k, file_, child_path(key), kind_, line()).fail("duplicate key");
    }
    const int key_line = key_node.line();
    out.emplace_back(key, YamlNode(it->second, file_, child_path(key), kind_, key_line));
  }
  return out;
}

void YamlNode::allow_only(const std::vector<std::string>& allowed) const {
  for (const auto& [key, value] : entries()) {
    bool ok = false;
    for (const auto& a : allowed) ok = ok || (a == key);
    if (!ok) {
      const YAML::Mark m = value.raw().Mark();
      const int l = m.is_null() ? value.line() : m.line + 1;
      throw_error(kind_, file_, l, child_path(key),
                  "unknown key (expected one of: " + join_choices(allowed) + ")");
    }
  }
}

std::vector<YamlNode> YamlNode::items() const {
  expect_seq();
  std::vector<YamlNode> out;
  out.reserve(node_.size());
  for (size_t i = 0; i < node_.size(); ++i) {
    out.emplace_back(node_[i], file_, path_ + "[" + std::to_string(i) + "]", kind_, line());
  }
  return out;
}

int64_t YamlNode::get_int(const std::string& key, int64_t lo, int64_t hi, int64_t def) const {
  auto c = find(key);
  return c ? c->as_int(lo, hi) : def;
}

double YamlNode::get_number(const std::string& key, double lo, double hi, double def) const {
  auto c = find(key);
  return c ? c->as_number(lo, hi) : def;
}

std::string YamlNode::get_string(const std::string& key, const std::string& def) const {
  auto c = find(key);
  return c ? c->as_string() : def;
}

std::string YamlNode::get_choice(const std::string& key, const std::vector<std::string>& choices,
                                 const std::string& def) const {
  auto c = find(key);
  return c ? c->as_choice(choices) : def;
}

bool YamlNode::get_bool(const std::string& key, bool def) const {
  auto c = find(key);
  return c ? c->as_bool() : def;
}

}  // namespace imcsim
