// Pattern pruning with row skipping (REFERENCE §8): built-in pattern sets, block-wise
// pattern choice, hand-checked union-of-shifted-patterns counts, and skipped rows / cycles
// against a brute-force count of all-zero rows in the SDK layout of the pruned weights.
#include <gtest/gtest.h>

#include "mappers/compress/layout.hpp"
#include "mappers/compress/lowrank.hpp"
#include "mappers/compress/pruning.hpp"
#include "mappers/mapper_detail.hpp"
#include "workloads/error.hpp"

using namespace imcsim;
using namespace imcsim::compress;

namespace {

Tensor random_tensor(std::vector<int64_t> shape, uint64_t seed) {
  return uniform_tensor(std::move(shape), seed, -1, 1);
}

}  // namespace

TEST(Patterns, BuiltInSetsHaveTheirEntries) {
  for (const auto& [name, entries, count] : std::vector<std::tuple<std::string, int64_t, size_t>>{
           {"pat4", 4, 8}, {"pat6", 6, 4}, {"pat8", 8, 4}}) {
    const PatternSet p = builtin_patterns(name);
    EXPECT_EQ(p.masks.size(), count) << name;
    for (uint32_t m : p.masks) {
      int bits = 0;
      for (int i = 0; i < 9; ++i) bits += (m >> i) & 1;
      EXPECT_EQ(bits, entries) << name << " " << pattern_string(m, 3);
    }
  }
  EXPECT_EQ(parse_pattern("110/110/000", 3), parse_pattern("110110000", 3));
  EXPECT_EQ(pattern_string(parse_pattern("010/111/010", 3), 3), "010/111/010");
  EXPECT_THROW(parse_pattern("11/110/000", 3), MappingError);
  EXPECT_THROW(parse_pattern("000/000/000", 3), MappingError);
  EXPECT_THROW(parse_pattern("1102110000", 3), MappingError);
  EXPECT_THROW(builtin_patterns("pat5"), MappingError);
}

TEST(Patterns, HandCheckedCoveredRows) {
  // Top two kernel rows kept (pat6 drops row 2), 2x2 window: PW 4x4, the shifted copies
  // cover PW rows 0..2 -> 12 of 16 pixels, 4 rows skipped per channel.
  const uint32_t top = parse_pattern("111/111/000", 3);
  EXPECT_EQ(covered_rows(top, 3, 3, 2, 2, 1, 1), 12);
  // Same pattern, 3x3 window: PW 5x5, rows 0..3 covered -> 20.
  EXPECT_EQ(covered_rows(top, 3, 3, 3, 3, 1, 1), 20);
  // im2col (1x1 window): exactly the kept positions.
  EXPECT_EQ(covered_rows(parse_pattern("010/111/010", 3), 3, 3, 1, 1, 1, 1), 5);
  // The cross with a 2x2 window: PW 4x4 minus the 4 corners -> 12.
  EXPECT_EQ(covered_rows(parse_pattern("010/111/010", 3), 3, 3, 2, 2, 1, 1), 12);
  // A single corner tap with a 2x2 window of stride 2: PW 5x5, 4 pixels.
  EXPECT_EQ(covered_rows(parse_pattern("100/000/000", 3), 3, 3, 2, 2, 2, 2), 4);
  // Full kernel: nothing skipped.
  EXPECT_EQ(covered_rows(0x1ff, 3, 3, 2, 3, 1, 1), 4 * 5);
}

TEST(Patterns, BlockChoiceSharesOnePatternPerChannelAndBlock) {
  const Tensor w = random_tensor({8, 5, 3, 3}, 5);
  PruneOptions o;
  o.patterns = builtin_patterns("pat6");
  const PrunedWeights p = prune_patterns(w, o, 4, "t");
  for (int64_t c = 0; c < 5; ++c)
    for (int64_t b = 0; b < 8; b += 4)
      for (int64_t oc = b; oc < b + 4; ++oc) EXPECT_EQ(p.at(oc, c), p.at(b, c));
  EXPECT_EQ(p.kept, 8 * 5 * 6);
  // The chosen pattern keeps at least as much |W| as any other pattern of the set.
  for (int64_t c = 0; c < 5; ++c) {
    double chosen = 0, best = 0;
    for (uint32_t m : o.patterns.masks) {
      double kept = 0;
      for (int64_t oc = 0; oc < 4; ++oc)
        for (int pos = 0; pos < 9; ++pos)
          if ((m >> pos) & 1u)
            kept += std::abs(w.data[static_cast<size_t>((oc * 5 + c) * 9 + pos)]);
      best = std::max(best, kept);
      if (m == p.at(0, c)) chosen = kept;
    }
    EXPECT_DOUBLE_EQ(chosen, best);
  }
}

// Brute force: build the SDK layout (REFERENCE §5) of the pruned weights for the chosen
// window, split its columns into the mapper's channel-aligned column tiles, count the rows
// with a nonzero cell, and rebuild the cycle count from those counts.
TEST(RowSkipping, SkippedRowsAndCyclesEqualABruteForceCount) {
  SeededStream s(77);
  int checked = 0;
  for (int trial = 0; trial < 40; ++trial) {
    const int64_t ic = 1 + static_cast<int64_t>(s.uniform() * 24);
    const int64_t oc = 1 + static_cast<int64_t>(s.uniform() * 40);
    const int64_t in = 5 + static_cast<int64_t>(s.uniform() * 14);
    const int64_t st = s.uniform() < 0.2 ? 2 : 1;
    const int64_t side = int64_t{32} << static_cast<int64_t>(s.uniform() * 4);
    const ArrayGeometry a = ArrayGeometry::ideal(side, side);
    const ConvShape shape =
        ConvShape::make("L", in, in, 3, 3, ic, oc, st, 1, Convention::Framework);
    Tensor w = random_tensor({oc, ic, 3, 3}, s.next_u64());
    for (auto& v : w.data)
      if (s.uniform() < 0.1) v = 0.0f;  // actual zeros beyond the patterns
    PruneOptions o;
    o.patterns = builtin_patterns(builtin_pattern_sets()[static_cast<size_t>(trial % 3)]);
    o.scope = trial % 4 == 3 ? PatternScope::Kernel : PatternScope::Block;
    const PrunedWeights p = prune_patterns(w, o, std::min(oc, a.weight_cols()), "L");
    const RowSkipMapping m = map_row_skipping(shape, p, a, o, WindowSearch::Sdk);
    const LayerMapping& lm = m.mapping;
    const int64_t n = lm.duplicates();
    const Eigen::MatrixXd layout =
        sdk_layout(weight_matrix(p.weight), ic, 3, 3, lm.win_h, lm.win_w, st, st);
    int64_t driven = 0, activations_per_position = 0;
    for (int64_t ct = 0; ct < lm.col_tiles; ++ct) {
      int64_t rows = 0;
      for (int64_t r = 0; r < layout.rows(); ++r) {
        bool any = false;
        for (int64_t d = 0; d < n && !any; ++d)
          for (int64_t o2 = ct * lm.oc_tile; o2 < std::min(oc, (ct + 1) * lm.oc_tile); ++o2)
            any = any || layout(r, d * oc + o2) != 0.0;
        rows += any ? 1 : 0;
      }
      EXPECT_EQ(m.row_tiles_per_col_tile[static_cast<size_t>(ct)], detail::ceil_div(rows, a.rows));
      driven += rows;
      activations_per_position += detail::ceil_div(rows, a.rows);
    }
    EXPECT_EQ(m.rows_driven, driven) << trial;
    EXPECT_EQ(m.rows_dense, layout.rows() * lm.col_tiles);
    EXPECT_EQ(lm.cycles, lm.positions * activations_per_position);
    EXPECT_EQ(lm.arrays(), activations_per_position);
    EXPECT_EQ(lm.positions,
              detail::ceil_div(shape.o_h, lm.win_h) * detail::ceil_div(shape.o_w, lm.win_w));
    EXPECT_LE(n * std::min(oc, lm.oc_tile), a.weight_cols());
    ++checked;
  }
  EXPECT_EQ(checked, 40);
}

TEST(RowSkipping, BlockPatternsSkipRowsThatPerKernelPatternsDoNot) {
  // With per-kernel pat6 patterns the union over 16 output channels usually covers the
  // whole window; the block choice makes whole kernel rows zero for the tile.
  const Tensor w = random_tensor({16, 16, 3, 3}, 9);
  const ConvShape shape = ConvShape::make("L", 16, 16, 3, 3, 16, 16, 1, 1, Convention::Framework);
  const ArrayGeometry a = ArrayGeometry::ideal(128, 128);
  PruneOptions o;
  o.patterns = builtin_patterns("pat6");
  const RowSkipMapping block =
      map_row_skipping(shape, prune_patterns(w, o, 16, "L"), a, o, WindowSearch::Sdk);
  o.scope = PatternScope::Kernel;
  const RowSkipMapping kernel =
      map_row_skipping(shape, prune_patterns(w, o, 16, "L"), a, o, WindowSearch::Sdk);
  EXPECT_LT(block.rows_driven * kernel.rows_dense, kernel.rows_driven * block.rows_dense);
  EXPECT_LE(block.mapping.cycles, kernel.mapping.cycles);
}
