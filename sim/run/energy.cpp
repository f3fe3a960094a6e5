#include "sim/run/energy.hpp"

namespace imcsim {

Json events_json(const EventCounts& e) {
  Json j;
  for (int i = 0; i < kEventCount; ++i)
    j[to_string(static_cast<Event>(i))] = e[static_cast<size_t>(i)];
  return j;
}

EventCounts events_from_json(const Json& j) {
  EventCounts e{};
  for (int i = 0; i < kEventCount; ++i)
    e[static_cast<size_t>(i)] = j.at(to_string(static_cast<Event>(i))).get<int64_t>();
  return e;
}

Json energy_json(const EventCounts& events, const EnergyTable& table, int64_t arrays,
                 double latency_ns) {
  const ComponentEnergy e = price_events(events, table);
  Json j;
  for (int c = 0; c < kComponentCount; ++c) j[kEnergyComponents[c]] = e.pj[static_cast<size_t>(c)];
  // mW x ns = pJ.
  const double leak = table.leakage_mw_per_array * static_cast<double>(arrays) * latency_ns;
  j["leakage"] = leak;
  j["total"] = e.total + leak;
  return j;
}

Json reprice_summary(const Json& summary, const TechSpec& tech) {
  if (summary.value("mode", "") != "cycle")
    throw ConfigError("", 0, "mode",
                      "only the summary.json of a cycle run (mode: cycle) can be re-priced");
  Json out = summary;
  const int64_t adc_bits = summary.at("arch").at("adc_bits").get<int64_t>();
  const int64_t arrays = summary.at("arch").at("arrays").get<int64_t>();
  const EnergyTable table = tech.table_for(adc_bits);
  out["tech"] = tech.name;
  out["repriced_from"] = summary.value("tech", "");
  for (auto& l : out["layers"]) {
    l["energy_pj"] = energy_json(events_from_json(l.at("events")), table, arrays,
                                 l.at("latency_ns").get<double>());
  }
  out["totals"]["energy_pj"] =
      energy_json(events_from_json(summary.at("totals").at("events")), table, arrays,
                  summary.at("totals").at("latency_ns").get<double>());
  return out;
}

}  // namespace imcsim
