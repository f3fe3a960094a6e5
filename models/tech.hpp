// Technology parameters of the simulated machine: latencies (in clocks) and the
// action-energy table (pJ per event, Accelergy style). Plain values, loaded by sim/
// from configs/tech/*.yaml where every number carries its source.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>

namespace imcsim {

struct TimingParams {
  double clock_ns = 1.0;
  int64_t t_dac = 1;         // DAC settle, per phase
  int64_t t_read = 1;        // wordline drive + bitline settle + sample-and-hold, per phase
  int64_t t_adc = 1;         // one ADC conversion
  int64_t t_route = 1;       // SDK router: drive a fetched window onto the wordlines
  int64_t t_shift_add = 1;   // merge phases and slices of one computing cycle
  int64_t t_accumulate = 1;  // one partial-sum write into a column tile's accumulator
  int64_t input_bits_per_clock = 1024;   // global input buffer read bandwidth (shared)
  int64_t output_bits_per_clock = 1024;  // output buffer write bandwidth (shared)
  int64_t accumulator_bits = 32;         // width of a stored partial sum
  int64_t t_program_row = 100;           // write one row of an array (reprogramming)
  int64_t digital_ops_per_clock = 64;    // residual add / pooling / activation / requant
};

// Event kinds counted by the engine; energy = count x energy per event.
enum class Event : int {
  DacConversion,  // one DAC driving one wordline for one phase
  WordlineActivation,
  CellRead,  // one cell on an active wordline read in one phase
  AdcConversion,
  ShiftAdd,        // one ADC code merged by the shift-add unit
  AccumulatorAdd,  // one partial sum added in a column tile's accumulator
  BufferReadBit,
  BufferWriteBit,
  RouterPixel,  // one pixel steered onto a wordline by the SDK router
  CellWrite,    // weight (re)programming
  DigitalOp,    // residual add, pooling, activation, requantization (per element)
  kCount
};
constexpr int kEventCount = static_cast<int>(Event::kCount);
const char* to_string(Event e);
// Energy component an event is billed to (REFERENCE §11): dac, array, adc, shift_add,
// accumulator, buffer, router, programming, digital.
const char* component_of(Event e);

using EventCounts = std::array<int64_t, kEventCount>;

// Area of one array with its periphery (um^2), for the chip's area report.
struct AreaTable {
  double cell_um2 = 0;                 // one crossbar cell
  double dac_um2 = 0;                  // one wordline DAC/driver
  double adc_um2 = 0;                  // one ADC (an array has ceil(cols / adc_share))
  double shift_add_um2 = 0;            // shift-add and accumulator of one array
  double periphery_um2_per_array = 0;  // input/output registers, S&H, mux, control
};

struct EnergyTable {
  std::string name;
  std::array<double, kEventCount> pj{};  // energy per event
  double leakage_mw_per_array = 0;       // static power of one array with its periphery
};

// The components dynamic energy is reported in (REFERENCE §11), in report order, and the
// one pricing of event counts: count x pJ per event, summed into the event's component and
// into the total in event order (the cycle run, `imcsim reprice` and the paper study all
// price with it).
constexpr int kComponentCount = 9;
extern const char* const kEnergyComponents[kComponentCount];
int component_index(Event e);  // index in kEnergyComponents of component_of(e)
struct ComponentEnergy {
  std::array<double, kComponentCount> pj{};
  double total = 0;
};
ComponentEnergy price_events(const EventCounts& events, const EnergyTable& table);

}  // namespace imcsim
