#include "workloads/onnx/onnx_run.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "workloads/error.hpp"

namespace imcsim::onnx_io {

namespace {

std::vector<int64_t> image_dims(const TensorShape& s, int rank) {
  if (rank == 4) return {s.c, s.h, s.w};
  if (rank == 3) return {s.c, s.w};
  return {s.elements()};
}

int64_t check_batch(const Network& net, const ProtoTensor& input, const std::string& file,
                    int rank) {
  std::vector<int64_t> want = image_dims(net.input, rank);
  std::vector<int64_t> got(input.dims.begin() + (input.dims.empty() ? 0 : 1), input.dims.end());
  if (static_cast<int>(input.dims.size()) != rank || got != want || input.dims[0] < 1)
    throw WorkloadError(file, 0, input.name.empty() ? "input" : input.name,
                        fmt::format("input tensor has dims [{}], the network expects [N, {}]",
                                    fmt::join(input.dims, ", "), fmt::join(want, ", ")));
  return input.dims[0];
}

}  // namespace

ProtoTensor infer_network(const Network& net, const WeightSet& weights, const ProtoTensor& input,
                          const std::string& input_file, int input_rank, int output_rank,
                          const InferOptions& opt) {
  const int64_t batch = check_batch(net, input, input_file, input_rank);
  check_weights(net, weights);
  const TensorShape out_shape = net.layers.back().out;
  ProtoTensor out;
  out.name = "output";
  out.data_type = kFloat;
  out.dims = image_dims(out_shape, output_rank);
  out.dims.insert(out.dims.begin(), batch);
  const int64_t per_in = net.input.elements();
  std::map<std::string, ref::QuantizedLayer> q;
  if (opt.mode == InferMode::Int)
    q = ref::quantize_weights(net, weights, opt.int_options.weight_bits);
  for (int64_t b = 0; b < batch; ++b) {
    ref::FloatTensor x(net.input.c, net.input.h, net.input.w);
    std::copy(input.values.begin() + b * per_in, input.values.begin() + (b + 1) * per_in,
              x.data.begin());
    const ref::FloatTensor y = opt.mode == InferMode::Float
                                   ? ref::run_float(net, weights, x).output()
                                   : ref::run_int(net, q, x, opt.int_options).output();
    out.values.insert(out.values.end(), y.data.begin(), y.data.end());
  }
  return out;
}

ProtoTensor infer_model(const OnnxModel& m, const ProtoTensor& input, const std::string& input_file,
                        const InferOptions& opt) {
  if (!m.integer) {
    ProtoTensor out =
        infer_network(m.net, m.weights, input, input_file, m.input_rank, m.output_rank, opt);
    out.name = m.output_name;
    return out;
  }
  const int64_t batch = check_batch(m.net, input, input_file, m.input_rank);
  const Layer& l = m.net.layers.front();
  const ref::QuantizedLayer q = ref::exact_integer_layer(l, m.weights.at(l.name));
  ProtoTensor out;
  out.name = m.output_name;
  out.data_type = kInt32;
  out.dims = image_dims(l.out, m.output_rank);
  out.dims.insert(out.dims.begin(), batch);
  const int64_t per_in = m.net.input.elements();
  for (int64_t b = 0; b < batch; ++b) {
    ref::IntTensor x(m.net.input.c, m.net.input.h, m.net.input.w);
    for (int64_t i = 0; i < per_in; ++i)
      x.data[static_cast<size_t>(i)] = static_cast<int64_t>(
          input.values[static_cast<size_t>(b * per_in + i)] - m.input_zero_point);
    const ref::IntTensor acc = ref::conv2d_int(x, l, q);
    for (int64_t v : acc.data) out.values.push_back(static_cast<double>(v));
  }
  return out;
}

}  // namespace imcsim::onnx_io
