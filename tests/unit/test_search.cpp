// One window search for every method (mappers/search.hpp), checked on every on-array layer
// of the four reference workloads on 64/128/256/512 arrays under each search:
//  - the search's cheapest candidate is the dense mapper of that name, cycle for cycle;
//  - pattern pruning with nothing pruned is the dense mapping of the same search;
//  - group low-rank with one group is low-rank, along either axis;
//  - low-rank never costs more than its R mapped alone plus L as its own im2col layer.
#include <gtest/gtest.h>

#include "mappers/compress/lowrank_mapping.hpp"
#include "mappers/compress/pruning.hpp"
#include "mappers/mapper.hpp"
#include "mappers/mapper_detail.hpp"
#include "mappers/search.hpp"
#include "workloads/loader.hpp"

using namespace imcsim;
using namespace imcsim::compress;

namespace {

struct Point {
  std::string workload;
  int64_t side;
  WindowSearch search;
};

std::vector<Point> points() {
  std::vector<Point> out;
  for (const char* w : {"resnet20", "wrn16_4", "vgg13", "resnet18"})
    for (int64_t side : {64, 128, 256, 512})
      for (WindowSearch s : {WindowSearch::Sdk, WindowSearch::Vwsdk, WindowSearch::Auto})
        out.push_back({w, side, s});
  return out;
}

class SearchProperties : public ::testing::TestWithParam<Point> {};

PrunedWeights nothing_pruned(const ConvShape& s) {
  PrunedWeights p;
  p.oc = s.oc;
  p.ic = s.ic;
  p.k_h = s.k_h;
  p.k_w = s.k_w;
  p.nonzero.assign(static_cast<size_t>(s.oc * s.ic), (1u << (s.k_h * s.k_w)) - 1);
  p.kept = s.oc * s.ic * s.k_h * s.k_w;
  return p;
}

}  // namespace

TEST_P(SearchProperties, EveryMethodUnderOneSearch) {
  const Point& pt = GetParam();
  const Network net =
      load_workload_file(std::string(IMCSIM_SOURCE_DIR) + "/workloads/" + pt.workload + ".yaml");
  const ArrayGeometry a = ArrayGeometry::ideal(pt.side, pt.side);
  const MapperInfo& dense = find_mapper(to_string(pt.search));
  int layers = 0, pruned = 0, lowrank = 0;
  for (const Layer& l : net.layers) {
    if (!l.on_arrays() || l.groups != 1) continue;
    const ConvShape s = conv_shape(l, Convention::Framework);
    const LayerMapping d = map_layer(dense, s, a);
    const std::vector<LayerMapping> cands = window_candidates(s, a, pt.search);
    const LayerMapping& c = cheapest(cands);
    ASSERT_EQ(c.cycles, d.cycles) << l.name;
    ASSERT_EQ(c.arrays(), d.arrays()) << l.name;
    ++layers;
    if (l.type == LayerType::Conv && s.k_h == 3 && s.k_w == 3) {
      const RowSkipMapping rs =
          map_row_skipping(s, nothing_pruned(s), a, PruneOptions{}, pt.search);
      ASSERT_EQ(rs.mapping.cycles, d.cycles) << l.name;
      ASSERT_EQ(rs.mapping.arrays(), d.arrays()) << l.name;
      ASSERT_EQ(rs.rows_driven, rs.rows_dense) << l.name;
      ++pruned;
    }
    if (l.type != LayerType::Conv || s.k_h == 1) continue;
    for (int64_t r : {1, 4, 16}) {
      if (r > std::min(s.oc, s.ic * s.k_h * s.k_w)) continue;
      const LowRankMapping m = map_lowrank(s, LowRankStructure::uniform(s.ic, 1, r, GroupAxis::In),
                                           a, pt.search, LPlacement::Auto);
      const LowRankMapping m_out = map_lowrank(
          s, LowRankStructure::uniform(s.oc, 1, r, GroupAxis::Out), a, pt.search, LPlacement::Auto);
      ASSERT_EQ(m.combined.cycles, m_out.combined.cycles) << l.name << " r" << r;
      ConvShape rsh = s;
      rsh.oc = r;
      const int64_t r_alone = map_layer(dense, rsh, a).cycles;
      const int64_t l_alone =
          s.o_h * s.o_w * detail::ceil_div(r, a.rows) * detail::ceil_div(s.oc, a.weight_cols());
      ASSERT_LE(m.combined.cycles, r_alone + l_alone) << l.name << " r" << r;
      ++lowrank;
    }
  }
  EXPECT_GT(layers, 5);
  EXPECT_GT(pruned, 3);
  EXPECT_GT(lowrank, 3);
}

INSTANTIATE_TEST_SUITE_P(Workloads, SearchProperties, ::testing::ValuesIn(points()),
                         [](const ::testing::TestParamInfo<Point>& i) {
                           return i.param.workload + "_" + std::to_string(i.param.side) + "_" +
                                  to_string(i.param.search);
                         });
