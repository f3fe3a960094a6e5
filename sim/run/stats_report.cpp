#include "sim/run/stats_report.hpp"

#include <algorithm>
#include <string>

#include "sim/config/config_engine.hpp"

namespace imcsim {

namespace {

// Every counter of the tree, by "block.counter" (blocks of the same name are the same kind).
void describe(const StatNode& n, Json& out) {
  for (const StatValue& v : n.values) {
    const std::string key = n.name + "." + v.def.name;
    if (out.contains(key)) continue;
    Json d;
    d["unit"] = v.def.unit;
    d["description"] = v.def.description;
    const bool priced = v.def.event != Event::kCount;
    d["event"] = priced ? Json(to_string(v.def.event)) : Json(nullptr);
    d["priced_as"] = priced ? Json(energy_key(v.def.event)) : Json(nullptr);
    d["stall"] = v.def.stall ? Json(v.def.stall) : Json(nullptr);
    out[key] = std::move(d);
  }
  for (const StatNode& c : n.children) describe(c, out);
}

// Arrays in index order (a run's sum appends an array where a layer first used it).
void sort_arrays(StatNode& chip) {
  for (StatNode& c : chip.children) {
    if (c.name != "arrays") continue;
    auto index = [](const StatNode& a) {
      return std::stoll(a.name.substr(a.name.find_first_of("0123456789")));
    };
    std::stable_sort(c.children.begin(), c.children.end(),
                     [&](const StatNode& a, const StatNode& b) { return index(a) < index(b); });
  }
}

}  // namespace

Json stat_tree_json(const StatNode& n, const EnergyTable* table) {
  Json j = Json::object();
  double pj = 0;
  bool priced = false;
  for (const StatValue& v : n.values) {
    j[v.def.name] = v.value;
    if (table && v.def.event != Event::kCount) {
      priced = true;
      pj += static_cast<double>(v.value) * table->pj[static_cast<size_t>(v.def.event)];
    }
  }
  if (priced) j["energy_pj"] = pj;
  for (const StatNode& c : n.children) j[c.name] = stat_tree_json(c, table);
  return j;
}

Json stats_json(const std::vector<std::string>& names, const std::vector<StatNode>& layers,
                const EnergyTable& table) {
  StatNode run;
  run.name = "chip";
  Json counters = Json::object();
  Json per_layer = Json::array();
  for (size_t i = 0; i < layers.size(); ++i) {
    run.add(layers[i]);
    describe(layers[i], counters);
    Json l;
    l["layer"] = names[i];
    l["chip"] = stat_tree_json(layers[i], nullptr);
    per_layer.push_back(std::move(l));
  }
  sort_arrays(run);
  Json j;
  j["about"] =
      "counters of the engine's blocks (models/stats.hpp); summary.json's events and stalls "
      "are sums over these trees";
  j["tech"] = table.name;
  j["counters"] = std::move(counters);
  j["run"] = stat_tree_json(run, &table);
  j["layers"] = std::move(per_layer);
  return j;
}

}  // namespace imcsim
