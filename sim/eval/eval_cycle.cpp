// `imcsim eval --mode cycle`: the data set's images through the cycle-accurate engine
// (models/, SystemC). Linked only into the imcsim binary, which has the engine.
//
// One Engine (one elaboration) serves every image of the process, as SystemC allows one
// elaboration per process: images run one after another on the same chip, each layer's
// accumulators from the engine (the integer reference's AccumulatorHook), the digital units
// (residual add, pooling, requantization) from the reference, exactly as `mode: cycle` runs
// one image. The schedules come from the `auto` mapper (the best of im2col, SDK and VW-SDK
// per layer); at the lossless ADC bound the logits equal the int mode's exactly, whatever
// the mapping. Images run sequentially (-j does not apply: one kernel per process).
#include <algorithm>

#include "mappers/mapper.hpp"
#include "mappers/schedule.hpp"
#include "models/engine.hpp"
#include "sim/eval/eval.hpp"
#include "sim/run/cycle_run.hpp"
#include "workloads/error.hpp"
#include "workloads/reference.hpp"

namespace imcsim::eval {

std::vector<std::vector<double>> eval_cycle_logits(const EvalInputs& in,
                                                   const EvalOptions& options) {
  if (!in.arch)
    throw ConfigError(
        "", 0, "--arch",
        "--mode cycle needs an architecture (--arch A.yaml): the engine simulates its arrays");
  const ArchSpec& arch = *in.arch;
  const ArrayGeometry geom = arch.geometry();
  const MapperInfo& mapper = find_mapper("auto");

  std::map<std::string, TileSchedule> schedules;
  int64_t tiles = 0;
  for (const auto& l : in.net.layers) {
    if (!l.on_arrays()) continue;
    const LayerMapping m = map_layer(mapper, conv_shape(l, Convention::Framework), geom);
    auto it = schedules.emplace(l.name, make_schedule(m, geom, arch.arrays)).first;
    tiles += static_cast<int64_t>(it->second.tiles.size());
  }
  // Weights stay resident when every layer fits on the chip at once (as `mode: cycle`).
  const bool resident = tiles <= arch.arrays;

  Engine engine(engine_config(arch, default_engine(in.arch_file)));
  const auto qweights = ref::quantize_weights(in.net, in.weights, in.weight_bits);
  ref::IntOptions io;
  io.weight_bits = in.weight_bits;
  io.input_bits = in.input_bits;
  if (in.calibration) io.calibration = in.calibration->act_quant();

  const ref::AccumulatorHook hook = [&](const Layer& layer, const ref::IntTensor& codes,
                                        const ref::QuantizedLayer& q, int64_t zero_point) {
    ref::IntTensor acc(layer.out.c, layer.out.h, layer.out.w);
    engine.run_array_layer(schedules.at(layer.name), codes.data, q.q, acc.data, !resident,
                           zero_point, q.odd_grid);
    engine.run_digital(layer.name + ".requant", layer.out.elements());
    return acc;
  };

  std::vector<std::vector<double>> out;
  out.reserve(in.images.size());
  Progress progress("eval cycle", static_cast<int64_t>(in.images.size()), options.quiet);
  for (int64_t index : in.images) {
    const ref::FloatTensor x = in.dataset.image(*in.split, index);
    const ref::IntRun run = ref::run_int(in.net, qweights, x, io, hook);
    out.push_back(run.output().data);
    progress.tick();
  }
  engine.finish();
  return out;
}

}  // namespace imcsim::eval
