// Energy accounting of a cycle run (REFERENCE §11): the engine's event counts priced by a
// technology's action-energy table, and the same counts as JSON (summary.json's "events"),
// so that a finished run can be priced again with another technology (`imcsim reprice`).
// No SystemC: the counts are plain values (models/tech.hpp).
#pragma once

#include <cstdint>

#include "models/tech.hpp"
#include "sim/config/config_engine.hpp"
#include "sim/report/report.hpp"

namespace imcsim {

// Energy by component of `events` priced with `table`, plus leakage of `arrays` arrays over
// `latency_ns`: {"dac": .., "array": .., ..., "leakage": .., "total": ..}.
Json energy_json(const EventCounts& events, const EnergyTable& table, int64_t arrays,
                 double latency_ns);

// Event counts by name ({"dac_conversion": n, ...}) and back (every name must be present).
Json events_json(const EventCounts& e);
EventCounts events_from_json(const Json& j);

// Re-prices a finished cycle run's summary.json with another technology: energies are
// recomputed from the recorded event counts and latencies (no re-simulation).
Json reprice_summary(const Json& summary, const TechSpec& tech);

}  // namespace imcsim
