#include "models/tech.hpp"

#include <stdexcept>

namespace imcsim {

const char* to_string(Event e) {
  switch (e) {
    case Event::DacConversion: return "dac_conversions";
    case Event::WordlineActivation: return "wordline_activations";
    case Event::CellRead: return "cell_reads";
    case Event::AdcConversion: return "adc_conversions";
    case Event::ShiftAdd: return "shift_adds";
    case Event::AccumulatorAdd: return "accumulator_adds";
    case Event::BufferReadBit: return "buffer_read_bits";
    case Event::BufferWriteBit: return "buffer_write_bits";
    case Event::RouterPixel: return "router_pixels";
    case Event::CellWrite: return "cell_writes";
    case Event::DigitalOp: return "digital_ops";
    case Event::kCount: break;
  }
  return "?";
}

const char* const kEnergyComponents[kComponentCount] = {"dac",       "array",       "adc",
                                                        "shift_add", "accumulator", "buffer",
                                                        "router",    "programming", "digital"};

int component_index(Event e) {
  switch (e) {
    case Event::DacConversion: return 0;
    case Event::WordlineActivation:
    case Event::CellRead: return 1;
    case Event::AdcConversion: return 2;
    case Event::ShiftAdd: return 3;
    case Event::AccumulatorAdd: return 4;
    case Event::BufferReadBit:
    case Event::BufferWriteBit: return 5;
    case Event::RouterPixel: return 6;
    case Event::CellWrite: return 7;
    case Event::DigitalOp: return 8;
    case Event::kCount: break;
  }
  throw std::logic_error("component_index: not an event");
}

const char* component_of(Event e) {
  return kEnergyComponents[component_index(e)];
}

ComponentEnergy price_events(const EventCounts& events, const EnergyTable& table) {
  ComponentEnergy out;
  for (int i = 0; i < kEventCount; ++i) {
    const double pj =
        static_cast<double>(events[static_cast<size_t>(i)]) * table.pj[static_cast<size_t>(i)];
    out.pj[static_cast<size_t>(component_index(static_cast<Event>(i)))] += pj;
    out.total += pj;
  }
  return out;
}

}  // namespace imcsim
