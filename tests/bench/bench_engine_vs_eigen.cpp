// Engine overhead against a bare Eigen implementation of the same computation: every
// conv/fc layer of ResNet-20 on 128x128 arrays (8-bit weights on 2-bit cells, 8-bit
// inputs through 1-bit DACs, 8-bit ADC), bit-sliced and bit-serial with ADC quantization,
// same tiles and window positions. Both run in this process on the same inputs; the
// program prints both times and their ratio (goal: engine <= 3x Eigen), and checks that
// both produce the same accumulators. One SystemC elaboration: run as its own process.
#include <Eigen/Dense>
#include <chrono>
#include <cstdio>
#include <systemc>

#include "mappers/mapper.hpp"
#include "mappers/schedule.hpp"
#include "models/datapath.hpp"
#include "models/engine.hpp"
#include "workloads/loader.hpp"
#include "workloads/reference.hpp"

using namespace imcsim;

namespace {

using MatrixI = Eigen::Matrix<int64_t, Eigen::Dynamic, Eigen::Dynamic>;
using VectorI = Eigen::Matrix<int64_t, Eigen::Dynamic, 1>;

// The same tile layout and datapath as the engine, as dense Eigen matrix-vector products.
std::vector<int64_t> eigen_layer(const TileSchedule& s, const std::vector<int64_t>& in,
                                 const std::vector<int32_t>& wq, const DatapathParams& p) {
  const ConvShape& sh = s.mapping.shape;
  const LayerMapping& m = s.mapping;
  std::vector<int64_t> out(static_cast<size_t>(sh.oc * sh.groups * sh.o_h * sh.o_w), 0);
  const int64_t slices = p.slices(), pol = p.polarities(), cpw = p.cols_per_weight();
  const int64_t cell_mask = (int64_t{1} << p.cell_bits) - 1, lsb = p.lsb_shift();
  for (const auto& tile : s.tiles) {
    const int64_t rows = static_cast<int64_t>(tile.rows.size());
    const int64_t wcols = static_cast<int64_t>(tile.cols.size());
    MatrixI cells = MatrixI::Zero(rows, wcols * cpw);
    MatrixI mapped = MatrixI::Zero(rows, wcols);
    for (int64_t r = 0; r < rows; ++r) {
      const RowSlot& row = tile.rows[static_cast<size_t>(r)];
      for (int64_t j = 0; j < wcols; ++j) {
        const ColSlot& col = tile.cols[static_cast<size_t>(j)];
        if (!s.holds_weight(row, col)) continue;
        const int64_t kh = row.ph - col.dy * sh.s_h, kw = row.pw - col.dx * sh.s_w;
        const int64_t oc = tile.group * sh.oc + col.oc;
        const int64_t w =
            wq[static_cast<size_t>(((oc * sh.ic + row.c) * sh.k_h + kh) * sh.k_w + kw)];
        mapped(r, j) = 1;
        for (int64_t q = 0; q < pol; ++q) {
          const int64_t stored = p.differential
                                     ? (q == 0 ? std::max<int64_t>(w, 0) : std::max<int64_t>(-w, 0))
                                     : w + p.offset();
          for (int64_t k = 0; k < slices; ++k)
            cells(r, j * cpw + q * slices + k) = (stored >> (k * p.cell_bits)) & cell_mask;
        }
      }
    }
    const MatrixI cells_t = cells.transpose();
    VectorI x(rows), digit(rows), sums, acc(wcols);
    for (int64_t py = 0; py < s.pos_h; ++py) {
      for (int64_t px = 0; px < s.pos_w; ++px) {
        const int64_t y0 = py * m.win_h * sh.s_h - s.pad_h, x0 = px * m.win_w * sh.s_w - s.pad_w;
        for (int64_t r = 0; r < rows; ++r) {
          const RowSlot& row = tile.rows[static_cast<size_t>(r)];
          const int64_t iy = y0 + row.ph, ix = x0 + row.pw;
          x(r) = (iy < 0 || ix < 0 || iy >= sh.in_h || ix >= sh.in_w)
                     ? 0
                     : in[static_cast<size_t>(
                           ((tile.group * sh.ic + row.c) * sh.in_h + iy) * sh.in_w + ix)];
        }
        acc.setZero();
        for (int64_t ph = 0; ph < p.phases(); ++ph) {
          const int64_t dmask = (int64_t{1} << p.dac_bits) - 1;
          for (int64_t r = 0; r < rows; ++r) digit(r) = (x(r) >> (ph * p.dac_bits)) & dmask;
          sums.noalias() = cells_t * digit;
          for (int64_t c = 0; c < sums.size(); ++c) {
            const int64_t code = adc_convert(sums(c), static_cast<int>(lsb), p.adc_bits);
            const int64_t k = (c % cpw) % slices, q = (c % cpw) / slices;
            const int64_t v = code << (ph * p.dac_bits + k * p.cell_bits + lsb);
            acc(c / cpw) += q == 0 ? v : -v;
          }
        }
        if (!p.differential) acc -= p.offset() * (mapped.transpose() * x);
        for (int64_t j = 0; j < wcols; ++j) {
          const ColSlot& col = tile.cols[static_cast<size_t>(j)];
          const int64_t oy = py * m.win_h + col.dy, ox = px * m.win_w + col.dx;
          if (oy >= sh.o_h || ox >= sh.o_w) continue;
          const int64_t oc = tile.group * sh.oc + col.oc;
          out[static_cast<size_t>((oc * sh.o_h + oy) * sh.o_w + ox)] += acc(j);
        }
      }
    }
  }
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int sc_main(int, char**) {
  const Network net = load_workload("resnet20");
  const WeightSet weights = synthetic_weights(net, 1);
  ref::IntOptions opt;
  const auto q = ref::quantize_weights(net, weights, opt.weight_bits);
  ref::FloatTensor image(net.input.c, net.input.h, net.input.w);
  SeededStream rng(1);
  for (auto& v : image.data) v = rng.uniform();
  const ref::IntRun codes = ref::run_int(net, q, image, opt);

  EngineConfig cfg;
  cfg.datapath = {128, 2, 8, 8, 1, 8, false};
  cfg.cols = 128;
  cfg.adc_share = 8;
  cfg.num_arrays = 64;
  const ArrayGeometry geom{128, 128, cfg.datapath.cols_per_weight()};
  struct Work {
    TileSchedule sched;
    std::vector<int64_t> codes;  // unsigned codes as the DACs drive them (centered + zero point)
    const std::vector<int64_t>* input;
    std::vector<int32_t> wq;
  };
  std::vector<Work> work;
  work.reserve(net.layers.size());  // `input` points into each element: no reallocation
  for (size_t i = 0; i < net.layers.size(); ++i) {
    const Layer& l = net.layers[i];
    if (!l.on_arrays()) continue;
    const LayerMapping m =
        map_layer(find_mapper("vwsdk"), conv_shape(l, Convention::Framework), geom);
    const auto& ql = q.at(l.name);
    std::vector<int64_t> driven = codes.layers[i].input_codes.data;
    for (auto& v : driven) v += codes.layers[i].input_quant.zero_point;
    work.push_back({make_schedule(m, geom, cfg.num_arrays), std::move(driven), nullptr, ql.q});
    work.back().input = &work.back().codes;
  }

  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::vector<int64_t>> eigen_out;
  eigen_out.reserve(work.size());
  for (const auto& w : work)
    eigen_out.push_back(eigen_layer(w.sched, *w.input, w.wq, cfg.datapath));
  const double eigen_s = seconds_since(t0);

  Engine engine(cfg);
  t0 = std::chrono::steady_clock::now();
  std::vector<std::vector<int64_t>> engine_out(work.size());
  for (size_t i = 0; i < work.size(); ++i)
    engine.run_array_layer(work[i].sched, *work[i].input, work[i].wq, engine_out[i], false);
  const double engine_s = seconds_since(t0);

  const bool same = engine_out == eigen_out;
  std::printf("resnet20, 128x128, 8b weights / 2b cells, 8b inputs / 1b DAC, 8b ADC, %zu layers\n",
              work.size());
  std::printf("eigen  %.3f s\nengine %.3f s\nratio  %.2fx (engine / eigen)\noutputs equal: %s\n",
              eigen_s, engine_s, engine_s / eigen_s, same ? "yes" : "NO");
  return same ? 0 : 1;
}
