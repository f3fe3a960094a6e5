#include "sim/run/energy.hpp"

namespace imcsim {

namespace {

const char* const kComponents[] = {"dac",    "array",  "adc",         "shift_add", "accumulator",
                                   "buffer", "router", "programming", "digital",   "leakage"};

}  // namespace

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
  Json j;
  for (const char* c : kComponents) j[c] = 0.0;
  double total = 0;
  for (int i = 0; i < kEventCount; ++i) {
    const Event e = static_cast<Event>(i);
    const double pj =
        static_cast<double>(events[static_cast<size_t>(i)]) * table.pj[static_cast<size_t>(i)];
    j[component_of(e)] = j[component_of(e)].get<double>() + pj;
    total += pj;
  }
  // mW x ns = pJ.
  const double leak = table.leakage_mw_per_array * static_cast<double>(arrays) * latency_ns;
  j["leakage"] = leak;
  j["total"] = total + leak;
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
