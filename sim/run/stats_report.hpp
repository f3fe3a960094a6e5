// stats.json of a cycle run: the engine's statistics tree (models/stats.hpp) written by one
// walker. Every counter is named once under "counters" (block.counter: unit, description,
// the summary.json event it counts and the technology energy key it is priced as, the stall
// cause it records); "run" is the tree summed
// over the run's layers with each block's energy; "layers" has one tree per layer (arrays
// with no activity in a layer are left out of its tree).
#pragma once

#include <vector>

#include "models/stats.hpp"
#include "models/tech.hpp"
#include "sim/report/report.hpp"

namespace imcsim {

// One tree as JSON: a block is {counter: value, ...} (plus "energy_pj" when `table` is given
// and the block has priced counters), a group is {child: ...}.
Json stat_tree_json(const StatNode& n, const EnergyTable* table);

// The whole stats.json of a run from the trees of its layers (`layers[i]` named `names[i]`).
Json stats_json(const std::vector<std::string>& names, const std::vector<StatNode>& layers,
                const EnergyTable& table);

}  // namespace imcsim
