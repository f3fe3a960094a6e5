#include "models/engine.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <future>
#include <limits>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <systemc>

#include "models/stats.hpp"
#include "workloads/error.hpp"

namespace imcsim {

namespace {

using sc_core::SC_NS;
using sc_core::sc_time;

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

// A shared port moving `bits_per_clock` bits each clock (input buffer, output buffer).
// Requests arriving in the same clock share its bandwidth: a request completes at the
// clock where the bits queued before it plus its own have been moved. The wait beyond a
// request's own transfer time is contention.
class BandwidthPort {
 public:
  explicit BandwidthPort(int64_t bits_per_clock) : bpc_(bits_per_clock) {}
  // Returns the clocks to wait (from `now`) and the contention part of it.
  std::pair<int64_t, int64_t> request(int64_t now, int64_t bits) {
    if (bits <= 0) return {0, 0};
    const int64_t start_bits = std::max(now * bpc_, queued_bits_);
    queued_bits_ = start_bits + bits;
    const int64_t done = ceil_div(queued_bits_, bpc_);
    const int64_t own = ceil_div(bits, bpc_);
    const int64_t wait = done - now;
    return {wait, std::max<int64_t>(0, wait - own)};
  }
  void reset() { queued_bits_ = 0; }

 private:
  int64_t bpc_;
  int64_t queued_bits_ = 0;
};

// Stall causes: the values of the traced `stall_cause` signal (the statistics name them,
// models/stats.hpp).
enum Stall : int {
  kNone = 0,
  kInput = 1,     // crossbar idle, waiting for its next window
  kAdc = 2,       // crossbar idle, sample-and-hold still converting
  kPost = 3,      // ADCs idle, shift-add/accumulate still busy
  kBufferBw = 4,  // input buffer bandwidth
  kOutputBw = 5,  // output buffer bandwidth
  kRequant = 6    // L's rows waiting for R's window to be requantized
};

// The chip clock as the blocks see it: the current clock and waits of whole clocks (from
// inside a process).
struct Clock {
  sc_time period;
  int64_t now() const {
    return static_cast<int64_t>(std::llround(sc_core::sc_time_stamp() / period));
  }
  void wait(int64_t n) const {
    if (n > 0) sc_core::wait(period * static_cast<double>(n));
  }
};

// What a requester of a shared buffer waits for: its grant's event, and the contention
// clocks of its transfer.
struct PortGrant {
  sc_core::sc_event ev;
  int64_t contention = 0;
};

// The global input buffer and the output buffer: shared by every array through their
// bandwidth ports (contention between arrays is real: requests queue), each owning its
// statistics (`Bits`: the counter of the bits it moves). A port serves the requests made in
// one delta cycle together, at its end (the update phase), the highest array index first.
// The kernel runs the processes of a delta cycle in an order of its own (its timed-event
// queue does not order equal times), so an order taken from it would be SystemC's, not the
// chip's: with a fixed one, the numbers do not depend on how the arrays' stages are split
// into processes. (Highest first: the order the arrays' first reads of a round have always
// been served in.)
template <typename Stats, int64_t Stats::*Bits>
class SharedBuffer : public sc_core::sc_prim_channel {
 public:
  SharedBuffer(const char* name, int64_t bits_per_clock, const Clock& clock)
      : sc_core::sc_prim_channel(name), port_(bits_per_clock), clock_(clock) {}
  // Array `array` moves `bits` (a window read, or partial sums written) from this clock; its
  // grant's event fires `after` clocks past the transfer's end.
  void request(int array, int64_t bits, int64_t after, PortGrant& grant) {
    stats.*Bits += bits;
    if (pending_.empty()) request_update();
    pending_.push_back({array, bits, after, &grant});
  }
  Stats stats;

 private:
  struct Request {
    int array;
    int64_t bits, after;
    PortGrant* grant;
  };
  void update() override {
    std::sort(pending_.begin(), pending_.end(),
              [](const Request& a, const Request& b) { return a.array > b.array; });
    const int64_t now = clock_.now();
    for (const Request& r : pending_) {
      const auto [wait, contention] = port_.request(now, r.bits);
      r.grant->contention = contention;
      const int64_t clocks = wait + r.after;
      if (clocks > 0)
        r.grant->ev.notify(clock_.period * static_cast<double>(clocks));
      else
        r.grant->ev.notify(sc_core::SC_ZERO_TIME);
    }
    pending_.clear();
  }
  BandwidthPort port_;
  const Clock& clock_;
  std::vector<Request> pending_;
};
using InputBuffer = SharedBuffer<InputBufferStats, &InputBufferStats::read_bits>;
using OutputBuffer = SharedBuffer<OutputBufferStats, &OutputBufferStats::write_bits>;

// When trace signals are written: a trace file is open, the layer is traced and the time
// is inside the configured window.
struct TraceControl {
  sc_core::sc_trace_file* file = nullptr;
  bool layer = false;
  double from_ns = 0, to_ns = 0;
  bool active() const {
    if (!file || !layer) return false;
    const double t = sc_core::sc_time_stamp().to_seconds() * 1e9;
    return t >= from_ns && t <= to_ns;
  }
};

// The job the controller hands to the arrays (they only read it): its kind and, for a
// fused low-rank job, its parts. (An array layer's values are computed apart from its
// timing: tile_values.)
struct LayerJob {
  enum class Kind { None, Array, Digital, Fused } kind = Kind::None;
  const FusedLowRank* fused = nullptr;
};

// A fused low-rank job's exchange between the arrays and the requantizer on the digital
// units: R's partial sums per window (and how many R tiles wrote each), L's input codes per
// window once requantized, L's outputs.
struct FusedExchange {
  std::vector<int64_t> r_out, l_input, l_out;
  std::vector<int64_t> r_posted;  // per window: R tiles that wrote it
  std::vector<char> l_ready;      // per window: requantized for L
  int64_t r_tiles = 0;
  sc_core::sc_event r_posted_ev, l_ready_ev;
};

// What an array is wired to at elaboration (its ports): no array reads the chip's state.
struct ArrayPorts {
  const EngineConfig* cfg;
  const Clock* clock;
  const TraceControl* trace;
  const LayerJob* job;
  InputBuffer* input_buffer;
  OutputBuffer* output_buffer;
  FusedExchange* fused;
};

// Adds the partial sums `a` of a tile's columns at window (py, px) into the output values
// `out` (channel planes of o_h x o_w, channels offset by the tile's group): the
// read-modify-write of the output buffer. Columns beyond the output edge are dropped.
void add_partial_sums(const TileSchedule& sc, const TileSpec& tl, int64_t py, int64_t px,
                      const int64_t* a, std::vector<int64_t>& out) {
  const ConvShape& s = sc.mapping.shape;
  for (size_t j = 0; j < tl.cols.size(); ++j) {
    const ColSlot& c = tl.cols[j];
    const int64_t oy = py * sc.mapping.win_h + c.dy, ox = px * sc.mapping.win_w + c.dx;
    if (oy >= s.o_h || ox >= s.o_w) continue;
    const int64_t oc = tl.group * s.oc + c.oc;
    out[static_cast<size_t>((oc * s.o_h + oy) * s.o_w + ox)] += a[j];
  }
}

// The values an array layer's tile adds into the output buffer (OC x O_h x O_w), window by
// window as its array computes them: the router's placement of the window's pixels on the
// wordlines (zero outside the input: padding; `offset` added: the DACs drive code + zero
// point), every DAC phase's column sums, their ADC conversion and shift-add, the digital
// offset corrections, and the partial sums' read-modify-write. The timing processes below
// do not need them: values do not depend on when they are computed, and integer sums not
// on their order, so they are computed apart from the timing (on a second thread when the
// engine may use one).
// The router's placement of window k of a tile: each row's pixel (zero outside the input:
// padding) plus `offset`, into x[0 .. rows).
void place_window(const TileSchedule& sc, const TileSpec& tile, int64_t k,
                  const std::vector<int64_t>& input, int64_t offset, int64_t* x) {
  const ConvShape& s = sc.mapping.shape;
  const int64_t py = k / sc.pos_w, px = k % sc.pos_w;
  const int64_t y0 = py * sc.mapping.win_h * s.s_h - sc.pad_h;
  const int64_t x0 = px * sc.mapping.win_w * s.s_w - sc.pad_w;
  const int64_t c0 = tile.group * s.ic;
  for (size_t r = 0; r < tile.rows.size(); ++r) {
    const RowSlot& row = tile.rows[r];
    const int64_t iy = y0 + row.ph, ix = x0 + row.pw;
    x[r] = offset + ((iy < 0 || ix < 0 || iy >= s.in_h || ix >= s.in_w)
                         ? 0
                         : input[static_cast<size_t>(((c0 + row.c) * s.in_h + iy) * s.in_w + ix)]);
  }
}

void tile_values(const TileSchedule& sc, const TileSpec& tile, const TileCells& cells,
                 const std::vector<int64_t>& input, int64_t offset, const DatapathParams& p,
                 std::vector<int64_t>& out) {
  std::vector<int64_t> x(tile.rows.size()), acc(static_cast<size_t>(cells.n_wcols));
  std::vector<int64_t> sums(static_cast<size_t>(p.phases() * cells.n_phys));
  std::vector<uint64_t> planes;
  const WindowKernel kernel(cells, p);
  for (int64_t k = 0; k < sc.positions(); ++k) {
    const int64_t py = k / sc.pos_w, px = k % sc.pos_w;
    place_window(sc, tile, k, input, offset, x.data());
    input_planes(x, cells.words, p.input_bits, planes);
    std::fill(acc.begin(), acc.end(), 0);
    kernel.column_sums(planes, sums.data());
    convert_shift_add_all(cells, sums.data(), p, acc.data());
    // Offset encoding's digital correction from the window's inputs.
    kernel.offset_correction(planes, acc.data());
    if (offset != 0) input_offset_correction(cells, offset, acc.data());
    add_partial_sums(sc, tile, py, px, acc.data(), out);
  }
}

// The values of an array layer's tiles first, first + step, ... into `out` (every tile by
// default).
void layer_values(const TileSchedule& sc, const std::vector<TileCells>& cells,
                  const std::vector<int64_t>& input, int64_t offset, const DatapathParams& p,
                  std::vector<int64_t>& out, size_t first = 0, size_t step = 1) {
  for (size_t i = first; i < sc.tiles.size(); i += step)
    tile_values(sc, sc.tiles[i], cells[i], input, offset, p, out);
}

// One array with its periphery. Four pipelined processes:
//   fetch:   input buffer -> router -> input register     (one window position)
//   compute: DACs + crossbar read, one DAC phase at a time -> sample-and-hold
//   adc:     shared ADCs convert the held column values, shift-add per phase
//   post:    merge slices/phases, accumulate, write partial sums to the output buffer
struct ArrayUnit : sc_core::sc_module {
  SC_HAS_PROCESS(ArrayUnit);
  ArrayUnit(sc_core::sc_module_name name, const ArrayPorts& ports, int index);

  void fetch_thread();
  void compute_thread();
  void adc_thread();
  void post_thread();
  // The compute and ADC stages of an array job in one process (the clocks and counters of
  // compute_thread + adc_thread, which step one DAC phase at a time: the reference model,
  // kept for traced runs and EngineConfig::stage_processes).
  bool one_process() const;
  void compute_adc();
  // A DAC phase (DAC settle + crossbar read), and the ADC bank converting `columns` held
  // column values (spread over the array's ADCs, one per adc_share columns, REFERENCE §10).
  int64_t phase_clocks() const { return cfg.timing.t_dac + cfg.timing.t_read; }
  int64_t conversion_clocks(int64_t columns) const {
    return ceil_div(columns, cfg.adcs_per_array()) * cfg.timing.t_adc;
  }
  // The same four stages for a fused low-rank job (Chip::Job::Fused).
  void fused_fetch();
  void fused_compute();
  void fused_adc();
  void fused_post();
  void window_sums(int64_t kk);  // every phase's column sums of window kk into sums[kk % kRing]
  // After the last held phase of an activation (id = activation x phases + phase): all its
  // phases' ADC codes into the shift-add, and the activation on to the post stage.
  void convert(int64_t id, int64_t phases);
  void pass_to_post(int64_t kk);      // activation kk on to the post stage (waits while it is full)
  bool r_active(int64_t k) const;     // activation k drives R's rows (window k)
  int64_t l_window(int64_t k) const;  // the window whose L it evaluates, -1 = none

  const EngineConfig& cfg;
  const Clock& clock;
  const TraceControl& trace;
  const LayerJob& job;
  InputBuffer& input_buffer;
  OutputBuffer& output_buffer;
  FusedExchange& fx;
  int index;
  // Job of the current round.
  const TileSchedule* sched = nullptr;
  const TileSpec* tile = nullptr;
  const TileCells* cells = nullptr;
  int64_t n_cc = 0;
  // Fused low-rank job: the L part beside (or instead of) the R part `tile`; in `cells` R's
  // rows and columns come first.
  const TileSpec* l_tile = nullptr;
  std::optional<WindowKernel> kernel;  // a fused job's cells in the window kernel's layout
  int64_t r_rows = 0, r_wcols = 0, r_phys = 0, r_mapped = 0, l_mapped = 0;
  sc_core::sc_event start_ev;
  sc_core::sc_event done_ev;
  PortGrant read_grant, write_grant;  // the fetch stage's input buffer reads, post's writes
  // Moves `bits` through a shared buffer, then waits `after` more clocks; returns the
  // contention clocks.
  template <typename Buffer>
  int64_t transfer(Buffer& buffer, int64_t bits, int64_t after, PortGrant& grant) {
    if (bits <= 0) {
      clock.wait(after);
      return 0;
    }
    buffer.request(index, bits, after, grant);
    sc_core::wait(grant.ev);
    return grant.contention;
  }

  sc_core::sc_fifo<int64_t> in_q{1};    // input register: CC index ready on the wordlines
  sc_core::sc_fifo<int64_t> sh_q{1};    // sample-and-hold: (CC, phase) held for the ADCs
  sc_core::sc_fifo<int64_t> post_q{1};  // CC whose phases are all converted

  // Ring buffers for the values in flight (the pipeline depth bounds what is needed).
  static constexpr int kRing = 4;
  std::vector<int64_t> codes[kRing];
  std::vector<uint64_t> planes[kRing];
  std::vector<int64_t> sums[kRing];  // per window: [phase * n_phys + column]
  std::vector<int64_t> acc[kRing];

  // Trace signals (written only while tracing is active; several of the array's processes
  // and the controller write some of them).
  template <typename T>
  using Signal = sc_core::sc_signal<T, sc_core::SC_MANY_WRITERS>;
  Signal<int> sig_pos_y, sig_pos_x, sig_row_tile, sig_col_tile, sig_phase, sig_stall,
      sig_input_regs;
  Signal<bool> sig_adc_busy;
  Signal<int> sig_outputs;
  int input_regs = 0;
  int outputs_written = 0;

  // The array's blocks, each owning its statistics (models/stats.hpp).
  RouterStats router;
  DacStats dac;
  CrossbarStats crossbar;
  AdcBankStats adc;
  ShiftAddStats shift_add;
  AccumulatorStats accumulator;
  StatNode take_stats();  // snapshot of the blocks, then every counter back to 0
};

struct Chip : sc_core::sc_module {
  SC_HAS_PROCESS(Chip);
  Chip(sc_core::sc_module_name name, const EngineConfig& cfg);
  ~Chip() override;

  void controller();
  int64_t now() const { return clock.now(); }
  void wait_clocks(int64_t n) const { clock.wait(n); }
  bool tracing() const { return trace.active(); }
  // A new layer: its index (the traced `chip.layer`) and whether it is traced.
  void begin_layer(const std::string& layer) {
    const auto& layers = cfg.trace.layers;
    trace.layer = layers.empty() || std::find(layers.begin(), layers.end(), layer) != layers.end();
    ++layer_index;
  }
  // The layer's statistics tree into `run` (events and stalls summed from it); every
  // block's counters back to 0.
  void take_stats();

  EngineConfig cfg;
  Clock clock;
  TraceControl trace;
  // Blocks of the chip outside the arrays, with their statistics.
  InputBuffer input_buffer;
  OutputBuffer output_buffer;
  ProgrammerStats programmer;
  DigitalStats digital;
  sc_core::sc_signal<int, sc_core::SC_MANY_WRITERS> sig_layer;

  // Current job.
  LayerJob job;
  FusedExchange fx;
  std::vector<ArrayUnit*> arrays;  // wired to the members above
  const TileSchedule* sched = nullptr;
  std::vector<TileCells> cells;
  bool reprogram = false;
  int64_t digital_ops = 0;
  int layer_index = 0;
  LayerRun run;
  sc_core::sc_event job_ev;
  int arrays_busy = 0;
  sc_core::sc_event arrays_done_ev;

  // Fused low-rank job.
  void requant_thread();
  std::vector<TileCells> fused_cells;  // per physical array in use
  sc_core::sc_event requant_start_ev;
};

// sc_module_name is taken by value, as SystemC requires (it maintains the module name stack).
ArrayUnit::ArrayUnit(sc_core::sc_module_name name,  // NOLINT(performance-unnecessary-value-param)
                     const ArrayPorts& ports, int i)
    : sc_core::sc_module(name),
      cfg(*ports.cfg),
      clock(*ports.clock),
      trace(*ports.trace),
      job(*ports.job),
      input_buffer(*ports.input_buffer),
      output_buffer(*ports.output_buffer),
      fx(*ports.fused),
      index(i) {
  SC_THREAD(fetch_thread);
  SC_THREAD(compute_thread);
  SC_THREAD(adc_thread);
  SC_THREAD(post_thread);
}

void ArrayUnit::fetch_thread() {
  const DatapathParams& p = cfg.datapath;
  const TimingParams& t = cfg.timing;
  for (;;) {
    wait(start_ev);
    if (job.kind == LayerJob::Kind::Fused) {
      fused_fetch();
      continue;
    }
    for (int64_t k = 0; k < n_cc; ++k) {
      const int64_t rows = sched->rows_to_fetch(*tile, k % sched->pos_w);
      const int64_t bits = rows * p.input_bits;
      router.bandwidth_stall += transfer(input_buffer, bits, t.t_route, read_grant);
      router.pixels += static_cast<int64_t>(tile->rows.size());
      in_q.write(k);
      ++input_regs;
      if (trace.active()) sig_input_regs.write(input_regs);
    }
  }
}

void ArrayUnit::compute_thread() {
  const DatapathParams& p = cfg.datapath;
  const int64_t phases = p.phases();
  for (;;) {
    wait(start_ev);
    crossbar.activations += n_cc;
    if (job.kind == LayerJob::Kind::Fused) {
      fused_compute();
      continue;
    }
    if (one_process()) {
      compute_adc();
      continue;
    }
    const int64_t rows = static_cast<int64_t>(tile->rows.size());
    for (int64_t k = 0; k < n_cc; ++k) {
      const int64_t t0 = clock.now();
      if (trace.active() && k > 0) sig_stall.write(kInput);
      int64_t kk = 0;
      in_q.read(kk);
      if (k > 0) crossbar.input_stall += clock.now() - t0;
      if (trace.active()) {
        sig_pos_y.write(static_cast<int>(kk / sched->pos_w));
        sig_pos_x.write(static_cast<int>(kk % sched->pos_w));
        sig_stall.write(kNone);
      }
      for (int64_t ph = 0; ph < phases; ++ph) {
        if (trace.active()) sig_phase.write(static_cast<int>(ph));
        clock.wait(phase_clocks());
        dac.conversions += rows;
        crossbar.wordlines += rows;
        crossbar.cell_reads += cells->mapped_cells;
        const int64_t t1 = clock.now();
        if (sh_q.num_free() == 0 && trace.active()) sig_stall.write(kAdc);
        sh_q.write(kk * phases + ph);
        crossbar.adc_stall += clock.now() - t1;
        if (trace.active()) sig_stall.write(kNone);
      }
      --input_regs;
      if (trace.active()) sig_input_regs.write(input_regs);
    }
  }
}

void ArrayUnit::adc_thread() {
  const DatapathParams& p = cfg.datapath;
  const int64_t phases = p.phases();
  for (;;) {
    wait(start_ev);
    if (job.kind == LayerJob::Kind::Fused) {
      fused_adc();
      continue;
    }
    if (one_process()) continue;                            // compute_thread runs both stages
    const int64_t busy = conversion_clocks(cells->n_phys);  // per held phase
    for (int64_t n = 0; n < n_cc * phases; ++n) {
      int64_t id = 0;
      sh_q.read(id);
      if (trace.active()) sig_adc_busy.write(true);
      clock.wait(busy);
      adc.busy_clocks += busy;
      adc.conversions += cells->n_phys;
      shift_add.merges += cells->n_phys;
      if (trace.active()) sig_adc_busy.write(false);
      if (id % phases == phases - 1) pass_to_post(id / phases);
    }
  }
}

// The compute and ADC stages of an array job stepped together, one position (clock, delta
// cycle) after another, with the rules of the two processes they replace: a DAC phase is
// t_dac + t_read clocks, a held phase's conversion ceil(n_phys / ADCs) x t_adc, and the
// one-entry sample-and-hold (an sc_fifo of one) shows a write or a read to the other stage
// from the next delta cycle on. Other processes see only two of their actions: reading the
// input register and writing the post stage's register. Before either the process catches
// up with the position (a timed wait to its clock, then one delta cycle per step); between
// them, while neither stage waits for another process, the position runs ahead of the
// kernel's time without a context switch.
class ComputeAdcPipe {
 public:
  explicit ComputeAdcPipe(ArrayUnit& a)
      : u_(a),
        phases_(a.cfg.datapath.phases()),
        items_(a.n_cc * phases_),
        dac_read_(a.phase_clocks()),
        convert_(a.conversion_clocks(a.cells->n_phys)),
        rows_(static_cast<int64_t>(a.tile->rows.size())),
        t_(a.clock.now()) {}

  void run() {
    do {
      step_compute();
      step_adc();
    } while (next());
  }

 private:
  // compute: waits for the input register / in a DAC phase / for the sample-and-hold.
  enum class Compute { Input, Phase, Hold, Done };
  // adc: waits for a held phase / converting / for the post stage's register.
  enum class Adc { Hold, Convert, Post, Done };

  // The process to the position: the kernel's clock, then its delta cycle.
  void sync() {
    const int64_t now = u_.clock.now();
    if (t_ > now) {
      u_.clock.wait(t_ - now);
      kd_ = 0;
    }
    for (; kd_ < d_; ++kd_) sc_core::wait(sc_core::SC_ZERO_TIME);
  }

  void step_compute() {
    for (;;) {
      switch (c_) {
        case Compute::Input: {
          if (c_k_ == u_.n_cc) {
            c_ = Compute::Done;
            return;
          }
          sync();
          int64_t kk = 0;
          if (!u_.in_q.nb_read(kk)) return;
          if (c_k_ > 0) u_.crossbar.input_stall += t_ - c_wait_from_;
          c_ph_ = 0;
          c_ = Compute::Phase;
          c_until_ = t_ + dac_read_;
          return;
        }
        case Compute::Phase:
          if (t_ < c_until_) return;
          u_.dac.conversions += rows_;
          u_.crossbar.wordlines += rows_;
          u_.crossbar.cell_reads += u_.cells->mapped_cells;
          c_ready_ = t_;
          c_ = Compute::Hold;
          [[fallthrough]];
        case Compute::Hold:
          if (held_ || fresh_) return;
          held_ = fresh_ = true;
          held_id_ = c_k_ * phases_ + c_ph_;
          u_.crossbar.adc_stall += t_ - c_ready_;
          if (++c_ph_ < phases_) {
            c_ = Compute::Phase;
            c_until_ = t_ + dac_read_;
            return;
          }
          --u_.input_regs;
          ++c_k_;
          c_wait_from_ = t_;
          c_ = Compute::Input;
          break;
        case Compute::Done: return;
      }
    }
  }

  void step_adc() {
    for (;;) {
      switch (a_) {
        case Adc::Hold:
          if (a_n_ == items_) {
            a_ = Adc::Done;
            return;
          }
          if (!held_ || fresh_) return;
          a_id_ = held_id_;
          held_ = false;
          fresh_ = true;
          a_ = Adc::Convert;
          a_until_ = t_ + convert_;
          return;
        case Adc::Convert:
          if (t_ < a_until_) return;
          u_.adc.busy_clocks += convert_;
          u_.adc.conversions += u_.cells->n_phys;
          u_.shift_add.merges += u_.cells->n_phys;
          ++a_n_;
          if (a_id_ % phases_ != phases_ - 1) {
            a_ = Adc::Hold;
            break;
          }
          a_done_at_ = t_;
          a_ = Adc::Post;
          [[fallthrough]];
        case Adc::Post:
          sync();
          if (!u_.post_q.nb_write(a_id_ / phases_)) return;
          u_.adc.post_stall += t_ - a_done_at_;
          a_ = Adc::Hold;
          break;
        case Adc::Done: return;
      }
    }
  }

  // On to the next position; false once both stages are done.
  bool next() {
    if (c_ == Compute::Done && a_ == Adc::Done) return false;
    const bool chained = fresh_ && ((a_ == Adc::Hold && held_) || (c_ == Compute::Hold && !held_));
    fresh_ = false;
    if (chained) {  // the other stage sees the sample-and-hold in the next delta cycle
      ++d_;
      return true;
    }
    int64_t timer = std::numeric_limits<int64_t>::max();
    if (c_ == Compute::Phase) timer = c_until_;
    if (a_ == Adc::Convert) timer = std::min(timer, a_until_);
    const bool waits_input = c_ == Compute::Input, waits_post = a_ == Adc::Post;
    if (!waits_input && !waits_post) {
      if (timer == std::numeric_limits<int64_t>::max())
        throw std::logic_error("engine: array pipeline stalled with nothing to wait for");
      t_ = timer;  // ahead of the kernel: nothing another process does can change it
      d_ = 0;
      return true;
    }
    sync();
    sc_core::sc_event_or_list events;
    if (waits_input) events |= u_.in_q.data_written_event();
    if (waits_post) events |= u_.post_q.data_read_event();
    if (timer == std::numeric_limits<int64_t>::max())
      sc_core::wait(events);
    else
      sc_core::wait(u_.clock.period * static_cast<double>(timer - t_), events);
    // Woken at the timer's clock: by the timer, in that clock's first delta cycle (the
    // registers' events come in a later one); else by another process, at its action's.
    t_ = u_.clock.now();
    d_ = kd_ = 0;  // the delta cycle it woke in is the new reference
    return true;
  }

  ArrayUnit& u_;
  const int64_t phases_, items_, dac_read_, convert_, rows_;
  // Position: clock t_, d_ delta cycles after the reference delta of that clock (its first,
  // or the one the process woke in); kd_: the process's own delta cycle there.
  int64_t t_, d_ = 0, kd_ = 0;
  // Sample-and-hold: one entry; fresh_ while written or read at this position.
  bool held_ = false, fresh_ = false;
  int64_t held_id_ = 0;
  Compute c_ = Compute::Input;
  int64_t c_k_ = 0, c_ph_ = 0, c_until_ = 0, c_ready_ = 0, c_wait_from_ = 0;
  Adc a_ = Adc::Hold;
  int64_t a_n_ = 0, a_id_ = 0, a_until_ = 0, a_done_at_ = 0;
};

bool ArrayUnit::one_process() const {
  return job.kind == LayerJob::Kind::Array && !trace.file && !cfg.stage_processes &&
         phase_clocks() > 0 && cells->n_phys > 0 && conversion_clocks(cells->n_phys) > 0;
}

void ArrayUnit::compute_adc() {
  ComputeAdcPipe(*this).run();
}

void ArrayUnit::post_thread() {
  const TimingParams& t = cfg.timing;
  for (;;) {
    wait(start_ev);
    if (job.kind == LayerJob::Kind::Fused) {
      fused_post();
      done_ev.notify(sc_core::SC_ZERO_TIME);
      continue;
    }
    for (int64_t k = 0; k < n_cc; ++k) {
      int64_t kk = 0;
      post_q.read(kk);
      const int64_t py = kk / sched->pos_w, px = kk % sched->pos_w;
      clock.wait(t.t_shift_add + t.t_accumulate);
      const int64_t valid = sched->valid_columns(*tile, py, px);
      accumulator.adds += valid;
      const int64_t bits = valid * t.accumulator_bits;
      accumulator.bandwidth_stall += transfer(output_buffer, bits, 0, write_grant);
      outputs_written += static_cast<int>(valid);
      if (trace.active()) sig_outputs.write(outputs_written);
    }
    done_ev.notify(sc_core::SC_ZERO_TIME);
  }
}

// ---- fused low-rank job: R and I_N (x) L on the same activations ---------------------------

bool ArrayUnit::r_active(int64_t k) const {
  return tile && k < job.fused->r->positions();
}

int64_t ArrayUnit::l_window(int64_t k) const {
  if (!l_tile) return -1;
  const int64_t w = tile ? k - 1 : k;  // beside R: one window behind
  return w >= 0 && w < job.fused->l->positions() ? w : -1;
}

void ArrayUnit::fused_fetch() {
  const DatapathParams& p = cfg.datapath;
  const TimingParams& t = cfg.timing;
  const TileSchedule& rs = *job.fused->r;
  const TileSchedule& ls = *job.fused->l;
  for (int64_t k = 0; k < n_cc; ++k) {
    const bool ra = r_active(k);
    const int64_t lw = l_window(k);
    if (lw >= 0) {
      // L's rows need window lw of R, requantized.
      const int64_t t0 = clock.now();
      while (!fx.l_ready[static_cast<size_t>(lw)]) wait(fx.l_ready_ev);
      router.requant_stall += clock.now() - t0;
    }
    const int64_t rows = (ra ? rs.rows_to_fetch(*tile, k % rs.pos_w) : 0) +
                         (lw >= 0 ? static_cast<int64_t>(l_tile->rows.size()) : 0);
    const int64_t bits = rows * p.input_bits;
    router.bandwidth_stall += transfer(input_buffer, bits, t.t_route, read_grant);
    router.pixels += (ra ? r_rows : 0) + (lw >= 0 ? static_cast<int64_t>(l_tile->rows.size()) : 0);
    if (cfg.functional) {
      std::vector<int64_t>& x = codes[k % kRing];
      x.assign(static_cast<size_t>(cells->n_rows), 0);  // rows of an idle part: DAC off
      if (ra) place_window(rs, *tile, k, *job.fused->r_input, job.fused->r_offset, x.data());
      if (lw >= 0) {
        const ConvShape& s = ls.mapping.shape;
        const int64_t py = lw / ls.pos_w, px = lw % ls.pos_w;
        for (size_t r = 0; r < l_tile->rows.size(); ++r) {
          const RowSlot& row = l_tile->rows[r];
          const int64_t iy = py * ls.mapping.win_h + row.ph, ix = px * ls.mapping.win_w + row.pw;
          const bool out = iy >= s.in_h || ix >= s.in_w;
          x[static_cast<size_t>(r_rows) + r] =
              job.fused->l_offset +
              (out ? 0 : fx.l_input[static_cast<size_t>((row.c * s.in_h + iy) * s.in_w + ix)]);
        }
      }
      input_planes(x, cells->words, p.input_bits, planes[k % kRing]);
    }
    in_q.write(k);
  }
}

void ArrayUnit::fused_compute() {
  const DatapathParams& p = cfg.datapath;
  const int64_t phases = p.phases();
  for (int64_t k = 0; k < n_cc; ++k) {
    const int64_t t0 = clock.now();
    int64_t kk = 0;
    in_q.read(kk);
    if (k > 0) crossbar.input_stall += clock.now() - t0;
    const bool ra = r_active(kk);
    const bool la = l_window(kk) >= 0;
    const int64_t rows = (ra ? r_rows : 0) + (la ? cells->n_rows - r_rows : 0);
    if (cfg.functional) acc[kk % kRing].assign(static_cast<size_t>(cells->n_wcols), 0);
    for (int64_t ph = 0; ph < phases; ++ph) {
      clock.wait(phase_clocks());
      dac.conversions += rows;
      crossbar.wordlines += rows;
      crossbar.cell_reads += (ra ? r_mapped : 0) + (la ? l_mapped : 0);
      if (cfg.functional && ph == 0) window_sums(kk);
      const int64_t t1 = clock.now();
      sh_q.write(kk * phases + ph);
      crossbar.adc_stall += clock.now() - t1;
    }
    if (cfg.functional) {
      int64_t* a = acc[kk % kRing].data();
      kernel->offset_correction(planes[kk % kRing], a);
      // Each part's columns see its own rows, driven with its own zero point.
      for (int64_t j = 0; j < cells->n_wcols; ++j)
        a[j] -= (j < r_wcols ? job.fused->r_offset : job.fused->l_offset) *
                cells->weight_sum[static_cast<size_t>(j)];
    }
  }
}

void ArrayUnit::fused_adc() {
  const DatapathParams& p = cfg.datapath;
  const int64_t phases = p.phases();
  for (int64_t n = 0; n < n_cc * phases; ++n) {
    int64_t id = 0;
    sh_q.read(id);
    const int64_t kk = id / phases;
    // Only the columns of the parts this activation uses are converted.
    const int64_t phys =
        (r_active(kk) ? r_phys : 0) + (l_window(kk) >= 0 ? cells->n_phys - r_phys : 0);
    const int64_t busy = conversion_clocks(phys);
    clock.wait(busy);
    adc.busy_clocks += busy;
    adc.conversions += phys;
    shift_add.merges += phys;
    convert(id, phases);
  }
}

void ArrayUnit::window_sums(int64_t kk) {
  std::vector<int64_t>& out = sums[kk % kRing];
  out.resize(static_cast<size_t>(cfg.datapath.phases() * cells->n_phys));
  kernel->column_sums(planes[kk % kRing], out.data());
}

void ArrayUnit::convert(int64_t id, int64_t phases) {
  const DatapathParams& p = cfg.datapath;
  const int64_t kk = id / phases, ph = id % phases;
  if (ph == phases - 1) {  // every phase converted: on to the shift-add/accumulate stage
    if (cfg.functional)
      convert_shift_add_all(*cells, sums[kk % kRing].data(), p, acc[kk % kRing].data());
    pass_to_post(kk);
  }
}

void ArrayUnit::pass_to_post(int64_t kk) {
  const int64_t t1 = clock.now();
  post_q.write(kk);
  adc.post_stall += clock.now() - t1;
}

void ArrayUnit::fused_post() {
  const TimingParams& t = cfg.timing;
  const TileSchedule& rs = *job.fused->r;
  const TileSchedule& ls = *job.fused->l;
  for (int64_t k = 0; k < n_cc; ++k) {
    int64_t kk = 0;
    post_q.read(kk);
    const bool ra = r_active(kk);
    const int64_t lw = l_window(kk);
    clock.wait(t.t_shift_add + t.t_accumulate);
    const int64_t valid = (ra ? rs.valid_columns(*tile, kk / rs.pos_w, kk % rs.pos_w) : 0) +
                          (lw >= 0 ? ls.valid_columns(*l_tile, lw / ls.pos_w, lw % ls.pos_w) : 0);
    accumulator.adds += valid;
    const int64_t bits = valid * t.accumulator_bits;
    accumulator.bandwidth_stall += transfer(output_buffer, bits, 0, write_grant);
    const int64_t* a = acc[kk % kRing].data();
    if (cfg.functional && ra)
      add_partial_sums(rs, *tile, kk / rs.pos_w, kk % rs.pos_w, a, fx.r_out);
    if (cfg.functional && lw >= 0)
      add_partial_sums(ls, *l_tile, lw / ls.pos_w, lw % ls.pos_w, a + r_wcols, fx.l_out);
    if (ra && ++fx.r_posted[static_cast<size_t>(kk)] == fx.r_tiles) fx.r_posted_ev.notify();
  }
}

void Chip::requant_thread() {
  for (;;) {
    wait(requant_start_ev);
    const TileSchedule& rs = *job.fused->r;
    const ConvShape& s = rs.mapping.shape;
    const int64_t t = s.oc;
    std::vector<int64_t> acc(static_cast<size_t>(t)), out(static_cast<size_t>(t));
    for (int64_t w = 0; w < rs.positions(); ++w) {
      while (fx.r_posted[static_cast<size_t>(w)] < fx.r_tiles) wait(fx.r_posted_ev);
      // Window w's R outputs, every channel, to L's input codes on the digital units.
      const int64_t y0 = (w / rs.pos_w) * rs.mapping.win_h, x0 = (w % rs.pos_w) * rs.mapping.win_w;
      const int64_t y1 = std::min(s.o_h, y0 + rs.mapping.win_h),
                    x1 = std::min(s.o_w, x0 + rs.mapping.win_w);
      const int64_t values = t * (y1 - y0) * (x1 - x0);
      digital.ops += values;
      wait_clocks(ceil_div(values, cfg.timing.digital_ops_per_clock));
      if (cfg.functional) {
        for (int64_t oy = y0; oy < y1; ++oy)
          for (int64_t ox = x0; ox < x1; ++ox) {
            for (int64_t q = 0; q < t; ++q)
              acc[static_cast<size_t>(q)] =
                  fx.r_out[static_cast<size_t>((q * s.o_h + oy) * s.o_w + ox)];
            job.fused->requant(acc.data(), out.data());
            for (int64_t q = 0; q < t; ++q)
              fx.l_input[static_cast<size_t>((q * s.o_h + oy) * s.o_w + ox)] =
                  out[static_cast<size_t>(q)];
          }
      }
      fx.l_ready[static_cast<size_t>(w)] = 1;
      fx.l_ready_ev.notify();
    }
  }
}

Chip::Chip(sc_core::sc_module_name name,  // NOLINT(performance-unnecessary-value-param)
           const EngineConfig& c)
    : sc_core::sc_module(name),
      cfg(c),
      clock{sc_time(c.timing.clock_ns, SC_NS)},
      input_buffer("input_buffer", c.timing.input_bits_per_clock, clock),
      output_buffer("output_buffer", c.timing.output_bits_per_clock, clock) {
  trace.from_ns = cfg.trace.from_ns;
  trace.to_ns = cfg.trace.to_ns;
  const ArrayPorts ports{&cfg, &clock, &trace, &job, &input_buffer, &output_buffer, &fx};
  for (int64_t i = 0; i < cfg.num_arrays; ++i) {
    arrays.push_back(new ArrayUnit(fmt::format("array{}", i).c_str(), ports, static_cast<int>(i)));
  }
  if (!cfg.trace.vcd_path.empty()) {
    std::string path = cfg.trace.vcd_path;
    if (path.size() > 4 && path.substr(path.size() - 4) == ".vcd") path.resize(path.size() - 4);
    sc_core::sc_trace_file* trace_file = sc_core::sc_create_vcd_trace_file(path.c_str());
    trace.file = trace_file;
    trace_file->set_time_unit(1, sc_core::SC_PS);
    sc_core::sc_trace(trace_file, sig_layer, "chip.layer");
    for (auto* a : arrays) {
      const std::string pre = fmt::format("array{}.", a->index);
      sc_core::sc_trace(trace_file, a->sig_pos_y, pre + "window_y");
      sc_core::sc_trace(trace_file, a->sig_pos_x, pre + "window_x");
      sc_core::sc_trace(trace_file, a->sig_row_tile, pre + "row_tile");
      sc_core::sc_trace(trace_file, a->sig_col_tile, pre + "col_tile");
      sc_core::sc_trace(trace_file, a->sig_phase, pre + "dac_phase");
      sc_core::sc_trace(trace_file, a->sig_adc_busy, pre + "adc_busy");
      sc_core::sc_trace(trace_file, a->sig_input_regs, pre + "input_regs");
      sc_core::sc_trace(trace_file, a->sig_stall, pre + "stall_cause");
      sc_core::sc_trace(trace_file, a->sig_outputs, pre + "outputs");
    }
  }
  SC_THREAD(controller);
  SC_THREAD(requant_thread);
}

StatNode ArrayUnit::take_stats() {
  StatNode n;
  n.name = basename();
  take(n, "router", router);
  take(n, "dac", dac);
  take(n, "crossbar", crossbar);
  take(n, "adc_bank", adc);
  take(n, "shift_add", shift_add);
  take(n, "accumulator", accumulator);
  return n;
}

void Chip::take_stats() {
  StatNode chip;
  chip.name = "chip";
  run.programming_clocks = programmer.clocks;
  take(chip, "input_buffer", input_buffer.stats);
  take(chip, "output_buffer", output_buffer.stats);
  take(chip, "programmer", programmer);
  take(chip, "digital", digital);
  StatNode arrays_node;
  arrays_node.name = "arrays";
  for (ArrayUnit* a : arrays) {
    StatNode n = a->take_stats();
    if (!n.all_zero()) arrays_node.children.push_back(std::move(n));
  }
  chip.children.push_back(std::move(arrays_node));
  run.events = events_of(chip);
  run.stalls = stalls_of(chip);
  run.stats = std::move(chip);
}

Chip::~Chip() {
  for (auto* a : arrays) delete a;
}

void Chip::controller() {
  for (;;) {
    wait(job_ev);
    const int64_t start = now();
    if (tracing()) sig_layer.write(layer_index);
    if (job.kind == LayerJob::Kind::Digital) {
      digital.ops += digital_ops;
      wait_clocks(ceil_div(digital_ops, cfg.timing.digital_ops_per_clock));
    } else if (job.kind == LayerJob::Kind::Fused) {
      run.rounds = 1;
      if (reprogram) {
        int64_t rows = 0;
        for (const auto& c : fused_cells) {
          rows = std::max(rows, c.n_rows);
          programmer.cell_writes += c.n_rows * c.n_phys;
        }
        programmer.clocks += rows * cfg.timing.t_program_row;
        wait_clocks(rows * cfg.timing.t_program_row);
      }
      requant_start_ev.notify(sc_core::SC_ZERO_TIME);
      sc_core::sc_event_and_list all_done;
      for (size_t i = 0; i < fused_cells.size(); ++i) {
        ArrayUnit* a = arrays[i];
        if (!a->tile && !a->l_tile) continue;
        a->cells = &fused_cells[i];
        if (cfg.functional) a->kernel.emplace(fused_cells[i], cfg.datapath);
        const int64_t p = job.fused->r->positions();
        a->n_cc = a->tile ? p + (a->l_tile ? 1 : 0) : p;
        a->start_ev.notify(sc_core::SC_ZERO_TIME);
        all_done &= a->done_ev;
        run.computing_cycles += a->n_cc;
      }
      wait(all_done);
      for (ArrayUnit* a : arrays) a->kernel.reset();  // (it refers to fused_cells)
    } else if (job.kind == LayerJob::Kind::Array) {
      run.rounds = sched->rounds;
      for (int round = 0; round < sched->rounds; ++round) {
        if (reprogram || round > 0) {
          // Arrays of a round are written in parallel, row by row.
          int64_t rows = 0;
          for (size_t i = 0; i < sched->tiles.size(); ++i) {
            if (sched->tiles[i].round != round) continue;
            rows = std::max<int64_t>(rows, cells[i].n_rows);
            programmer.cell_writes += cells[i].n_rows * cells[i].n_phys;
          }
          const int64_t clk = rows * cfg.timing.t_program_row;
          programmer.clocks += clk;
          wait_clocks(clk);
        }
        arrays_busy = 0;
        sc_core::sc_event_and_list all_done;
        for (size_t i = 0; i < sched->tiles.size(); ++i) {
          const TileSpec& tile = sched->tiles[i];
          if (tile.round != round) continue;
          ArrayUnit* a = arrays[static_cast<size_t>(tile.array)];
          a->sched = sched;
          a->tile = &tile;
          a->cells = &cells[i];
          a->n_cc = sched->positions();
          if (tracing()) {
            a->sig_row_tile.write(static_cast<int>(tile.row_tile));
            a->sig_col_tile.write(static_cast<int>(tile.col_tile));
          }
          a->start_ev.notify(sc_core::SC_ZERO_TIME);
          all_done &= a->done_ev;
          run.computing_cycles += a->n_cc;
        }
        wait(all_done);
      }
    }
    run.clock_cycles = now() - start;
    take_stats();
    sc_core::sc_pause();
  }
}

}  // namespace

struct Engine::Impl {
  explicit Impl(const EngineConfig& cfg) : chip(new Chip("chip", cfg)) {}
  ~Impl() {
    finish();
    // SystemC modules are not destroyed before the kernel ends; the process ends soon after.
  }
  void finish() {
    if (chip->trace.file) {
      sc_core::sc_close_vcd_trace_file(chip->trace.file);
      chip->trace.file = nullptr;
      fix_vcd_date(vcd_file());
    }
  }
  std::string vcd_file() const {
    std::string path = chip->cfg.trace.vcd_path;
    if (path.size() <= 4 || path.substr(path.size() - 4) != ".vcd") path += ".vcd";
    return path;
  }
  // SystemC writes the wall-clock time into the VCD header ($date); identical runs must give
  // identical bytes, so the header says when nothing instead (IEEE 1364 §18.2.3.1 leaves
  // the text of $date free).
  static void fix_vcd_date(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return;
    std::ostringstream text;
    text << in.rdbuf();
    in.close();
    std::string s = text.str();
    const size_t a = s.find("$date");
    const size_t b = a == std::string::npos ? a : s.find("$end", a);
    if (b == std::string::npos) return;
    s.replace(a, b - a, "$date\n     (not recorded: imcsim traces are reproducible)\n");
    const std::string tmp = path + ".tmp";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out << s;
      if (!out) return;
    }
    std::rename(tmp.c_str(), path.c_str());
  }
  LayerRun go() {
    // The first call initializes the kernel so every process waits on its event before
    // the job is announced.
    if (sc_core::sc_get_status() == sc_core::SC_ELABORATION)
      sc_core::sc_start(sc_core::SC_ZERO_TIME);
    chip->job_ev.notify(sc_core::SC_ZERO_TIME);
    sc_core::sc_start();
    if (sc_core::sc_get_status() == sc_core::SC_STOPPED)
      throw MappingError("", 0, chip->run.layer, "simulation stopped unexpectedly");
    return chip->run;
  }
  Chip* chip;
};

Engine::Engine(const EngineConfig& cfg) : impl_(std::make_unique<Impl>(cfg)) {}
Engine::~Engine() = default;

const EngineConfig& Engine::config() const {
  return impl_->chip->cfg;
}

int64_t Engine::now_clocks() const {
  return impl_->chip->now();
}

void Engine::finish() {
  impl_->finish();
}

std::vector<TileCells> program_layer(const TileSchedule& s, const std::vector<int32_t>& wq,
                                     const std::vector<uint8_t>& odd_grid,
                                     const EngineConfig& cfg) {
  const ConvShape& shape = s.mapping.shape;
  std::vector<int32_t> unit;
  if (!cfg.functional)
    unit.assign(static_cast<size_t>(shape.oc * shape.groups * shape.ic * shape.k_h * shape.k_w), 1);
  std::vector<TileCells> cells;
  cells.reserve(s.tiles.size());
  for (const auto& tile : s.tiles)
    cells.push_back(program_tile(s, tile, cfg.functional ? wq.data() : unit.data(), cfg.datapath,
                                 cfg.functional && !odd_grid.empty() ? odd_grid.data() : nullptr));
  return cells;
}

LayerRun Engine::run_array_layer(const TileSchedule& s, const std::vector<int64_t>& input_codes,
                                 const std::vector<int32_t>& wq, std::vector<int64_t>& out,
                                 bool reprogram, int64_t input_offset,
                                 const std::vector<uint8_t>& odd_grid,
                                 std::vector<TileCells>* programmed) {
  Chip& c = *impl_->chip;
  const ConvShape& shape = s.mapping.shape;
  const int64_t ic = shape.ic * shape.groups, oc = shape.oc * shape.groups;
  if (c.cfg.functional) {
    if (static_cast<int64_t>(input_codes.size()) != ic * shape.in_h * shape.in_w)
      throw MappingError("", 0, s.layer,
                         fmt::format("input has {} codes, expected {}x{}x{}", input_codes.size(),
                                     ic, shape.in_h, shape.in_w));
    if (static_cast<int64_t>(wq.size()) != oc * shape.ic * shape.k_h * shape.k_w)
      throw MappingError("", 0, s.layer, "quantized weights do not match the layer shape");
    const int64_t bits = c.cfg.datapath.input_bits;
    if (input_offset < 0 || input_offset > (int64_t{1} << bits) - 1)
      throw MappingError("", 0, s.layer,
                         fmt::format("input offset (zero point) {} outside 0..{}", input_offset,
                                     (int64_t{1} << bits) - 1));
    const int64_t lo = -input_offset;
    const int64_t hi = (int64_t{1} << bits) - 1 - input_offset;
    for (int64_t v : input_codes) {
      if (v < lo || v > hi)
        throw MappingError("", 0, s.layer,
                           fmt::format("input code {} outside {}..{} ({}-bit codes, zero point {})",
                                       v, lo, hi, bits, input_offset));
    }
    if (!odd_grid.empty() && static_cast<int64_t>(odd_grid.size()) != oc)
      throw MappingError("", 0, s.layer, "odd-grid flags do not match the output channels");
    out.assign(static_cast<size_t>(oc * shape.o_h * shape.o_w), 0);
  }
  for (const auto& tile : s.tiles) {
    if (tile.array >= c.cfg.num_arrays)
      throw MappingError("", 0, s.layer, "schedule uses more arrays than the chip has");
  }
  c.run = LayerRun{};
  c.run.layer = s.layer;
  c.run.tiles = static_cast<int64_t>(s.tiles.size());
  if (programmed && programmed->size() != s.tiles.size())
    throw std::logic_error("engine: programmed tiles do not match the schedule of " + s.layer);
  c.cells = programmed ? std::move(*programmed) : program_layer(s, wq, odd_grid, c.cfg);
  for (const auto& cells : c.cells) {
    c.run.mapped_cells += cells.mapped_cells;
    c.run.used_rows += cells.n_rows;
    c.run.used_cols += cells.n_phys;
  }
  c.job = LayerJob{LayerJob::Kind::Array, nullptr};
  c.sched = &s;
  c.reprogram = reprogram;
  c.begin_layer(s.layer);
  if (!c.cfg.functional) return impl_->go();
  if (c.cfg.threads < 2) {
    layer_values(s, c.cells, input_codes, input_offset, c.cfg.datapath, out);
    return impl_->go();
  }
  // The values beside the timing, on two threads (even and odd tiles, the odd ones into a
  // buffer of their own added after: integer sums, any order); the cells stay put until
  // all are done.
  std::vector<int64_t> odd_out;
  std::future<void> even = std::async(std::launch::async, [&] {
    layer_values(s, c.cells, input_codes, input_offset, c.cfg.datapath, out, 0, 2);
  });
  std::future<void> odd;
  if (s.tiles.size() > 1)
    odd = std::async(std::launch::async, [&] {
      odd_out.assign(out.size(), 0);
      layer_values(s, c.cells, input_codes, input_offset, c.cfg.datapath, odd_out, 1, 2);
    });
  LayerRun run;
  try {
    run = impl_->go();
  } catch (...) {
    even.wait();
    if (odd.valid()) odd.wait();
    throw;
  }
  even.get();
  if (odd.valid()) {
    odd.get();
    for (size_t i = 0; i < out.size(); ++i) out[i] += odd_out[i];
  }
  return run;
}

namespace {

// A fused job's schedules and input codes, checked before anything is programmed.
void check_fused_job(const FusedLowRank& job, const EngineConfig& cfg) {
  const TileSchedule& rs = *job.r;
  const TileSchedule& ls = *job.l;
  const ConvShape& r_shape = rs.mapping.shape;
  const ConvShape& l_shape = ls.mapping.shape;
  if (rs.positions() != ls.positions() || l_shape.in_h != r_shape.o_h ||
      l_shape.in_w != r_shape.o_w || l_shape.ic != r_shape.oc || r_shape.groups != 1 ||
      l_shape.groups != 1)
    throw MappingError("", 0, rs.layer, "R and L schedules of a fused low-rank layer do not match");
  const int64_t bits = cfg.datapath.input_bits;
  for (int64_t zp : {job.r_offset, job.l_offset})
    if (zp < 0 || zp > (int64_t{1} << bits) - 1)
      throw MappingError(
          "", 0, rs.layer,
          fmt::format("input offset (zero point) {} outside 0..{}", zp, (int64_t{1} << bits) - 1));
  if (cfg.functional) {
    if (static_cast<int64_t>(job.r_input->size()) != r_shape.ic * r_shape.in_h * r_shape.in_w)
      throw MappingError("", 0, rs.layer, "input codes do not match R's input");
    for (int64_t v : *job.r_input)
      if (v < -job.r_offset || v > (int64_t{1} << bits) - 1 - job.r_offset)
        throw MappingError("", 0, rs.layer,
                           fmt::format("input code {} outside the {}-bit codes", v, bits));
  }
}

}  // namespace

FusedRun Engine::run_fused_lowrank(const FusedLowRank& job, bool reprogram) {
  Chip& c = *impl_->chip;
  const TileSchedule& rs = *job.r;
  const TileSchedule& ls = *job.l;
  check_fused_job(job, c.cfg);
  const ConvShape& r_shape = rs.mapping.shape;
  const ConvShape& l_shape = ls.mapping.shape;
  // Arrays: R tile i and the L tiles that name it share array i.
  int64_t n = 0;
  for (const auto* sc : {&rs, &ls})
    for (const auto& t : sc->tiles) {
      if (t.round != 0 || t.array >= c.cfg.num_arrays)
        throw MappingError(
            "", 0, rs.layer,
            fmt::format("L in R's idle cells needs every R and L tile resident at once; "
                        "the layer uses more than the chip's {} arrays",
                        c.cfg.num_arrays));
      n = std::max<int64_t>(n, t.array + 1);
    }
  for (auto* a : c.arrays) a->tile = a->l_tile = nullptr;
  for (const auto& t : rs.tiles) c.arrays[static_cast<size_t>(t.array)]->tile = &t;
  for (const auto& t : ls.tiles) {
    ArrayUnit* a = c.arrays[static_cast<size_t>(t.array)];
    if (a->l_tile) throw MappingError("", 0, rs.layer, "two L tiles on one array");
    a->l_tile = &t;
  }
  c.run = LayerRun{};
  c.run.layer = rs.layer;
  c.run.tiles = static_cast<int64_t>(rs.tiles.size() + ls.tiles.size());
  c.fused_cells.assign(static_cast<size_t>(n), TileCells{});
  const DatapathParams& dp = c.cfg.datapath;
  std::vector<int32_t> ones_r, ones_l;
  if (!c.cfg.functional) {
    ones_r.assign(job.r_wq
                      ? job.r_wq->size()
                      : static_cast<size_t>(r_shape.oc * r_shape.ic * r_shape.k_h * r_shape.k_w),
                  1);
    ones_l.assign(job.l_wq ? job.l_wq->size() : static_cast<size_t>(l_shape.oc * l_shape.ic), 1);
  }
  const int32_t* rw = c.cfg.functional ? job.r_wq->data() : ones_r.data();
  const int32_t* lw = c.cfg.functional ? job.l_wq->data() : ones_l.data();
  const uint8_t* r_odd = c.cfg.functional && !job.r_odd.empty() ? job.r_odd.data() : nullptr;
  const uint8_t* l_odd = c.cfg.functional && !job.l_odd.empty() ? job.l_odd.data() : nullptr;
  for (int64_t i = 0; i < n; ++i) {
    ArrayUnit* a = c.arrays[static_cast<size_t>(i)];
    TileCells r_cells, l_cells;
    if (a->tile) r_cells = program_tile(rs, *a->tile, rw, dp, r_odd);
    if (a->l_tile) l_cells = program_tile(ls, *a->l_tile, lw, dp, l_odd);
    a->r_rows = r_cells.n_rows;
    a->r_wcols = r_cells.n_wcols;
    a->r_phys = r_cells.n_phys;
    a->r_mapped = r_cells.mapped_cells;
    a->l_mapped = l_cells.mapped_cells;
    TileCells& cells = c.fused_cells[static_cast<size_t>(i)];
    cells = !a->l_tile ? std::move(r_cells)
            : !a->tile ? std::move(l_cells)
                       : stack_cells(r_cells, l_cells, dp);
    if (cells.n_rows > dp.rows)
      throw MappingError("", 0, rs.layer,
                         fmt::format("array {} holds {} rows of R and L, more than its {}", i,
                                     cells.n_rows, dp.rows));
    c.run.mapped_cells += cells.mapped_cells;
    c.run.used_rows += cells.n_rows;
    c.run.used_cols += cells.n_phys;
  }
  const int64_t pos = rs.positions();
  FusedExchange& fx = c.fx;
  fx.r_posted.assign(static_cast<size_t>(pos), 0);
  fx.l_ready.assign(static_cast<size_t>(pos), 0);
  fx.r_tiles = static_cast<int64_t>(rs.tiles.size());
  fx.r_out.assign(static_cast<size_t>(r_shape.oc * r_shape.o_h * r_shape.o_w), 0);
  fx.l_input.assign(fx.r_out.size(), 0);
  fx.l_out.assign(static_cast<size_t>(l_shape.oc * l_shape.o_h * l_shape.o_w), 0);
  c.job = LayerJob{LayerJob::Kind::Fused, &job};
  c.reprogram = reprogram;
  c.begin_layer(rs.layer);
  FusedRun out;
  out.run = impl_->go();
  out.r_out = std::move(fx.r_out);
  out.l_input = std::move(fx.l_input);
  out.l_out = std::move(fx.l_out);
  return out;
}

LayerRun Engine::run_digital(const std::string& name, int64_t ops) {
  Chip& c = *impl_->chip;
  c.run = LayerRun{};
  c.run.layer = name;
  c.job = LayerJob{LayerJob::Kind::Digital, nullptr};
  c.digital_ops = ops;
  c.begin_layer(name);
  return impl_->go();
}

}  // namespace imcsim
