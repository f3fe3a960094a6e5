#include "sim/sweep/sweep_merge.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "sim/report/report.hpp"
#include "workloads/error.hpp"
#include "workloads/input_file.hpp"

namespace fs = std::filesystem;

namespace imcsim {

namespace {

std::string read_json_text(const fs::path& p) {
  return read_input_file(p.string(), InputKind::JsonDoc, ErrorKind::Config);
}

Json read_json(const fs::path& p) {
  try {
    return Json::parse(read_json_text(p));
  } catch (const Json::parse_error& e) {
    // The parser's message quotes the input; only the position is repeated here.
    throw ConfigError(p.string(), 0, "",
                      fmt::format("invalid JSON: syntax error at byte {}", e.byte));
  } catch (const Json::exception& e) {
    throw ConfigError(p.string(), 0, "", std::string("invalid JSON: ") + e.what());
  }
}

std::string csv_cell(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string cell_text(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return v.dump();  // integers as written, doubles in shortest round-trip form
}

// Scalar leaves of an object, "prefix.key" (nested objects flattened with dots).
void flatten(const Json& obj, const std::string& prefix,
             std::vector<std::pair<std::string, Json>>& out) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    const std::string key = prefix.empty() ? it.key() : prefix + "." + it.key();
    if (it.value().is_object()) {
      flatten(it.value(), key, out);
    } else if (!it.value().is_array()) {
      out.emplace_back(key, it.value());
    }
  }
}

// Metrics of one mapper of a point's summary.json: its totals (without the speed-up
// against the point's own first mapper, which means nothing across points), the
// cycle-weighted cell/row/column utilization of its layers, then the workload and
// geometry figures of the point.
std::vector<std::pair<std::string, Json>> mapper_metrics(const Json& summary,
                                                         const std::string& mapper) {
  std::vector<std::pair<std::string, Json>> m;
  std::vector<std::pair<std::string, Json>> totals;
  flatten(summary["totals"][mapper], "", totals);
  for (auto& kv : totals)
    if (kv.first.rfind("speedup_vs_", 0) != 0) m.push_back(std::move(kv));
  if (summary.contains("mappings")) {
    for (const auto& nm : summary["mappings"]) {
      if (nm.value("mapper", "") != mapper) continue;
      for (const char* key : {"utilization", "row_utilization", "col_utilization"}) {
        double weighted = 0, cycles = 0;
        for (const auto& l : nm["layers"]) {
          const double c = l.value("cycles", 0.0);
          weighted += c * l.value(key, 0.0);
          cycles += c;
        }
        m.emplace_back(key, cycles > 0 ? Json(std::stod(fixed(weighted / cycles, 6))) : Json(0.0));
      }
    }
  }
  for (const char* section : {"workload", "geometry", "area_mm2"})
    if (summary.contains(section) && summary[section].is_object())
      flatten(summary[section], section, m);
  return m;
}

// The rows of one point's summary.json: one per mapper. An analytic summary has
// totals.<mapper>; a cycle summary names its one `mapper` and has the metrics under totals.
std::vector<std::pair<std::string, std::vector<std::pair<std::string, Json>>>> summary_rows(
    const Json& summary) {
  std::vector<std::pair<std::string, std::vector<std::pair<std::string, Json>>>> rows;
  if (!summary.contains("totals") || !summary["totals"].is_object()) return rows;
  if (summary.contains("mapper") && summary["mapper"].is_string()) {
    std::vector<std::pair<std::string, Json>> m;
    flatten(summary["totals"], "", m);
    for (const char* section : {"workload", "geometry", "area_mm2"})
      if (summary.contains(section) && summary[section].is_object())
        flatten(summary[section], section, m);
    rows.emplace_back(summary["mapper"].get<std::string>(), std::move(m));
    return rows;
  }
  for (auto it = summary["totals"].begin(); it != summary["totals"].end(); ++it)
    if (it.value().is_object()) rows.emplace_back(it.key(), mapper_metrics(summary, it.key()));
  return rows;
}

struct Row {
  size_t index;
  std::string id;
  std::vector<std::string> values;
  std::string mapper, status, error;
  std::vector<std::pair<std::string, Json>> metrics;
};

using PointRecords = std::map<size_t, std::pair<Json, fs::path>>;  // index -> (record, folder)

struct Manifests {
  Json first;  // the first folder's sweep.json
  PointRecords points;
};

// Manifests: the same sweep in every folder; the union of their points.
Manifests read_manifests(const std::vector<std::string>& dirs) {
  Json first;
  PointRecords points;
  for (const auto& d : dirs) {
    const fs::path manifest = fs::path(d) / "sweep.json";
    if (!fs::exists(manifest))
      throw ConfigError(d, 0, "",
                        "not a sweep folder (no sweep.json; run `imcsim sweep -o` first)");
    const Json m = read_json(manifest);
    if (first.is_null()) {
      first = m;
    } else if (m.value("fingerprint", "") != first.value("fingerprint", "")) {
      throw ConfigError(
          manifest.string(), 0, "",
          fmt::format("belongs to another sweep (fingerprint {}, {} has {})",
                      m.value("fingerprint", ""), dirs.front(), first.value("fingerprint", "")));
    }
    for (const auto& p : m["points"]) {
      const size_t index = p["index"].get<size_t>();
      // A point in several folders: the folder that holds its result wins, else the first.
      const bool have =
          fs::exists(fs::path(d) / "points" / p["id"].get<std::string>() / "point.json");
      const auto it = points.find(index);
      if (it == points.end() || (have && !fs::exists(it->second.second / "points" /
                                                     p["id"].get<std::string>() / "point.json")))
        points[index] = {p, fs::path(d)};
    }
  }
  return {std::move(first), std::move(points)};
}

// Every point of the sweep listed, each with its result.
void check_complete(const PointRecords& points, size_t total, const std::string& first_dir) {
  std::vector<std::string> missing;
  for (const auto& [index, rec] : points)
    if (!fs::exists(rec.second / "points" / rec.first["id"].get<std::string>() / "point.json"))
      missing.push_back(rec.first["id"].get<std::string>());
  if (points.size() != total || !missing.empty()) {
    std::string some;
    for (size_t i = 0; i < missing.size() && i < 5; ++i) some += (i ? ", " : "") + missing[i];
    throw ConfigError(
        first_dir, 0, "",
        fmt::format("incomplete sweep: the folders list {} of its {} points and {} of them have no "
                    "result{}{} (missing shards? rerun with `imcsim sweep --resume`)",
                    points.size(), total, missing.size(), missing.empty() ? "" : ": ", some));
  }
}

struct PointTables {
  MergeSummary summary;  // points and failed
  std::vector<Row> rows;
  std::string layers_header, layers_body;
  Json json_points;
};

// The rows of every point, in point order: its point.json, and for a finished point its
// summary.json and layers.csv.
PointTables read_points(const PointRecords& points, const std::vector<std::string>& axes) {
  MergeSummary summary;
  std::vector<Row> rows;
  std::string layers_header, layers_body;
  Json json_points = Json::array();
  for (const auto& [index, rec] : points) {
    const std::string id = rec.first["id"].get<std::string>();
    const fs::path dir = rec.second / "points" / id;
    const Json point = read_json(dir / "point.json");
    std::vector<std::string> values;
    values.reserve(axes.size());
    for (const auto& a : axes) values.push_back(point["values"].value(a, ""));
    const std::string status = point.value("status", "failed");
    ++summary.points;
    Json jp;
    jp["index"] = index;
    jp["id"] = id;
    jp["values"] = point["values"];
    jp["status"] = status;
    if (status != "ok") {
      ++summary.failed;
      const std::string error = point.value("error", "");
      rows.push_back({index, id, values, "", status, error, {}});
      jp["error"] = error;
      json_points.push_back(std::move(jp));
      continue;
    }
    jp["run_id"] = point.value("run_id", "");
    const Json s = read_json(dir / "summary.json");
    Json results = Json::array();
    for (auto& [mapper, metrics] : summary_rows(s)) {
      Row r{index, id, values, mapper, status, "", std::move(metrics)};
      Json jr;
      jr["mapper"] = r.mapper;
      for (const auto& [k, v] : r.metrics) jr[k] = v;
      results.push_back(std::move(jr));
      rows.push_back(std::move(r));
    }
    jp["results"] = std::move(results);
    json_points.push_back(std::move(jp));

    // layers.csv of the point, prefixed by the point and its values.
    std::istringstream lines(read_json_text(dir / "layers.csv"));
    std::string prefix = csv_cell(id);
    for (const auto& v : values) prefix += "," + csv_cell(v);
    std::string line;
    std::getline(lines, line);
    if (layers_header.empty()) {
      layers_header = "point";
      for (const auto& a : axes) layers_header += "," + csv_cell(a);
      layers_header += "," + line + "\n";
    }
    while (std::getline(lines, line)) layers_body += fmt::format("{},{}\n", prefix, line);
  }
  return {summary, std::move(rows), std::move(layers_header), std::move(layers_body),
          std::move(json_points)};
}

// Metric columns: the union, in the order they first appear.
std::vector<std::string> metric_columns(const std::vector<Row>& rows) {
  std::vector<std::string> columns;
  for (const auto& r : rows)
    for (const auto& [k, v] : r.metrics)
      if (std::find(columns.begin(), columns.end(), k) == columns.end()) columns.push_back(k);
  return columns;
}

std::string results_csv(const std::vector<std::string>& axes,
                        const std::vector<std::string>& columns, const std::vector<Row>& rows) {
  std::string csv = "point";
  for (const auto& a : axes) csv += "," + csv_cell(a);
  csv += ",mapper,status";
  for (const auto& c : columns) csv += "," + csv_cell(c);
  csv += ",error\n";
  for (const auto& r : rows) {
    csv += csv_cell(r.id);
    for (const auto& v : r.values) csv += "," + csv_cell(v);
    csv += "," + csv_cell(r.mapper) + "," + r.status;
    for (const auto& c : columns) {
      std::string cell;
      for (const auto& [k, v] : r.metrics)
        if (k == c) cell = cell_text(v);
      csv += "," + csv_cell(cell);
    }
    csv += "," + csv_cell(r.error) + "\n";
  }
  return csv;
}

void write_outputs(const std::string& out_dir, const std::string& csv, const Json& j,
                   const std::string& layers_csv) {
  try {
    fs::create_directories(out_dir);
  } catch (const fs::filesystem_error& e) {
    throw ConfigError(out_dir, 0, "", "cannot create the output folder: " + e.code().message());
  }
  write_file_atomic((fs::path(out_dir) / "results.csv").string(), csv);
  write_file_atomic((fs::path(out_dir) / "results.json").string(), j.dump(2) + "\n");
  write_file_atomic((fs::path(out_dir) / "layers.csv").string(), layers_csv);
}

}  // namespace

MergeSummary merge_sweeps(const std::vector<std::string>& dirs, const std::string& out_dir) {
  if (dirs.empty()) throw ConfigError("", 0, "", "no sweep folders to merge");
  Manifests ms = read_manifests(dirs);
  // Not const: first["key"] of a missing key gives null, which get<> then refuses.
  Json& first = ms.first;
  const size_t total = first["total_points"].get<size_t>();
  std::vector<std::string> axes = first["axes"].get<std::vector<std::string>>();
  check_complete(ms.points, total, dirs.front());

  PointTables t = read_points(ms.points, axes);
  MergeSummary& summary = t.summary;
  const std::vector<std::string> columns = metric_columns(t.rows);
  const std::string csv = results_csv(axes, columns, t.rows);
  summary.rows = t.rows.size();

  Json j;
  j["sweep"] = {{"name", first.value("name", "")}, {"fingerprint", first.value("fingerprint", "")},
                {"mode", first.value("mode", "")}, {"axes", axes},
                {"points", summary.points},        {"failed", summary.failed}};
  j["columns"] = columns;
  j["points"] = std::move(t.json_points);

  write_outputs(out_dir, csv, j, t.layers_header + t.layers_body);
  return summary;
}

}  // namespace imcsim
