// The piece of the paper study (issue 9, scripts/paper-study) that the compression API does
// not expose: the compressed weights W' a method produces (so the reference executor can
// run the compressed network, REFERENCE §13). The study's event counts come from the one
// analytic cost model (models/cost.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mappers/compress/compress.hpp"
#include "workloads/network.hpp"

namespace imcsim::paper {

// ---- compressed weights -----------------------------------------------------------------

// W' = L R of a decomposition as a weight tensor of the original shape (OIHW or OI).
Tensor lowrank_weight(const compress::LowRankFactors& f, const std::vector<int64_t>& shape);

// The weights a compression run `r` (compress_network of `net`, `w`, `spec`) leaves in the
// network: every layer it compressed gets W' (low-rank: L R before BatchNorm folding, so
// the layer's BN still applies as trained; pruning: the pruned tensor), the others keep W.
// W' is rebuilt from the same options and checked against the run: MappingError when
// ||W - W'||_F / ||W||_F differs from the run's rel_error by more than 1e-9.
WeightSet compressed_weights(const Network& net, const WeightSet& w,
                             const compress::CompressionSpec& spec,
                             const compress::CompressionResult& r);

}  // namespace imcsim::paper
