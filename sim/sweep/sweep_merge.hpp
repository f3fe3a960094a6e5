// Joining sweep folders (one per shard, or one for a whole sweep) into one table:
//   OUT/results.csv   one row per point and mapper, in point order:
//                     point, the axes' values, mapper, status, the metrics, error
//   OUT/results.json  the same, with the sweep's name, axes and fingerprint
//   OUT/layers.csv    every finished point's layers.csv, prefixed by point and axes
// The folders must come from the same sweep (same fingerprint) and hold every point of
// it; a point that failed is a row with status "failed" and its error. Same inputs give
// byte-identical outputs, whatever the shards, -j or order of the folders.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace imcsim {

struct MergeSummary {
  size_t points = 0;
  size_t failed = 0;
  size_t rows = 0;
};

MergeSummary merge_sweeps(const std::vector<std::string>& dirs, const std::string& out_dir);

}  // namespace imcsim
