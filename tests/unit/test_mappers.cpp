// Mapper tests: the published VW-SDK table (exact), an independent exhaustive
// search as oracle for vwsdk, and auto <= every method.
#include <gtest/gtest.h>

#include <random>

#include "mappers/mapper.hpp"
#include "workloads/error.hpp"

using namespace imcsim;

namespace {

ConvShape paper_layer(int64_t image, int64_t k, int64_t ic, int64_t oc) {
  return ConvShape::make("L", image, image, k, k, ic, oc, 1, 0, Convention::VwSdk);
}

struct TableRow {
  int64_t image, k, ic, oc, im2col, sdk, vwsdk;
};

// Rhe et al., "VW-SDK", DATE 2022, Table (512x512 array, unpadded convention).
const TableRow kVwSdkTable[] = {
    {224, 3, 3, 64, 49284, 12321, 6216},  {224, 3, 64, 64, 98568, 24642, 24642},
    {112, 3, 64, 128, 24200, 6050, 6050}, {112, 3, 128, 128, 36300, 36300, 12100},
    {56, 3, 128, 256, 8748, 8748, 5832},  {56, 3, 256, 256, 14580, 14580, 10206},
    {112, 7, 3, 64, 11236, 2809, 1431},   {56, 3, 64, 64, 5832, 1458, 1458},
    {28, 3, 128, 128, 2028, 2028, 676},   {14, 3, 256, 256, 720, 720, 504},
};

}  // namespace

TEST(VwSdkTable, ReproducesAllTenRowsOn512x512) {
  const ArrayGeometry a = ArrayGeometry::ideal(512, 512);
  for (const auto& r : kVwSdkTable) {
    SCOPED_TRACE(::testing::Message() << r.image << "," << r.k << "," << r.ic << "," << r.oc);
    const ConvShape s = paper_layer(r.image, r.k, r.ic, r.oc);
    EXPECT_EQ(map_im2col(s, a).cycles, r.im2col);
    EXPECT_EQ(map_sdk(s, a).cycles, r.sdk);
    EXPECT_EQ(map_vwsdk(s, a).cycles, r.vwsdk);
  }
}

TEST(VwSdkTable, WindowOfFirstRowFollowsTieRule) {
  // 224,3,3,64: 3x10, 4x6 (one array) and 4x34 (8 arrays) all give 6216; fewest arrays
  // first, then the larger area, and between 3x10 and 10x3 the wider one.
  const LayerMapping m = map_vwsdk(paper_layer(224, 3, 3, 64), ArrayGeometry::ideal(512, 512));
  EXPECT_EQ(m.method, "vwsdk");
  EXPECT_EQ(m.pw_h, 3);
  EXPECT_EQ(m.pw_w, 10);
  EXPECT_EQ(m.ic_tile, 3);
  EXPECT_EQ(m.oc_tile, 64);
}

TEST(Sdk, StopsAtFirstInfeasibleWindow) {
  // 224,3,64,64 on 512: u_r = 2; i = 2 uses 16*64 = 1024 rows = 2 tiles; i = 3 needs 1600.
  const LayerMapping m = map_sdk(paper_layer(224, 3, 64, 64), ArrayGeometry::ideal(512, 512));
  EXPECT_EQ(m.method, "sdk");
  EXPECT_EQ(m.pw_h, 4);
  EXPECT_EQ(m.win_h, 2);
  EXPECT_EQ(m.row_tiles, 2);
  EXPECT_EQ(m.col_tiles, 1);
  EXPECT_DOUBLE_EQ(m.row_utilization, 1.0);  // 16*64 rows on 2x512
  EXPECT_DOUBLE_EQ(m.col_utilization, 0.5);  // 4*64 columns of 512
}

TEST(Im2col, UtilizationCountsMappedCells) {
  // 3x3x16 -> 16 on 128x128: 144 rows -> 2 row tiles; 16 of 128 columns.
  const LayerMapping m = map_im2col(paper_layer(32, 3, 16, 16), ArrayGeometry::ideal(128, 128));
  EXPECT_EQ(m.row_tiles, 2);
  EXPECT_EQ(m.col_tiles, 1);
  EXPECT_EQ(m.cycles, 30 * 30 * 2);
  EXPECT_DOUBLE_EQ(m.utilization, 144.0 * 16 / (2 * 128 * 128));
}

TEST(BitSlicing, EffectiveColumnsShrinkTheColumnTiles) {
  // 8-bit weights on 2-bit cells: 4 columns per weight, 128 -> 32 weight columns.
  const ArrayGeometry a = ArrayGeometry::sliced(128, 128, 8, 2, false);
  EXPECT_EQ(a.cols_per_weight, 4);
  EXPECT_EQ(a.weight_cols(), 32);
  const LayerMapping m = map_im2col(paper_layer(32, 3, 16, 64), a);
  EXPECT_EQ(m.col_tiles, 2);
  EXPECT_EQ(ArrayGeometry::sliced(128, 128, 8, 2, true).weight_cols(), 16);
  EXPECT_EQ(ArrayGeometry::sliced(128, 128, 8, 3, false).cols_per_weight, 3);
}

TEST(Framework, StridedAndPaddedShapes) {
  const ConvShape s = ConvShape::make("c", 32, 32, 3, 3, 16, 32, 2, 1, Convention::Framework);
  EXPECT_EQ(s.o_h, 16);
  EXPECT_EQ(s.o_w, 16);
  EXPECT_EQ(s.ext_h, 34);
  const LayerMapping m = map_sdk(s, ArrayGeometry::ideal(512, 512));
  // A window of i outputs with stride 2 spans 2(i-1)+3 pixels.
  EXPECT_EQ(m.pw_h, 2 * (m.win_h - 1) + 3);
}

TEST(Registry, UnknownMapperNamesTheKnownOnes) {
  try {
    find_mapper("sdk2");
    FAIL() << "expected MappingError";
  } catch (const MappingError& e) {
    EXPECT_NE(std::string(e.what()).find("im2col, sdk, vwsdk or auto"), std::string::npos)
        << e.what();
  }
}

TEST(Registry, ArrayTooNarrowForOneWeightIsAnError) {
  const ArrayGeometry a = ArrayGeometry::sliced(64, 3, 8, 2, false);  // 4 columns per weight
  EXPECT_THROW(map_layer(find_mapper("im2col"), paper_layer(8, 3, 4, 4), a), MappingError);
}

// ---- Property tests against an independent oracle -------------------------------------

namespace {

int64_t cdiv(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

// Exhaustive VW-SDK search written from REFERENCE §4 alone: every (i, j) with the window
// inside the input, no pruning; best cycles, then fewer arrays, then larger area, then
// wider; im2col wins only when strictly better.
struct Oracle {
  int64_t cycles, pw_h, pw_w, arrays;
};
Oracle exhaustive_vwsdk(const ConvShape& s, int64_t ar, int64_t ac) {
  Oracle best{-1, 0, 0, 0};
  for (int64_t i = 1; i <= s.o_w; ++i) {
    for (int64_t j = 1; j <= s.o_h; ++j) {
      const int64_t pw_w = (i - 1) * s.s_w + s.k_w, pw_h = (j - 1) * s.s_h + s.k_h;
      if (pw_w > s.ext_w || pw_h > s.ext_h) continue;
      const int64_t ict = ar / (pw_h * pw_w), oct = ac / (i * j);
      if (ict < 1 || oct < 1) continue;
      const int64_t tiles = cdiv(s.ic, ict) * cdiv(s.oc, oct);
      const int64_t cc = cdiv(s.o_w, i) * cdiv(s.o_h, j) * tiles;
      const int64_t area = pw_h * pw_w, best_area = best.pw_h * best.pw_w;
      const bool wins =
          best.cycles < 0 || cc < best.cycles ||
          (cc == best.cycles && (tiles < best.arrays ||
                                 (tiles == best.arrays &&
                                  (area > best_area || (area == best_area && pw_w > best.pw_w)))));
      if (wins) best = {cc, pw_h, pw_w, tiles};
    }
  }
  const int64_t flat = s.o_h * s.o_w * cdiv(s.k_h * s.k_w * s.ic, ar) * cdiv(s.oc, ac);
  if (best.cycles < 0 || flat < best.cycles) return {flat, s.k_h, s.k_w, 0};
  return best;
}

}  // namespace

TEST(VwSdkProperty, EqualsExhaustiveSearchOnRandomLayers) {
  std::mt19937_64 rng(20250207);
  auto pick = [&](std::vector<int64_t> v) { return v[rng() % v.size()]; };
  int checked = 0;
  for (int n = 0; n < 3000; ++n) {
    const int64_t k = pick({1, 1, 3, 3, 3, 5, 7});
    const int64_t image = k + static_cast<int64_t>(rng() % 40);
    const int64_t ic = pick({1, 3, 8, 16, 24, 32, 64, 96, 128, 256, 512});
    const int64_t oc = pick({1, 8, 10, 16, 32, 64, 100, 128, 256, 512});
    const int64_t ar = pick({16, 32, 64, 100, 128, 256, 512, 1024});
    const int64_t ac = pick({16, 32, 64, 100, 128, 256, 512, 1024});
    const bool framework = rng() % 2;
    const int64_t stride = framework ? pick({1, 1, 2}) : 1;
    const int64_t pad = framework ? pick({0, k / 2}) : 0;
    const ConvShape s =
        ConvShape::make("r", image, image + static_cast<int64_t>(rng() % 5), k, k, ic, oc, stride,
                        pad, framework ? Convention::Framework : Convention::VwSdk);
    const ArrayGeometry a = ArrayGeometry::ideal(ar, ac);
    const Oracle want = exhaustive_vwsdk(s, ar, ac);
    const LayerMapping got = map_vwsdk(s, a);
    ASSERT_EQ(got.cycles, want.cycles)
        << "layer I=" << image << " K=" << k << " IC=" << ic << " OC=" << oc << " S=" << stride
        << " on " << ar << "x" << ac;
    ASSERT_EQ(got.pw_h, want.pw_h);
    ASSERT_EQ(got.pw_w, want.pw_w);

    const LayerMapping best = map_auto(s, a);
    EXPECT_LE(best.cycles, map_im2col(s, a).cycles);
    EXPECT_LE(best.cycles, map_sdk(s, a).cycles);
    EXPECT_LE(best.cycles, got.cycles);
    // Every mapping fits its arrays.
    for (const LayerMapping* m : {&best, &got}) {
      EXPECT_LE(m->row_utilization, 1.0 + 1e-12);
      EXPECT_LE(m->col_utilization, 1.0 + 1e-12);
      EXPECT_GT(m->utilization, 0.0);
    }
    ++checked;
  }
  EXPECT_EQ(checked, 3000);
}

TEST(SdkProperty, WindowAlwaysFitsTheIm2colTiles) {
  std::mt19937_64 rng(7);
  for (int n = 0; n < 2000; ++n) {
    const int64_t k = 1 + 2 * static_cast<int64_t>(rng() % 3);
    const ConvShape s = ConvShape::make(
        "r", k + static_cast<int64_t>(rng() % 60), k + static_cast<int64_t>(rng() % 60), k, k,
        1 + static_cast<int64_t>(rng() % 300), 1 + static_cast<int64_t>(rng() % 300), 1, 0,
        Convention::VwSdk);
    const ArrayGeometry a = ArrayGeometry::ideal(32 << (rng() % 5), 32 << (rng() % 5));
    const LayerMapping m = map_sdk(s, a);
    const LayerMapping flat = map_im2col(s, a);
    EXPECT_EQ(m.row_tiles, flat.row_tiles);
    EXPECT_EQ(m.col_tiles, flat.col_tiles);
    EXPECT_LE(m.cycles, flat.cycles);
    EXPECT_LE(m.pw_h * m.pw_w * s.ic, a.rows * m.row_tiles);
    EXPECT_LE(m.win_h * m.win_w * s.oc, a.weight_cols() * m.col_tiles);
  }
}
