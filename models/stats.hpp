// Named statistics of the engine's hardware blocks (in the manner of DRAMSys's statistics:
// every block owns its counters, one writer walks them). A block is a plain struct of
// int64 counters with a visit() that names each one, its unit, its description, the energy
// event it is priced as (models/tech.hpp; kCount = not priced) and the stall cause it
// records (nullptr = not a stall). The engine adds into its blocks' counters while it runs
// (as cheap as a plain integer add) and, after each layer, takes a StatNode snapshot: the
// tree chip -> {input_buffer, output_buffer, programmer, digital, arrays -> arrayN ->
// {router, dac, crossbar, adc_bank, shift_add, accumulator}}. The layer's event counts and
// stalls are sums over that tree (events_of, stalls_of); the run's stats.json prints it.
//
// Plain C++ (no SystemC).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "models/tech.hpp"

namespace imcsim {

struct StatDef {
  const char* name;
  const char* unit;
  const char* description;
  Event event = Event::kCount;  // the energy event one count is priced as; kCount = none
  const char* stall = nullptr;  // stall cause (LayerRun::stalls key) this counter records
};

struct StatValue {
  StatDef def;
  int64_t value = 0;
};

// A snapshot of a block (values) or of a group of blocks (children).
struct StatNode {
  std::string name;
  std::vector<StatValue> values;
  std::vector<StatNode> children;

  // Adds `other` (a snapshot of the same blocks): values by position, children by name
  // (children `other` has and this node lacks are appended).
  void add(const StatNode& other);
  bool all_zero() const;
  const StatNode* child(const std::string& n) const;
  const StatValue* value(const std::string& n) const;
};

// Snapshot of one block: its counters as values, in visit order.
template <typename Block>
StatNode snapshot(const std::string& name, Block& b) {
  StatNode n;
  n.name = name;
  b.visit([&](const StatDef& d, int64_t& v) { n.values.push_back({d, v}); });
  return n;
}
template <typename Block>
void reset(Block& b) {
  b.visit([](const StatDef&, int64_t& v) { v = 0; });
}
// Appends a snapshot of `b` to `parent` as its child `name`, then zeroes `b`'s counters.
template <typename Block>
void take(StatNode& parent, const std::string& name, Block& b) {
  parent.children.push_back(snapshot(name, b));
  reset(b);
}

// Sum over the tree of every counter priced as each event.
EventCounts events_of(const StatNode& n);
// Sum over the tree of every stall counter, by cause; causes with 0 clocks are left out.
std::map<std::string, int64_t> stalls_of(const StatNode& n);

// ---- the blocks --------------------------------------------------------------------------

// Global input buffer, shared by every array (a bandwidth port, REFERENCE §10).
struct InputBufferStats {
  int64_t read_bits = 0;
  template <typename F>
  void visit(F&& f) {
    f(StatDef{"read_bits", "bits", "input bits read for the arrays' windows", Event::BufferReadBit},
      read_bits);
  }
};

// Output buffer: partial sums written (read-modify-write) by every array.
struct OutputBufferStats {
  int64_t write_bits = 0;
  template <typename F>
  void visit(F&& f) {
    f(StatDef{"write_bits", "bits", "partial-sum bits written (accumulator_bits each)",
              Event::BufferWriteBit},
      write_bits);
  }
};

// Weight (re)programming of the arrays.
struct ProgrammerStats {
  int64_t cell_writes = 0, clocks = 0;
  template <typename F>
  void visit(F&& f) {
    f(StatDef{"cell_writes", "cells", "cells written (rows x physical columns of a tile)",
              Event::CellWrite},
      cell_writes);
    f(StatDef{"clocks", "clocks", "clocks spent programming (arrays of a round in parallel)"},
      clocks);
  }
};

// Digital units: residual add, pooling, activation, requantization.
struct DigitalStats {
  int64_t ops = 0;
  template <typename F>
  void visit(F&& f) {
    f(StatDef{"ops", "elements", "elements processed by the digital units", Event::DigitalOp}, ops);
  }
};

// SDK input router of one array: fetched window -> input register -> wordlines.
struct RouterStats {
  int64_t pixels = 0, bandwidth_stall = 0, requant_stall = 0;
  template <typename F>
  void visit(F&& f) {
    f(StatDef{"pixels", "pixels", "pixels steered onto a wordline", Event::RouterPixel}, pixels);
    f(StatDef{"input_buffer_bandwidth_stall", "clocks",
              "clocks a fetch waited for other arrays' input buffer reads", Event::kCount,
              "input_buffer_bandwidth"},
      bandwidth_stall);
    f(StatDef{"requantization_stall", "clocks",
              "clocks L's rows waited for R's window to be requantized", Event::kCount,
              "requantization"},
      requant_stall);
  }
};

// Wordline DACs of one array.
struct DacStats {
  int64_t conversions = 0;
  template <typename F>
  void visit(F&& f) {
    f(StatDef{"conversions", "conversions", "one DAC driving one wordline for one phase",
              Event::DacConversion},
      conversions);
  }
};

// Crossbar of one array (wordline drive, cell reads, sample-and-hold).
struct CrossbarStats {
  int64_t activations = 0, wordlines = 0, cell_reads = 0, input_stall = 0, adc_stall = 0;
  template <typename F>
  void visit(F&& f) {
    f(StatDef{"activations", "computing cycles", "array activations (one window position each)"},
      activations);
    f(StatDef{"wordline_activations", "wordline-phases", "wordlines driven, per DAC phase",
              Event::WordlineActivation},
      wordlines);
    f(StatDef{"cell_reads", "cell-phases", "cells read on an active wordline, per phase",
              Event::CellRead},
      cell_reads);
    f(StatDef{"input_fetch_stall", "clocks", "clocks idle waiting for the next window",
              Event::kCount, "input_fetch"},
      input_stall);
    f(StatDef{"adc_busy_stall", "clocks",
              "clocks idle because the sample-and-hold was still converting", Event::kCount,
              "adc_busy"},
      adc_stall);
  }
};

// The ADCs of one array (ceil(columns / adc_share) of them, shared by multiplexing).
struct AdcBankStats {
  int64_t conversions = 0, busy_clocks = 0, post_stall = 0;
  template <typename F>
  void visit(F&& f) {
    f(StatDef{"conversions", "conversions", "column values converted", Event::AdcConversion},
      conversions);
    f(StatDef{"busy_clocks", "clocks", "clocks the bank spent converting"}, busy_clocks);
    f(StatDef{"shift_add_backlog_stall", "clocks",
              "clocks idle because the shift-add/accumulate stage was still busy", Event::kCount,
              "shift_add_backlog"},
      post_stall);
  }
};

// Shift-add unit of one array: merges ADC codes of slices and phases.
struct ShiftAddStats {
  int64_t merges = 0;
  template <typename F>
  void visit(F&& f) {
    f(StatDef{"merges", "codes", "ADC codes merged", Event::ShiftAdd}, merges);
  }
};

// Partial-sum accumulator of one array and its write port to the output buffer.
struct AccumulatorStats {
  int64_t adds = 0, bandwidth_stall = 0;
  template <typename F>
  void visit(F&& f) {
    f(StatDef{"adds", "partial sums", "partial sums added for valid output columns",
              Event::AccumulatorAdd},
      adds);
    f(StatDef{"output_buffer_bandwidth_stall", "clocks",
              "clocks a write waited for other arrays' output buffer writes", Event::kCount,
              "output_buffer_bandwidth"},
      bandwidth_stall);
  }
};

}  // namespace imcsim
