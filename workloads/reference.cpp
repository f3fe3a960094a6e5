#include "workloads/reference.hpp"

#include <fmt/format.h>

#include <Eigen/Dense>

#ifdef IMCSIM_HAVE_OPENBLAS
#include <cblas.h>
#include <dlfcn.h>
#endif
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <string>

#include "workloads/error.hpp"

namespace imcsim::ref {

namespace {

int64_t out_extent(int64_t in, int64_t k, int64_t stride, int64_t pad_begin, int64_t pad_end,
                   int64_t dilation) {
  return (in + pad_begin + pad_end - dilation * (k - 1) - 1) / stride + 1;
}

void check_input(const Layer& l, int64_t c, int64_t h, int64_t w) {
  if (c != l.in.c || h != l.in.h || w != l.in.w)
    throw std::invalid_argument(
        fmt::format("reference: layer {} expects a {}x{}x{} (CxHxW) input, got {}x{}x{}", l.name,
                    l.in.c, l.in.h, l.in.w, c, h, w));
}

void check_out_shape(const Layer& l, int64_t oh, int64_t ow) {
  if (oh != l.out.h || ow != l.out.w)
    throw std::invalid_argument(
        fmt::format("reference: layer {} geometry gives {}x{}, the "
                    "network says {}x{}",
                    l.name, oh, ow, l.out.h, l.out.w));
}

double bn_apply(const BatchNormParams& bn, size_t oc, double x) {
  return static_cast<double>(bn.gamma[oc]) * (x - static_cast<double>(bn.mean[oc])) /
             std::sqrt(static_cast<double>(bn.var[oc]) + static_cast<double>(bn.eps)) +
         static_cast<double>(bn.beta[oc]);
}

// Bias, unfolded BN, activation of channel `oc` (float mode).
double finish(const Layer& l, const LayerWeights& lw, size_t oc, double z) {
  if (!lw.bias.empty()) z += static_cast<double>(lw.bias[oc]);
  if (lw.bn) z = bn_apply(*lw.bn, oc, z);
  return apply_activation(l, z);
}

FloatTensor pool(const Layer& l, const FloatTensor& in) {
  const int64_t oh = out_extent(in.h, l.k_h, l.stride_h, l.pad_h, l.pad_bottom(), 1);
  const int64_t ow = out_extent(in.w, l.k_w, l.stride_w, l.pad_w, l.pad_right(), 1);
  check_out_shape(l, oh, ow);
  FloatTensor out(in.c, oh, ow);
  const bool is_max = l.type == LayerType::MaxPool;
  for (int64_t c = 0; c < in.c; ++c)
    for (int64_t y = 0; y < oh; ++y)
      for (int64_t x = 0; x < ow; ++x) {
        double acc = is_max ? -std::numeric_limits<double>::infinity() : 0.0;
        int64_t valid = 0;
        for (int64_t ky = 0; ky < l.k_h; ++ky)
          for (int64_t kx = 0; kx < l.k_w; ++kx) {
            const int64_t iy = y * l.stride_h - l.pad_h + ky;
            const int64_t ix = x * l.stride_w - l.pad_w + kx;
            if (iy < 0 || iy >= in.h || ix < 0 || ix >= in.w) continue;  // padding
            ++valid;
            acc = is_max ? std::max(acc, in.at(c, iy, ix)) : acc + in.at(c, iy, ix);
          }
        // ONNX AveragePool: count_include_pad divides by the whole window (floor mode keeps
        // every window inside the padded input), else by the real pixels under it.
        if (!is_max) acc /= static_cast<double>(l.count_include_pad ? l.k_h * l.k_w : valid);
        out.at(c, y, x) = apply_activation(l, acc);
      }
  return out;
}

}  // namespace

double apply_activation(const Layer& l, double x) {
  switch (l.act) {
    case Activation::None: return x;
    case Activation::Relu: return x > 0.0 ? x : 0.0;
    case Activation::Relu1: return std::min(1.0, std::max(0.0, x));
    case Activation::Clip: return std::min(l.clip_hi, std::max(l.clip_lo, x));
    case Activation::Gelu: return 0.5 * x * (1.0 + std::erf(x * 0.70710678118654752440));
  }
  return x;
}

// ---- float ----------------------------------------------------------------------------------

namespace {

// im2col of group g: row (c, ky, kx) of the group's input patch, column = output pixel
// (REFERENCE §2's unrolling); zero padding. `in` is CHW of any element type.
template <typename T>
void im2col(const ChwTensor<T>& in, const Layer& l, int64_t g, int64_t oh, int64_t ow,
            Eigen::MatrixXd& patches) {
  const int64_t icg = l.in.c / l.groups;
  const int64_t rows = icg * l.k_h * l.k_w;
  patches.resize(rows, oh * ow);
  // Column by column (an output pixel's patch is contiguous in the column-major matrix).
  for (int64_t y = 0; y < oh; ++y)
    for (int64_t x = 0; x < ow; ++x) {
      double* col = patches.data() + (y * ow + x) * rows;
      for (int64_t c = 0; c < icg; ++c)
        for (int64_t ky = 0; ky < l.k_h; ++ky) {
          const int64_t iy = y * l.stride_h - l.pad_h + ky * l.dilation_h;
          const bool row_in = iy >= 0 && iy < in.h;
          for (int64_t kx = 0; kx < l.k_w; ++kx) {
            const int64_t ix = x * l.stride_w - l.pad_w + kx * l.dilation_w;
            *col++ = (!row_in || ix < 0 || ix >= in.w)
                         ? 0.0
                         : static_cast<double>(in.at(g * icg + c, iy, ix));
          }
        }
    }
}

// How conv_gemm multiplies. Eigen: the float reference's own order of additions (its
// rounding is what the goldens hold). Exact: operands and every partial sum are integers
// below 2^53, so any order gives the same doubles; OpenBLAS's dgemm (one thread: callers
// bring their own, workloads/parallel.hpp) is several times faster than Eigen's kernel for
// the baseline instruction set the project builds for.
enum class Gemm { Eigen, Exact };

#ifdef IMCSIM_HAVE_OPENBLAS
// OpenBLAS's dgemm, or nullptr (Eigen then: the same numbers). Loaded on first use with
// OPENBLAS_NUM_THREADS=1 (the caller's value put back after): a pthreads OpenBLAS starts its
// thread pool when it is loaded, and an idle pool thread spins (sched_yield) after start-up
// and after each call: a third of a small cycle run's samples, and a core's share taken from
// the engine's threads or a sweep's other point. With one thread it starts none.
decltype(&cblas_dgemm) openblas_dgemm() {
  static const auto fn = []() -> decltype(&cblas_dgemm) {
    const char* before = std::getenv("OPENBLAS_NUM_THREADS");
    const std::string saved = before ? before : "";
    ::setenv("OPENBLAS_NUM_THREADS", "1", 1);
    void* lib = ::dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    if (before)
      ::setenv("OPENBLAS_NUM_THREADS", saved.c_str(), 1);
    else
      ::unsetenv("OPENBLAS_NUM_THREADS");
    return lib ? reinterpret_cast<decltype(&cblas_dgemm)>(::dlsym(lib, "cblas_dgemm")) : nullptr;
  }();
  return fn;
}
#endif

void multiply(Gemm how, const Eigen::MatrixXd& w, const Eigen::MatrixXd& patches,
              Eigen::Block<Eigen::MatrixXd> out) {
#ifdef IMCSIM_HAVE_OPENBLAS
  if (how == Gemm::Exact && openblas_dgemm()) {
    openblas_dgemm()(CblasColMajor, CblasNoTrans, CblasNoTrans, static_cast<blasint>(w.rows()),
                     static_cast<blasint>(patches.cols()), static_cast<blasint>(w.cols()), 1.0,
                     w.data(), static_cast<blasint>(w.rows()), patches.data(),
                     static_cast<blasint>(patches.rows()), 0.0, out.data(),
                     static_cast<blasint>(out.outerStride()));
    return;
  }
#endif
  (void)how;
  out.noalias() = w * patches;
}

// The convolution as one GEMM per group: out[oc, p] = sum_r w(oc, r) * patches(r, p), where
// weight_at(flat OIHW index) gives the weight as a double.
template <typename T, typename W>
Eigen::MatrixXd conv_gemm(const ChwTensor<T>& in, const Layer& l, int64_t oh, int64_t ow,
                          W weight_at, Gemm how = Gemm::Eigen) {
  const int64_t icg = l.in.c / l.groups, ocg = l.out.c / l.groups;
  const int64_t rows = icg * l.k_h * l.k_w, cols = oh * ow;
  Eigen::MatrixXd out(l.out.c, cols);
  Eigen::MatrixXd patches, w(ocg, rows);
  for (int64_t g = 0; g < l.groups; ++g) {
    im2col(in, l, g, oh, ow, patches);
    // The OIHW weights (row o contiguous) into the column-major matrix 8 columns at a time:
    // the 8 cache lines written stay in L1 over consecutive o (a plain row by row copy
    // wrote one line per weight: most of the integer reference's own time at ResNet-18).
    constexpr int64_t kBlock = 8;
    for (int64_t r0 = 0; r0 < rows; r0 += kBlock) {
      const int64_t r1 = std::min(rows, r0 + kBlock);
      for (int64_t o = 0; o < ocg; ++o)
        for (int64_t r = r0; r < r1; ++r) w(o, r) = weight_at((g * ocg + o) * rows + r);
    }
    multiply(how, w, patches, out.middleRows(g * ocg, ocg));
  }
  return out;
}

}  // namespace

void load_blas() {
#ifdef IMCSIM_HAVE_OPENBLAS
  (void)openblas_dgemm();
#endif
}

FloatTensor conv2d_float(const FloatTensor& in, const Layer& l, const Tensor& weight) {
  check_input(l, in.c, in.h, in.w);
  const int64_t oh = out_extent(in.h, l.k_h, l.stride_h, l.pad_h, l.pad_bottom(), l.dilation_h);
  const int64_t ow = out_extent(in.w, l.k_w, l.stride_w, l.pad_w, l.pad_right(), l.dilation_w);
  check_out_shape(l, oh, ow);
  const Eigen::MatrixXd y = conv_gemm(in, l, oh, ow, [&](int64_t k) {
    return static_cast<double>(weight.data[static_cast<size_t>(k)]);
  });
  FloatTensor out(l.out.c, oh, ow);
  const int64_t cols = oh * ow;
  for (int64_t o = 0; o < l.out.c; ++o)
    for (int64_t p = 0; p < cols; ++p) out.data[static_cast<size_t>(o * cols + p)] = y(o, p);
  return out;
}

FloatTensor run_layer_float(const Layer& l, const std::vector<const FloatTensor*>& inputs,
                            const LayerWeights* lw) {
  if (inputs.empty() || (l.on_arrays() && !lw))
    throw std::invalid_argument("reference: layer " + l.name + " without inputs or weights");
  const FloatTensor& in = *inputs.front();
  switch (l.type) {
    case LayerType::Conv: {
      FloatTensor out = conv2d_float(in, l, lw->weight);
      const int64_t plane = out.h * out.w;
      for (int64_t oc = 0; oc < out.c; ++oc)
        for (int64_t p = 0; p < plane; ++p) {
          double& v = out.data[static_cast<size_t>(oc * plane + p)];
          v = finish(l, *lw, static_cast<size_t>(oc), v);
        }
      return out;
    }
    case LayerType::Fc: {
      const int64_t n_in = in.size();
      if (lw->weight.shape.size() != 2 || lw->weight.shape[1] != n_in)
        throw std::invalid_argument(
            fmt::format("reference: fc {} weight {} does not take {} inputs", l.name,
                        lw->weight.shape_str(), n_in));
      FloatTensor out(l.out.c, 1, 1);
      for (int64_t o = 0; o < l.out.c; ++o) {
        double acc = 0.0;
        const float* row = lw->weight.data.data() + o * n_in;
        for (int64_t i = 0; i < n_in; ++i)
          acc += static_cast<double>(row[i]) * in.data[static_cast<size_t>(i)];
        out.data[static_cast<size_t>(o)] = finish(l, *lw, static_cast<size_t>(o), acc);
      }
      return out;
    }
    case LayerType::Add: {
      FloatTensor out = in;
      for (size_t k = 1; k < inputs.size(); ++k) {
        if (inputs[k]->data.size() != out.data.size())
          throw std::invalid_argument("reference: add " + l.name + " joins different shapes");
        for (size_t i = 0; i < out.data.size(); ++i) out.data[i] += inputs[k]->data[i];
      }
      for (double& v : out.data) v = apply_activation(l, v);
      return out;
    }
    case LayerType::MaxPool:
    case LayerType::AvgPool: check_input(l, in.c, in.h, in.w); return pool(l, in);
    case LayerType::GlobalAvgPool: {
      FloatTensor out(in.c, 1, 1);
      const int64_t plane = in.h * in.w;
      for (int64_t c = 0; c < in.c; ++c) {
        double s = 0.0;
        for (int64_t p = 0; p < plane; ++p) s += in.data[static_cast<size_t>(c * plane + p)];
        out.data[static_cast<size_t>(c)] = apply_activation(l, s / static_cast<double>(plane));
      }
      return out;
    }
  }
  throw std::logic_error("reference: unknown layer type");
}

namespace {

// Name -> index of the producing layer (-1 = network input), checked once per run.
std::vector<std::vector<int>> input_indices(const Network& net) {
  std::map<std::string, int> index{{"input", -1}};
  std::vector<std::vector<int>> out;
  for (size_t i = 0; i < net.layers.size(); ++i) {
    std::vector<int> ins;
    for (const auto& name : net.layers[i].inputs) {
      auto it = index.find(name);
      if (it == index.end())
        throw WorkloadError(net.source, net.layers[i].source_line, net.layers[i].name,
                            "input \"" + name + "\" is not an earlier layer");
      ins.push_back(it->second);
    }
    out.push_back(std::move(ins));
    index[net.layers[i].name] = static_cast<int>(i);
  }
  return out;
}

void check_network_input(const Network& net, int64_t c, int64_t h, int64_t w) {
  if (net.layers.empty()) throw WorkloadError(net.source, 0, "layers", "network has no layers");
  if (c != net.input.c || h != net.input.h || w != net.input.w)
    throw WorkloadError(
        net.source, 0, "input",
        fmt::format("input tensor is {}x{}x{} (CxHxW), the network expects {}x{}x{}", c, h, w,
                    net.input.c, net.input.h, net.input.w));
}

// Per layer: whether an array layer (conv/fc) reads its output. Those tensors, and the
// network input, are held as codes where they are produced (file comment of the header).
std::vector<bool> read_by_array_layers(const Network& net,
                                       const std::vector<std::vector<int>>& idx) {
  std::vector<bool> read(net.layers.size(), false);
  for (size_t i = 0; i < net.layers.size(); ++i)
    if (net.layers[i].on_arrays() && idx[i].front() >= 0)
      read[static_cast<size_t>(idx[i].front())] = true;
  return read;
}

}  // namespace

FloatRun run_float(const Network& net, const WeightSet& weights, const FloatTensor& input) {
  check_network_input(net, input.c, input.h, input.w);
  const auto idx = input_indices(net);
  FloatRun run;
  run.outputs.reserve(net.layers.size());
  for (size_t i = 0; i < net.layers.size(); ++i) {
    const Layer& l = net.layers[i];
    std::vector<const FloatTensor*> ins;
    for (int k : idx[i]) ins.push_back(k < 0 ? &input : &run.outputs[static_cast<size_t>(k)]);
    run.outputs.push_back(run_layer_float(l, ins, l.on_arrays() ? &weights.at(l.name) : nullptr));
  }
  return run;
}

// ---- integer --------------------------------------------------------------------------------

QuantizedLayer quantize_layer(const Layer& l, const LayerWeights& lw, int bits) {
  if (bits < 2 || bits > 32)
    throw std::invalid_argument(fmt::format("reference: weight_bits {} outside 2..32", bits));
  QuantizedLayer q;
  q.layer = l.name;
  q.weight_bits = bits;
  q.shape = lw.weight.shape;
  const int64_t oc = q.shape.empty() ? 0 : q.shape[0];
  const int64_t per = oc ? lw.weight.size() / oc : 0;
  const double qmax = std::ldexp(1.0, bits - 1) - 1.0;
  q.q.resize(lw.weight.data.size());
  q.w_scale.assign(static_cast<size_t>(oc), 1.0);
  q.odd_grid.assign(static_cast<size_t>(oc), 0);
  const double odd_top = std::ldexp(1.0, bits) - 1.0;  // largest odd multiple of the grid
  q.mul.assign(static_cast<size_t>(oc), 1.0);
  q.shift.assign(static_cast<size_t>(oc), 0.0);
  for (int64_t o = 0; o < oc; ++o) {
    double amax = 0.0;
    for (int64_t i = 0; i < per; ++i)
      amax = std::max(
          amax, std::fabs(static_cast<double>(lw.weight.data[static_cast<size_t>(o * per + i)])));
    // A channel already on the b-bit mid-rise grid (every weight an odd multiple of
    // amax / (2^b - 1), e.g. a 2-bit layer's E * {-1, -1/3, 1/3, 1}) is held exactly on it:
    // 2^b levels where the symmetric grid has 2^b - 1. Within float32 rounding of the file.
    bool odd = amax > 0.0 && bits <= 16;
    const double so = amax / odd_top;
    for (int64_t i = 0; odd && i < per; ++i) {
      const double r = static_cast<double>(lw.weight.data[static_cast<size_t>(o * per + i)]) / so;
      const double n = std::round(r);
      odd = std::fabs(r - n) <= 1e-5 * std::max(1.0, std::fabs(n)) &&
            std::fmod(std::fabs(n), 2.0) == 1.0;
    }
    // An all-zero channel keeps scale 1 (all codes 0) rather than dividing by zero.
    const double s = odd ? so : amax > 0.0 ? amax / qmax : 1.0;
    const double top = odd ? odd_top : qmax;
    q.w_scale[static_cast<size_t>(o)] = s;
    q.odd_grid[static_cast<size_t>(o)] = odd ? 1 : 0;
    for (int64_t i = 0; i < per; ++i) {
      const size_t k = static_cast<size_t>(o * per + i);
      const double v = std::round(static_cast<double>(lw.weight.data[k]) / s);
      q.q[k] = static_cast<int32_t>(std::min(top, std::max(-top, v)));
    }
    const size_t u = static_cast<size_t>(o);
    const double bias = lw.bias.empty() ? 0.0 : static_cast<double>(lw.bias[u]);
    if (lw.bn) {
      const auto& bn = *lw.bn;
      q.mul[u] = static_cast<double>(bn.gamma[u]) /
                 std::sqrt(static_cast<double>(bn.var[u]) + static_cast<double>(bn.eps));
      q.shift[u] =
          (bias - static_cast<double>(bn.mean[u])) * q.mul[u] + static_cast<double>(bn.beta[u]);
    } else {
      q.shift[u] = bias;
    }
  }
  return q;
}

std::map<std::string, QuantizedLayer> quantize_weights(const Network& net, const WeightSet& weights,
                                                       int bits) {
  std::map<std::string, QuantizedLayer> out;
  for (const auto& l : net.layers)
    if (l.on_arrays()) out.emplace(l.name, quantize_layer(l, weights.at(l.name), bits));
  return out;
}

QuantizedLayer exact_integer_layer(const Layer& l, const LayerWeights& lw) {
  QuantizedLayer q = quantize_layer(l, lw, 32);
  for (size_t k = 0; k < lw.weight.data.size(); ++k) {
    const double v = static_cast<double>(lw.weight.data[k]);
    if (v != std::round(v))
      throw WorkloadError("", 0, l.name, fmt::format("weight {} is not an integer", v));
    if (std::fabs(v) > std::numeric_limits<int32_t>::max())
      throw WorkloadError("", 0, l.name,
                          fmt::format("weight {} outside the 32-bit range +-(2^31 - 1)", v));
    q.q[k] = static_cast<int32_t>(v);
  }
  std::fill(q.w_scale.begin(), q.w_scale.end(), 1.0);
  std::fill(q.odd_grid.begin(), q.odd_grid.end(), 0);
  return q;
}

IntTensor conv2d_int(const IntTensor& in, const Layer& l, const QuantizedLayer& q) {
  check_input(l, in.c, in.h, in.w);
  const int64_t oh = out_extent(in.h, l.k_h, l.stride_h, l.pad_h, l.pad_bottom(), l.dilation_h);
  const int64_t ow = out_extent(in.w, l.k_w, l.stride_w, l.pad_w, l.pad_right(), l.dilation_w);
  check_out_shape(l, oh, ow);
  const int64_t icg = l.in.c / l.groups, ocg = l.out.c / l.groups;
  if (q.shape != std::vector<int64_t>{l.out.c, icg, l.k_h, l.k_w})
    throw std::invalid_argument("reference: quantized weights of " + l.name +
                                " do not fit the layer");
  IntTensor out(l.out.c, oh, ow);
  // Fast path: every partial sum of integer products is an integer below 2^53 in magnitude,
  // so a double-precision GEMM computes each accumulator exactly; else the nested loop.
  int64_t wmax = 0, xmax = 0;
  for (int64_t v : q.q) wmax = std::max(wmax, v < 0 ? -v : v);
  for (int64_t v : in.data) xmax = std::max(xmax, v < 0 ? -v : v);
  const double bound = static_cast<double>(wmax) * static_cast<double>(xmax) *
                       static_cast<double>(icg * l.k_h * l.k_w);
  if (bound < 9007199254740992.0) {  // 2^53
    const Eigen::MatrixXd y = conv_gemm(
        in, l, oh, ow, [&](int64_t k) { return static_cast<double>(q.q[static_cast<size_t>(k)]); },
        Gemm::Exact);
    const int64_t cols = oh * ow;
    for (int64_t o = 0; o < l.out.c; ++o)
      for (int64_t p = 0; p < cols; ++p)
        out.data[static_cast<size_t>(o * cols + p)] = static_cast<int64_t>(y(o, p));
    return out;
  }
  for (int64_t oc = 0; oc < l.out.c; ++oc) {
    const int64_t g = oc / ocg;
    for (int64_t y = 0; y < oh; ++y)
      for (int64_t x = 0; x < ow; ++x) {
        int64_t acc = 0;
        for (int64_t c = 0; c < icg; ++c)
          for (int64_t ky = 0; ky < l.k_h; ++ky) {
            const int64_t iy = y * l.stride_h - l.pad_h + ky * l.dilation_h;
            if (iy < 0 || iy >= in.h) continue;  // zero padding
            for (int64_t kx = 0; kx < l.k_w; ++kx) {
              const int64_t ix = x * l.stride_w - l.pad_w + kx * l.dilation_w;
              if (ix < 0 || ix >= in.w) continue;
              acc += q.q[static_cast<size_t>(((oc * icg + c) * l.k_h + ky) * l.k_w + kx)] *
                     in.at(g * icg + c, iy, ix);
            }
          }
        out.at(oc, y, x) = acc;
      }
  }
  return out;
}

IntTensor fc_int(const IntTensor& in, const Layer& l, const QuantizedLayer& q) {
  const int64_t n_in = in.size();
  if (q.shape != std::vector<int64_t>{l.out.c, n_in})
    throw std::invalid_argument("reference: quantized weights of " + l.name +
                                " do not fit the layer");
  IntTensor out(l.out.c, 1, 1);
  for (int64_t o = 0; o < l.out.c; ++o) {
    int64_t acc = 0;
    for (int64_t i = 0; i < n_in; ++i)
      acc += q.q[static_cast<size_t>(o * n_in + i)] * in.data[static_cast<size_t>(i)];
    out.data[static_cast<size_t>(o)] = acc;
  }
  return out;
}

IntTensor accumulate_int(const Layer& l, const IntTensor& in, const QuantizedLayer& q) {
  if (l.type == LayerType::Conv) return conv2d_int(in, l, q);
  if (l.type == LayerType::Fc) return fc_int(in, l, q);
  throw std::invalid_argument("reference: layer " + l.name + " has no accumulators");
}

IntTensor quantize_activations(const FloatTensor& x, double scale, int bits, int64_t* clamped) {
  return quantize_centered(x, ActQuant{scale, 0}, bits,
                           clamped);  // zero point 0: the codes themselves
}

ActQuant act_quant_for_range(double lo, double hi, int bits) {
  if (!std::isfinite(lo) || !std::isfinite(hi) || lo > hi)
    throw std::invalid_argument(
        fmt::format("reference: activation range [{}, {}] is not finite", lo, hi));
  if (bits < 1 || bits > 32)
    throw std::invalid_argument(fmt::format("reference: activation bits {}", bits));
  const double top = std::ldexp(1.0, bits) - 1.0;
  lo = std::min(lo, 0.0);
  hi = std::max(hi, 0.0);
  ActQuant q;
  if (hi - lo <= 0.0) {
    q.scale = 1.0 / top;
    return q;
  }
  q.scale = (hi - lo) / top;
  q.zero_point = static_cast<int64_t>(std::min(top, std::max(0.0, std::round(-lo / q.scale))));
  return q;
}

IntTensor quantize_centered(const FloatTensor& x, const ActQuant& q, int bits, int64_t* clamped) {
  if (!(q.scale > 0.0) || bits < 1 || bits > 32)
    throw std::invalid_argument(
        fmt::format("reference: activation scale {} / bits {}", q.scale, bits));
  const double top = std::ldexp(1.0, bits) - 1.0;
  const double zp = static_cast<double>(q.zero_point);
  IntTensor out(x.c, x.h, x.w);
  for (size_t i = 0; i < x.data.size(); ++i) {
    const double v = std::round(x.data[i] / q.scale) + zp;  // half away from zero
    if ((v < 0.0 || v > top) && clamped) ++*clamped;
    out.data[i] = static_cast<int64_t>(std::min(top, std::max(0.0, v)) - zp);
  }
  return out;
}

std::vector<std::string> quantized_tensors(const Network& net) {
  const std::vector<bool> read = read_by_array_layers(net, input_indices(net));
  std::vector<std::string> out{"input"};
  for (size_t i = 0; i < net.layers.size(); ++i)
    if (read[i]) out.push_back(net.layers[i].name);
  return out;
}

FloatTensor dequantize_activations(const IntTensor& codes, double scale) {
  FloatTensor out(codes.c, codes.h, codes.w);
  for (size_t i = 0; i < codes.data.size(); ++i)
    out.data[i] = static_cast<double>(codes.data[i]) * scale;
  return out;
}

FloatTensor dequantize_accumulators(const IntTensor& acc, const Layer& l, const QuantizedLayer& q,
                                    double in_scale) {
  FloatTensor out(acc.c, acc.h, acc.w);
  const int64_t plane = acc.h * acc.w;
  for (int64_t oc = 0; oc < acc.c; ++oc) {
    const size_t u = static_cast<size_t>(oc);
    for (int64_t p = 0; p < plane; ++p) {
      const size_t k = static_cast<size_t>(oc * plane + p);
      const double z = static_cast<double>(acc.data[k]) * in_scale * q.w_scale[u];
      out.data[k] = apply_activation(l, q.mul[u] * z + q.shift[u]);
    }
  }
  return out;
}

IntTensor requantize(const IntTensor& acc, const Layer& l, const QuantizedLayer& q, double in_scale,
                     double out_scale, int bits, int64_t* clamped) {
  return quantize_activations(dequantize_accumulators(acc, l, q, in_scale), out_scale, bits,
                              clamped);
}

double bounded_activation_scale(const Layer& l, int bits) {
  const double top = std::ldexp(1.0, bits) - 1.0;
  if (l.act == Activation::Relu1) return 1.0 / top;
  if (l.act == Activation::Clip && l.clip_lo >= 0.0 && l.clip_hi > 0.0) return l.clip_hi / top;
  return 0.0;
}

IntRun run_int(const Network& net, const std::map<std::string, QuantizedLayer>& qweights,
               const FloatTensor& input, const IntOptions& opt, const AccumulatorHook& hook) {
  check_network_input(net, input.c, input.h, input.w);
  if (opt.input_bits < 1 || opt.input_bits > 32)
    throw std::invalid_argument(
        fmt::format("reference: input_bits {} outside 1..32", opt.input_bits));
  const auto idx = input_indices(net);
  const int bits = opt.input_bits;
  const std::vector<bool> feeds_array = read_by_array_layers(net, idx);

  // The quantization of a tensor, by the rules of the file comment.
  auto choose = [&](const std::string& name, const FloatTensor& x, const Layer* l,
                    const IntLayerResult* pooled) -> ActQuant {
    if (auto it = opt.calibration.find(name); it != opt.calibration.end()) return it->second;
    if (!l && opt.input_scale > 0.0) return ActQuant{opt.input_scale, 0};
    if (l) {
      if (const double bounded = bounded_activation_scale(*l, bits); bounded > 0.0)
        return ActQuant{bounded, 0};
      if (pooled) return pooled->quant;
    }
    double lo = 0.0, hi = 0.0;
    for (double v : x.data) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    return act_quant_for_range(lo, hi, bits);
  };
  auto hold_as_codes = [&](IntLayerResult& r, const ActQuant& q, int64_t* clamped) {
    r.quantized = true;
    r.quant = q;
    r.codes = quantize_centered(r.value, q, bits, clamped);
    r.value = dequantize_activations(r.codes, q.scale);
  };

  IntRun run;
  run.options = opt;
  run.input.value = input;
  hold_as_codes(run.input, choose("input", input, nullptr, nullptr), &run.clamped);

  run.layers.reserve(net.layers.size());
  auto result_of = [&](int k) -> const IntLayerResult& {
    return k < 0 ? run.input : run.layers[static_cast<size_t>(k)];
  };
  for (size_t i = 0; i < net.layers.size(); ++i) {
    const Layer& l = net.layers[i];
    IntLayerResult r;
    const IntLayerResult& first = result_of(idx[i].front());
    if (l.on_arrays()) {
      if (!first.quantized)
        throw std::logic_error("reference: the input of array layer " + l.name +
                               " is not held as codes");
      r.input_quant = first.quant;
      r.input_codes = first.codes;
      auto qit = qweights.find(l.name);
      if (qit == qweights.end())
        throw WorkloadError(net.source, l.source_line, l.name,
                            "no quantized weights for this layer");
      r.acc = hook ? hook(l, r.input_codes, qit->second, r.input_quant.zero_point)
                   : accumulate_int(l, r.input_codes, qit->second);
      if (r.acc.c != l.out.c || r.acc.h != l.out.h || r.acc.w != l.out.w ||
          static_cast<int64_t>(r.acc.data.size()) != r.acc.size())
        throw std::invalid_argument(fmt::format(
            "reference: accumulator hook returned {}x{}x{} for layer {}, expected {}x{}x{}",
            r.acc.c, r.acc.h, r.acc.w, l.name, l.out.c, l.out.h, l.out.w));
      r.value = dequantize_accumulators(r.acc, l, qit->second, r.input_quant.scale);
    } else {
      std::vector<const FloatTensor*> ins;
      for (int k : idx[i]) ins.push_back(&result_of(k).value);
      r.value = run_layer_float(l, ins, nullptr);
    }
    const bool bounded = bounded_activation_scale(l, bits) > 0.0;
    // Pooling keeps its input's range, so it keeps its quantization (average pooling rounds).
    const bool pool_keeps = (l.type == LayerType::MaxPool || l.type == LayerType::AvgPool ||
                             l.type == LayerType::GlobalAvgPool) &&
                            first.quantized && l.act == Activation::None;
    if (feeds_array[i] || bounded || pool_keeps)
      hold_as_codes(r, choose(l.name, r.value, &l, pool_keeps ? &first : nullptr), &run.clamped);
    run.layers.push_back(std::move(r));
  }
  return run;
}

IntRun run_int(const Network& net, const WeightSet& weights, const FloatTensor& input,
               const IntOptions& opt, const AccumulatorHook& hook) {
  return run_int(net, quantize_weights(net, weights, opt.weight_bits), input, opt, hook);
}

}  // namespace imcsim::ref
