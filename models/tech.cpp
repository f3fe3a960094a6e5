#include "models/tech.hpp"

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

const char* component_of(Event e) {
  switch (e) {
    case Event::DacConversion: return "dac";
    case Event::WordlineActivation:
    case Event::CellRead: return "array";
    case Event::AdcConversion: return "adc";
    case Event::ShiftAdd: return "shift_add";
    case Event::AccumulatorAdd: return "accumulator";
    case Event::BufferReadBit:
    case Event::BufferWriteBit: return "buffer";
    case Event::RouterPixel: return "router";
    case Event::CellWrite: return "programming";
    case Event::DigitalOp: return "digital";
    case Event::kCount: break;
  }
  return "?";
}

}  // namespace imcsim
