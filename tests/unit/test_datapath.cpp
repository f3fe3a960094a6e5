// Unit tests of the datapath pieces the SystemC modules are built from (no kernel):
// ADC quantization and clamp, DAC phases, bit-slice recombination, signed encodings,
// router reuse counts (REFERENCE §5, §9, §10).
#include <gtest/gtest.h>

#include "mappers/mapper.hpp"
#include "mappers/schedule.hpp"
#include "models/datapath.hpp"
#include "workloads/weights.hpp"

using namespace imcsim;

TEST(Adc, LosslessBoundAndStep) {
  DatapathParams p;
  p.rows = 128;
  p.cell_bits = 2;
  p.dac_bits = 1;
  // 128 x 3 x 1 = 384 -> 9 bits (REFERENCE §10).
  EXPECT_EQ(p.full_scale(), 384);
  EXPECT_EQ(p.lossless_adc_bits(), 9);
  p.adc_bits = 9;
  EXPECT_EQ(p.lsb_shift(), 0);
  p.adc_bits = 6;
  EXPECT_EQ(p.lsb_shift(), 3);
}

TEST(Adc, RoundsHalfUpAndClamps) {
  // LSB = 4: 5 -> 1, 6 -> 2 (half up), 7 -> 2; top code 2^3 - 1 = 7.
  EXPECT_EQ(adc_convert(5, 2, 3), 1);
  EXPECT_EQ(adc_convert(6, 2, 3), 2);
  EXPECT_EQ(adc_convert(7, 2, 3), 2);
  EXPECT_EQ(adc_convert(28, 2, 3), 7);
  EXPECT_EQ(adc_convert(31, 2, 3), 7);  // would round to 8: clamped
  EXPECT_EQ(adc_convert(1000, 2, 3), 7);
  EXPECT_EQ(adc_convert(13, 0, 4), 13);  // lossless: identity
}

TEST(Dac, PhasesCoverTheInputBits) {
  DatapathParams p;
  p.input_bits = 8;
  p.dac_bits = 1;
  EXPECT_EQ(p.phases(), 8);
  p.dac_bits = 3;
  EXPECT_EQ(p.phases(), 3);  // 3 + 3 + 2 bits
  p.dac_bits = 8;
  EXPECT_EQ(p.phases(), 1);
}

namespace {

// The cells of one 1x1 "conv" column of w.size() rows (im2col on one array).
TileCells dot_column_cells(const std::vector<int32_t>& w, const DatapathParams& p) {
  const int64_t n = static_cast<int64_t>(w.size());
  ConvShape s = ConvShape::make("dot", 1, 1, 1, 1, n, 1, 1, 0, Convention::Framework);
  const ArrayGeometry a{p.rows, p.cols_per_weight() * 4, p.cols_per_weight()};
  const LayerMapping m = map_layer(find_mapper("im2col"), s, a);
  const TileSchedule sched = make_schedule(m, a, 1);
  return program_tile(sched, sched.tiles[0], w.data(), p);
}

// One 1x1 "conv" column of `n` rows: out = sum_r w[r] * x[r], through the bit-plane
// datapath with the given parameters; returns the shift-added accumulator.
int64_t column_dot(const std::vector<int32_t>& w, const std::vector<int64_t>& x, DatapathParams p) {
  const TileCells cells = dot_column_cells(w, p);
  std::vector<uint64_t> planes;
  input_planes(x, cells.words, p.input_bits, planes);
  std::vector<int64_t> sums(static_cast<size_t>(cells.n_phys)), codes(sums.size());
  int64_t acc = 0;
  for (int64_t ph = 0; ph < p.phases(); ++ph) {
    column_sums(cells, planes, ph, p, sums.data());
    for (size_t c = 0; c < sums.size(); ++c)
      codes[c] = adc_convert(sums[c], p.lsb_shift(), p.adc_bits);
    shift_add(cells, codes.data(), ph, p, &acc);
  }
  offset_correction(cells, planes, p, &acc);
  return acc;
}

}  // namespace

TEST(BitSlicing, RecombinesSlicesPhasesAndBothEncodings) {
  SeededStream rng(5);
  for (bool differential : {false, true}) {
    for (int64_t cell_bits : {1, 2, 3, 4}) {
      for (int64_t dac_bits : {1, 2, 3}) {
        DatapathParams p;
        p.rows = 100;
        p.cell_bits = cell_bits;
        p.weight_bits = 7;
        p.input_bits = 6;
        p.dac_bits = dac_bits;
        p.differential = differential;
        p.adc_bits = p.lossless_adc_bits();
        std::vector<int32_t> w(100);
        std::vector<int64_t> x(100);
        int64_t want = 0;
        for (size_t r = 0; r < w.size(); ++r) {
          w[r] = static_cast<int32_t>(static_cast<int64_t>(rng.next_u64() % 127) - 63);
          x[r] = static_cast<int64_t>(rng.next_u64() % 64);
          want += w[r] * x[r];
        }
        EXPECT_EQ(column_dot(w, x, p), want)
            << "cell_bits " << cell_bits << " dac_bits " << dac_bits
            << (differential ? " differential" : " offset");
      }
    }
  }
}

TEST(BitSlicing, ExtremeWeightsAndInputs) {
  DatapathParams p;
  p.rows = 64;
  p.cell_bits = 2;
  p.weight_bits = 8;
  p.input_bits = 8;
  p.adc_bits = p.lossless_adc_bits();
  const std::vector<int32_t> w(64, -127), w2(64, 127);
  const std::vector<int64_t> x(64, 255);
  EXPECT_EQ(column_dot(w, x, p), -127 * 255 * 64);
  EXPECT_EQ(column_dot(w2, x, p), 127 * 255 * 64);
}

TEST(Adc, FewerBitsGiveBoundedError) {
  DatapathParams p;
  p.rows = 64;
  p.cell_bits = 2;
  p.weight_bits = 8;
  p.input_bits = 4;
  SeededStream rng(11);
  std::vector<int32_t> w(64);
  std::vector<int64_t> x(64);
  int64_t want = 0;
  for (size_t r = 0; r < 64; ++r) {
    w[r] = static_cast<int32_t>(static_cast<int64_t>(rng.next_u64() % 255) - 127);
    x[r] = static_cast<int64_t>(rng.next_u64() % 16);
    want += w[r] * x[r];
  }
  int64_t prev_err = -1;
  for (int64_t bits = p.lossless_adc_bits(); bits >= 3; --bits) {
    p.adc_bits = bits;
    const int64_t err = std::llabs(column_dot(w, x, p) - want);
    if (bits == p.lossless_adc_bits()) {
      EXPECT_EQ(err, 0);
    }
    // Each conversion errs by at most one LSB (half from rounding, clamping aside), scaled
    // by its phase and slice shifts: sum over phases and slices of 2^(lsb + shifts).
    const int64_t lsb = int64_t{1} << p.lsb_shift();
    int64_t bound = 0;
    for (int64_t ph = 0; ph < p.phases(); ++ph)
      for (int64_t k = 0; k < p.slices(); ++k) bound += lsb << (ph * p.dac_bits + k * p.cell_bits);
    EXPECT_LE(err, bound) << bits << " bits";
    prev_err = err;
  }
  EXPECT_GT(prev_err, 0);  // 3 bits cannot be exact here
}

TEST(Router, ReuseCountsOfShiftedWindows) {
  // SDK 2x2 outputs of a 3x3 kernel: PW 4x4; a step right by 2 outputs brings 2 new pixel
  // columns: 4 rows x 2 columns x channels.
  ConvShape s = ConvShape::make("r", 16, 16, 3, 3, 4, 8, 1, 0, Convention::VwSdk);
  const ArrayGeometry a = ArrayGeometry::ideal(512, 512);
  const LayerMapping m = map_sdk(s, a);
  ASSERT_EQ(m.pw_w, m.win_w + 2);
  const TileSchedule t = make_schedule(m, a, 8);
  const TileSpec& tile = t.tiles[0];
  EXPECT_EQ(t.rows_to_fetch(tile, 0), static_cast<int64_t>(tile.rows.size()));
  EXPECT_EQ(t.rows_to_fetch(tile, 1), 4 * m.pw_h * std::min<int64_t>(m.pw_w, m.win_w));
  // im2col, stride 1: one new pixel column per step (3 of 9 rows per channel).
  const LayerMapping flat = map_im2col(s, a);
  const TileSchedule tf = make_schedule(flat, a, 8);
  EXPECT_EQ(tf.rows_to_fetch(tf.tiles[0], 1), 4 * 3);
  // Stride 4 > kernel: nothing is reused.
  ConvShape big = ConvShape::make("b", 16, 16, 3, 3, 4, 8, 4, 0, Convention::Framework);
  const TileSchedule tb = make_schedule(map_im2col(big, a), a, 8);
  EXPECT_EQ(tb.rows_to_fetch(tb.tiles[0], 1), 4 * 9);
}

TEST(Schedule, TilesCoverEveryWeightOnce) {
  // Every (oc, c, kh, kw) weight appears in exactly one tile x duplicate per output offset.
  for (const char* mapper : {"im2col", "sdk", "vwsdk"}) {
    ConvShape s = ConvShape::make("c", 12, 12, 3, 3, 20, 24, 1, 1, Convention::Framework);
    const ArrayGeometry a = ArrayGeometry::ideal(64, 48);
    const LayerMapping m = map_layer(find_mapper(mapper), s, a);
    const TileSchedule t = make_schedule(m, a, 100);
    int64_t mapped = 0;
    for (const auto& tile : t.tiles) mapped += tile.mapped_weights;
    EXPECT_EQ(mapped, m.win_h * m.win_w * 9 * 20 * 24) << mapper;
    EXPECT_EQ(t.computing_cycles(), m.cycles) << mapper;
  }
}

TEST(InputPlanes, EveryBitOfEveryRowInItsPlane) {
  // Eight rows at a time (input_bits <= 8) or one by one: plane b holds bit b of each code.
  SeededStream rng(11);
  for (int64_t input_bits : {1, 3, 8, 9, 12}) {
    for (size_t n :
         {size_t{1}, size_t{7}, size_t{8}, size_t{63}, size_t{64}, size_t{130}, size_t{256}}) {
      const int64_t words = static_cast<int64_t>((n + 63) / 64);
      std::vector<int64_t> codes(n);
      for (auto& c : codes) c = static_cast<int64_t>(rng.next_u64() % (uint64_t{1} << input_bits));
      if (n > 8) std::fill(codes.begin(), codes.begin() + 8, 0);  // an all-zero group
      std::vector<uint64_t> planes(3, ~uint64_t{0});              // overwritten, not or-ed
      input_planes(codes, words, input_bits, planes);
      ASSERT_EQ(planes.size(), static_cast<size_t>(input_bits * words));
      for (int64_t b = 0; b < input_bits; ++b) {
        for (size_t r = 0; r < n; ++r) {
          const uint64_t got = (planes[static_cast<size_t>(b * words) + r / 64] >> (r % 64)) & 1;
          ASSERT_EQ(got, static_cast<uint64_t>((codes[r] >> b) & 1))
              << "input_bits " << input_bits << " rows " << n << " bit " << b << " row " << r;
        }
        for (size_t r = n; r < static_cast<size_t>(words) * 64; ++r)
          ASSERT_EQ((planes[static_cast<size_t>(b * words) + r / 64] >> (r % 64)) & 1, 0u);
      }
    }
  }
}

TEST(WindowDatapath, AllPhasesAtOnceEqualPhaseByPhase) {
  // The engine's kernels (every phase of a window in one pass: WindowKernel::column_sums,
  // then convert_shift_add_all) against column_sums, adc_convert and shift_add phase by phase,
  // lossless and lossy, 1-3 bit DACs, both encodings, 1-3 words of rows.
  SeededStream rng(13);
  for (int64_t rows : {60, 128, 190}) {
    for (int64_t dac_bits : {1, 3}) {
      for (bool differential : {false, true}) {
        for (int64_t adc_bits : {4, 9}) {
          DatapathParams p;
          p.rows = rows;
          p.cell_bits = 2;
          p.weight_bits = 8;
          p.input_bits = 8;
          p.dac_bits = dac_bits;
          p.differential = differential;
          p.adc_bits = adc_bits;
          std::vector<int32_t> w(static_cast<size_t>(rows));
          std::vector<int64_t> x(w.size());
          for (auto& v : w)
            v = static_cast<int32_t>(static_cast<int64_t>(rng.next_u64() % 255) - 127);
          for (auto& v : x) v = static_cast<int64_t>(rng.next_u64() % 256);
          const TileCells cells = dot_column_cells(w, p);
          std::vector<uint64_t> planes;
          input_planes(x, cells.words, p.input_bits, planes);
          const size_t n = static_cast<size_t>(cells.n_phys);
          std::vector<int64_t> sums(n), codes(n), all(n * static_cast<size_t>(p.phases()));
          int64_t want = 3, got = 3;
          WindowKernel(cells, p).column_sums(planes, all.data());
          for (int64_t ph = 0; ph < p.phases(); ++ph) {
            column_sums(cells, planes, ph, p, sums.data());
            for (size_t c = 0; c < n; ++c)
              ASSERT_EQ(all[static_cast<size_t>(ph) * n + c], sums[c])
                  << "phase " << ph << " column " << c;
            for (size_t c = 0; c < n; ++c)
              codes[c] = adc_convert(sums[c], p.lsb_shift(), p.adc_bits);
            shift_add(cells, codes.data(), ph, p, &want);
          }
          convert_shift_add_all(cells, all.data(), p, &got);
          EXPECT_EQ(got, want) << "rows " << rows << " dac_bits " << dac_bits << " adc_bits "
                               << adc_bits << (differential ? " differential" : " offset");
        }
      }
    }
  }
}

TEST(WindowKernel, EqualsColumnSumsAndOffsetCorrection) {
  // The engine's window kernel (columns side by side, zero input words skipped) against
  // column_sums phase by phase and offset_correction on random cells: 1-3 words of rows, 1- and
  // 2-bit cells, 1-3 bit DACs, sparse and dense inputs, both encodings.
  SeededStream rng(29);
  for (int64_t rows : {37, 128, 190}) {
    for (int64_t cell_bits : {1, 2}) {
      for (int64_t dac_bits : {1, 3}) {
        for (bool differential : {false, true}) {
          DatapathParams p;
          p.rows = rows;
          p.cell_bits = cell_bits;
          p.weight_bits = 8;
          p.input_bits = 8;
          p.dac_bits = dac_bits;
          p.differential = differential;
          TileCells cells;
          cells.n_rows = rows;
          cells.words = (rows + 63) / 64;
          cells.n_wcols = 1 + static_cast<int64_t>(rng.next_u64() % 40);
          cells.n_phys = cells.n_wcols * p.cols_per_weight();
          const uint64_t last = rows % 64 == 0 ? ~uint64_t{0} : (uint64_t{1} << (rows % 64)) - 1;
          auto random_rows = [&](std::vector<uint64_t>& v, int64_t n_vec) {
            v.resize(static_cast<size_t>(n_vec * cells.words));
            for (size_t i = 0; i < v.size(); ++i)
              v[i] =
                  rng.next_u64() &
                  (static_cast<int64_t>(i % cells.words) == cells.words - 1 ? last : ~uint64_t{0});
          };
          random_rows(cells.planes, cells.n_phys * cell_bits);
          random_rows(cells.mapped, cells.n_wcols);
          for (int64_t j = 0; j < cells.n_wcols; ++j)
            cells.col_offset.push_back(rng.next_u64() % 2 ? 128 : 255);
          const WindowKernel kernel(cells, p);
          for (bool sparse : {false, true}) {
            std::vector<int64_t> x(static_cast<size_t>(rows));
            for (auto& v : x) v = sparse && rng.next_u64() % 4 != 0 ? 0 : rng.next_u64() % 256;
            std::vector<uint64_t> planes;
            input_planes(x, cells.words, p.input_bits, planes);
            const size_t n = static_cast<size_t>(cells.n_phys * p.phases());
            std::vector<int64_t> want(n), got(n, -1);
            for (int64_t ph = 0; ph < p.phases(); ++ph)
              column_sums(cells, planes, ph, p, want.data() + ph * cells.n_phys);
            kernel.column_sums(planes, got.data());
            EXPECT_EQ(got, want) << "rows " << rows << " cell_bits " << cell_bits << " dac_bits "
                                 << dac_bits << (sparse ? " sparse" : " dense");
            std::vector<int64_t> acc_want(static_cast<size_t>(cells.n_wcols), 7),
                acc_got = acc_want;
            offset_correction(cells, planes, p, acc_want.data());
            kernel.offset_correction(planes, acc_got.data());
            EXPECT_EQ(acc_got, acc_want)
                << "rows " << rows << (differential ? " differential" : "");
            if (!differential) {
              EXPECT_NE(acc_want, std::vector<int64_t>(acc_want.size(), 7));
            }
          }
        }
      }
    }
  }
}
