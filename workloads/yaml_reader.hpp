// Strict, location-aware reading of YAML documents (the "raw parse" layer of
// STYLE.md's two-layer configuration). Every accessor validates type and range
// and, on failure, throws an imcsim::Error naming file, line and dotted key:
//   configs/x.yaml:7: arch.adc_bits: expected an integer in 1..16, got "eight"
// Used by the workload loader and by the experiment/architecture config.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "workloads/error.hpp"

namespace imcsim {

class YamlNode {
 public:
  YamlNode(const YAML::Node& node, std::string file, std::string path, ErrorKind kind,
           int fallback_line);

  // Parses a whole file; a missing/unreadable file or a syntax error is an Error of `kind`.
  static YamlNode load_file(const std::string& file, ErrorKind kind);
  // Parses text that claims to come from `file` (tests, inline snippets).
  static YamlNode load_string(const std::string& text, const std::string& file, ErrorKind kind);

  bool is_map() const { return node_.IsMap(); }
  bool is_seq() const { return node_.IsSequence(); }
  bool is_scalar() const { return node_.IsScalar(); }
  bool is_null() const { return !node_.IsDefined() || node_.IsNull(); }

  int line() const;
  const std::string& file() const { return file_; }
  const std::string& path() const { return path_; }
  ErrorKind kind() const { return kind_; }
  const YAML::Node& raw() const { return node_; }

  // Conversions of this node (a scalar).
  int64_t as_int(int64_t lo, int64_t hi) const;
  double as_number(double lo, double hi) const;
  std::string as_string() const;
  std::string as_choice(const std::vector<std::string>& choices) const;
  bool as_bool() const;

  // Mapping access. `child` requires the key; `find` does not.
  void expect_map() const;
  void expect_seq() const;
  bool has(const std::string& key) const;
  YamlNode child(const std::string& key) const;
  std::optional<YamlNode> find(const std::string& key) const;
  // Rejects keys not in `allowed` (and duplicate keys), naming the offending key's line.
  void allow_only(const std::vector<std::string>& allowed) const;
  // Entries of a mapping in file order, and elements of a sequence.
  std::vector<std::pair<std::string, YamlNode>> entries() const;
  std::vector<YamlNode> items() const;

  // Optional keyed scalars with a default.
  int64_t get_int(const std::string& key, int64_t lo, int64_t hi, int64_t def) const;
  double get_number(const std::string& key, double lo, double hi, double def) const;
  std::string get_string(const std::string& key, const std::string& def) const;
  std::string get_choice(const std::string& key, const std::vector<std::string>& choices,
                         const std::string& def) const;
  bool get_bool(const std::string& key, bool def) const;

  // Throws an Error of this node's kind at this node: "<file>:<line>: <path>: <message>".
  [[noreturn]] void fail(const std::string& message) const;
  // "expected <what>, got <describe()>".
  [[noreturn]] void fail_expected(const std::string& what) const;
  // How the node reads to a user in an error: "eight" (quoted), a mapping, a list, nothing.
  std::string describe() const;

 private:
  std::string child_path(const std::string& key) const;

  YAML::Node node_;
  std::string file_;
  std::string path_;
  ErrorKind kind_;
  int fallback_line_;
};

// Joins choices for error messages: "im2col, sdk or vwsdk".
std::string join_choices(const std::vector<std::string>& choices);

}  // namespace imcsim
