// Reports of a compression run (mappers/compress/compress.hpp): per-layer table, CSV and
// JSON. CSV columns are a contract (issue 5), more may follow:
// layer,method,rank,groups,params,params_dense,rel_error,mapper,cycles,cycles_dense,utilization
#pragma once

#include <string>

#include "mappers/compress/compress.hpp"
#include "sim/report/report.hpp"

namespace imcsim {

std::string compression_csv(const compress::CompressionResult& r);
std::string compression_table(const compress::CompressionResult& r);
Json compression_json(const compress::CompressionResult& r);
// The compressed layers as a NetworkMapping (mapper "<method>"), for layers.csv blocks.
NetworkMapping compression_mapping(const compress::CompressionResult& r);

}  // namespace imcsim
