// The reference executor (workloads/reference.hpp): the GEMM float convolution against the
// nested-loop integer one, weight quantization bounds, requantization, the accumulator hook,
// and integer mode converging to float mode as the bits grow.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "workloads/loader.hpp"
#include "workloads/reference.hpp"

using namespace imcsim;
using namespace imcsim::ref;

namespace {

Layer conv_layer(int64_t ic, int64_t oc, int64_t h, int64_t w, int64_t k_h, int64_t k_w, int64_t s,
                 int64_t pad, int64_t groups, int64_t dil, int64_t pad_end_h = -1) {
  Layer l;
  l.name = "c";
  l.type = LayerType::Conv;
  l.inputs = {"input"};
  l.in = {h, w, ic};
  l.k_h = k_h;
  l.k_w = k_w;
  l.stride_h = l.stride_w = s;
  l.pad_h = l.pad_w = pad;
  l.pad_h_end = pad_end_h;
  l.groups = groups;
  l.dilation_h = l.dilation_w = dil;
  l.out = {(h + pad + l.pad_bottom() - dil * (k_h - 1) - 1) / s + 1,
           (w + 2 * pad - dil * (k_w - 1) - 1) / s + 1, oc};
  return l;
}

}  // namespace

// The float path (im2col + Eigen GEMM) equals the plain nested loop exactly on integer
// data (every product and sum is exact in double), over strides, pads, groups, dilation.
TEST(Reference, GemmConvEqualsNestedLoopConv) {
  SeededStream rng(11);
  int cases = 0;
  for (int64_t groups : {1, 2, 4})
    for (int64_t s : {1, 2})
      for (int64_t pad : {0, 1, 2})
        for (int64_t dil : {1, 2})
          for (int64_t pad_end : {int64_t{-1}, int64_t{0}}) {
            const Layer l = conv_layer(4, 8, 9, 7, 3, 2, s, pad, groups, dil, pad_end);
            if (l.out.h < 1 || l.out.w < 1) continue;
            QuantizedLayer q;
            q.shape = {8, 4 / groups, 3, 2};
            Tensor wt(q.shape);
            for (auto& v : wt.data) {
              const int64_t x = static_cast<int64_t>(rng.uniform(-127, 128));
              v = static_cast<float>(x);
              q.q.push_back(static_cast<int32_t>(x));
            }
            IntTensor xi(4, 9, 7);
            FloatTensor xf(4, 9, 7);
            for (size_t i = 0; i < xi.data.size(); ++i) {
              xi.data[i] = static_cast<int64_t>(rng.uniform(0, 256));
              xf.data[i] = static_cast<double>(xi.data[i]);
            }
            const IntTensor a = conv2d_int(xi, l, q);
            const FloatTensor b = conv2d_float(xf, l, wt);
            ASSERT_EQ(a.data.size(), b.data.size());
            for (size_t i = 0; i < a.data.size(); ++i)
              ASSERT_EQ(static_cast<double>(a.data[i]), b.data[i])
                  << "groups " << groups << " stride " << s << " pad " << pad << " dil " << dil;
            ++cases;
          }
  EXPECT_GT(cases, 40);
}

TEST(Reference, OneHotInputPicksTheKernelTap) {
  // A single 1 at (c, y, x) in the input makes output (oc, y', x') equal the weight tap that
  // sits over it: an independent check of the loop indexing against the conv definition.
  const Layer l = conv_layer(2, 3, 5, 5, 3, 3, 1, 1, 1, 1);
  QuantizedLayer q;
  q.shape = {3, 2, 3, 3};
  for (int i = 0; i < 54; ++i) q.q.push_back(i + 1);
  IntTensor x(2, 5, 5);
  x.at(1, 2, 3) = 1;
  const IntTensor y = conv2d_int(x, l, q);
  for (int64_t oc = 0; oc < 3; ++oc)
    for (int64_t oy = 0; oy < 5; ++oy)
      for (int64_t ox = 0; ox < 5; ++ox) {
        const int64_t ky = 2 - oy + 1, kx = 3 - ox + 1;  // iy = oy - pad + ky
        const int64_t want =
            (ky >= 0 && ky < 3 && kx >= 0 && kx < 3) ? ((oc * 2 + 1) * 3 + ky) * 3 + kx + 1 : 0;
        EXPECT_EQ(y.at(oc, oy, ox), want) << oc << "," << oy << "," << ox;
      }
}

TEST(Reference, WeightQuantizationBounds) {
  const Network net = load_workload("resnet20");
  const WeightSet w = synthetic_weights(net, 5);
  for (int bits : {2, 4, 8}) {
    const auto q = quantize_weights(net, w, bits);
    const int64_t qmax = (int64_t{1} << (bits - 1)) - 1;
    for (const auto& [name, ql] : q) {
      const Tensor& t = w.at(name).weight;
      const int64_t channels = ql.out_channels();
      if (channels <= 0) {
        ADD_FAILURE() << name << " has no output channels";
        continue;
      }
      const int64_t per = t.size() / channels;
      for (int64_t oc = 0; oc < channels; ++oc) {
        bool hit_max = false;
        for (int64_t i = 0; i < per; ++i) {
          const size_t k = static_cast<size_t>(oc * per + i);
          ASSERT_LE(std::llabs(ql.q[k]), qmax);
          hit_max = hit_max || std::llabs(ql.q[k]) == qmax;
          // Rounding error at most half a step.
          ASSERT_LE(std::fabs(ql.q[k] * ql.w_scale[static_cast<size_t>(oc)] - t.data[k]),
                    0.5 * ql.w_scale[static_cast<size_t>(oc)] * (1 + 1e-9));
        }
        EXPECT_TRUE(hit_max) << name << " oc " << oc;  // the largest weight maps to qmax
      }
    }
  }
}

// Weights are held as int32: 32-bit quantization reaches +-(2^31 - 1) without wrapping, and
// an integer weight file with a weight beyond that range is refused, not wrapped.
TEST(Reference, ThirtyTwoBitWeightsFitTheirType) {
  const Layer l = conv_layer(2, 3, 5, 5, 3, 3, 1, 1, 1, 1);
  LayerWeights lw;
  lw.weight = Tensor({3, 2, 3, 3});
  for (size_t k = 0; k < lw.weight.data.size(); ++k)
    lw.weight.data[k] = static_cast<float>(k % 7) - 3.0F;
  const QuantizedLayer q = quantize_layer(l, lw, 32);
  EXPECT_EQ(q.q[0], -2147483647);  // -3 is the channel's largest magnitude
  EXPECT_EQ(*std::max_element(q.q.begin(), q.q.end()), 2147483647);
  lw.weight.data[4] = 1073741824.0F;  // 2^30: an integer in range
  EXPECT_EQ(exact_integer_layer(l, lw).q[4], 1073741824);
  lw.weight.data[4] = 2147483648.0F;  // 2^31
  EXPECT_THROW(exact_integer_layer(l, lw), WorkloadError);
}

TEST(Reference, FoldedBatchNormEqualsUnfolded) {
  const Network net = load_workload("resnet20");
  const WeightSet w = synthetic_weights(net, 9);
  const Layer& l = *net.find("layers.3.conv1");
  const QuantizedLayer q = quantize_layer(l, w.at(l.name), 8);
  const auto& bn = *w.at(l.name).bn;
  for (size_t oc = 0; oc < 16; ++oc)
    for (double z : {-1.5, 0.0, 0.7}) {
      const double unfolded = double{bn.gamma[oc]} * (z - double{bn.mean[oc]}) /
                                  std::sqrt(double{bn.var[oc]} + double{bn.eps}) +
                              double{bn.beta[oc]};
      EXPECT_NEAR(q.mul[oc] * z + q.shift[oc], unfolded, 1e-12);
    }
}

TEST(Reference, RequantizeRoundsAndClamps) {
  Layer l;
  l.name = "x";
  l.type = LayerType::Conv;
  l.act = Activation::Relu1;
  QuantizedLayer q;
  q.shape = {1, 1, 1, 1};
  q.w_scale = {0.5};
  q.mul = {1.0};
  q.shift = {0.0};
  IntTensor acc(1, 1, 5);
  acc.data = {-4, 0, 100, 102, 600};  // * in_scale 0.01 * 0.5 = -0.02, 0, 0.5, 0.51, 3.0
  int64_t clamped = 0;
  const IntTensor c = requantize(acc, l, q, 0.01, 1.0 / 255, 8, &clamped);
  EXPECT_EQ(c.data, (std::vector<int64_t>{0, 0, 128, 130, 255}));  // relu1 clips before codes
  EXPECT_EQ(clamped, 0);
  EXPECT_DOUBLE_EQ(bounded_activation_scale(l, 8), 1.0 / 255);
  l.act = Activation::None;
  clamped = 0;
  quantize_activations(dequantize_accumulators(acc, l, q, 0.01), 1.0 / 255, 8, &clamped);
  EXPECT_EQ(clamped, 2);  // -0.02 and 3.0 do not fit [0, 1]
}

TEST(Reference, HookReplacesAccumulatorsLayerByLayer) {
  const Network net = load_workload("resnet20");
  const WeightSet w = synthetic_weights(net, 1);
  FloatTensor x(3, 32, 32);
  SeededStream rng(2);
  for (auto& v : x.data) v = rng.uniform();
  IntOptions opt;
  const IntRun plain = run_int(net, w, x, opt);
  int calls = 0;
  const IntRun hooked = run_int(
      net, w, x, opt, [&](const Layer& l, const IntTensor& in, const QuantizedLayer& q, int64_t) {
        ++calls;
        return accumulate_int(l, in, q);
      });
  EXPECT_EQ(calls, 22);
  ASSERT_EQ(plain.layers.size(), hooked.layers.size());
  for (size_t i = 0; i < plain.layers.size(); ++i) {
    EXPECT_EQ(plain.layers[i].acc.data, hooked.layers[i].acc.data) << net.layers[i].name;
    EXPECT_EQ(plain.layers[i].value.data, hooked.layers[i].value.data) << net.layers[i].name;
  }
  // Every conv input of ResNet-20 is a GELU output or the input, held as codes at the
  // tensor's own range: the codes cover its minimum and maximum, and GELU's negative part
  // (down to about -0.17) gives most of them a zero point above 0 (asymmetric codes).
  int with_zero_point = 0;
  for (size_t i = 0; i < net.layers.size(); ++i)
    if (net.layers[i].on_arrays()) {
      const ActQuant& aq = plain.layers[i].input_quant;
      EXPECT_GT(aq.scale, 0.0) << net.layers[i].name;
      EXPECT_GE(aq.zero_point, 0) << net.layers[i].name;
      EXPECT_LE(aq.zero_point, 255) << net.layers[i].name;
      with_zero_point += aq.zero_point > 0;
    }
  EXPECT_GE(with_zero_point, 12);
  // A hook that perturbs one layer changes that layer's accumulators and the output.
  const IntRun off = run_int(
      net, w, x, opt, [&](const Layer& l, const IntTensor& in, const QuantizedLayer& q, int64_t) {
        IntTensor a = accumulate_int(l, in, q);
        if (l.name == "layers.6.conv1") a.data[0] += 1000000;
        return a;
      });
  EXPECT_NE(off.output().data, plain.output().data);
  // A hook returning the wrong shape is rejected, not silently used.
  EXPECT_THROW(run_int(net, w, x, opt,
                       [](const Layer&, const IntTensor&, const QuantizedLayer&, int64_t) {
                         return IntTensor(1, 1, 1);
                       }),
               std::invalid_argument);
}

TEST(Reference, IntegerModeConvergesToFloatAsBitsGrow) {
  const Network net = load_workload("resnet20");
  const WeightSet w = synthetic_weights(net, 4);
  FloatTensor x(3, 32, 32);
  SeededStream rng(8);
  for (auto& v : x.data) v = rng.uniform();
  const FloatTensor f = run_float(net, w, x).output();
  double previous = 1e300;
  for (int bits : {6, 10, 14}) {
    IntOptions opt;
    opt.weight_bits = opt.input_bits = bits;
    const FloatTensor q = run_int(net, w, x, opt).output();
    double err = 0, mag = 0;
    for (size_t i = 0; i < f.data.size(); ++i) {
      err = std::max(err, std::fabs(q.data[i] - f.data[i]));
      mag = std::max(mag, std::fabs(f.data[i]));
    }
    std::cout << "synthetic resnet20, " << bits << "-bit: max |int - float| logit error " << err
              << " (max |logit| " << mag << ")\n";
    EXPECT_LT(err, previous) << bits;
    previous = err;
  }
  EXPECT_LT(previous, 1e-2);
}

TEST(Reference, PoolingFollowsOnnxSemantics) {
  Layer l;
  l.name = "p";
  l.type = LayerType::AvgPool;
  l.in = {3, 3, 1};
  l.k_h = l.k_w = 2;
  l.stride_h = l.stride_w = 2;
  l.pad_h = l.pad_w = 1;
  l.out = {2, 2, 1};
  FloatTensor x(1, 3, 3);
  for (int i = 0; i < 9; ++i) x.data[static_cast<size_t>(i)] = i + 1;  // 1..9
  l.count_include_pad = true;
  FloatTensor y = run_layer_float(l, {&x}, nullptr);
  EXPECT_EQ(y.data,
            (std::vector<double>{1 / 4.0, (2 + 3) / 4.0, (4 + 7) / 4.0, (5 + 6 + 8 + 9) / 4.0}));
  l.count_include_pad = false;
  y = run_layer_float(l, {&x}, nullptr);
  EXPECT_EQ(y.data, (std::vector<double>{1.0, 2.5, 5.5, 7.0}));
  l.type = LayerType::MaxPool;
  y = run_layer_float(l, {&x}, nullptr);
  EXPECT_EQ(y.data, (std::vector<double>{1, 3, 7, 9}));
}

namespace {

// The plain nested-loop convolution, written here independently of reference.cpp.
IntTensor naive_conv(const IntTensor& in, const Layer& l, const QuantizedLayer& q) {
  const int64_t icg = l.in.c / l.groups, ocg = l.out.c / l.groups;
  IntTensor out(l.out.c, l.out.h, l.out.w);
  for (int64_t oc = 0; oc < l.out.c; ++oc)
    for (int64_t y = 0; y < l.out.h; ++y)
      for (int64_t x = 0; x < l.out.w; ++x) {
        int64_t acc = 0;
        for (int64_t c = 0; c < icg; ++c)
          for (int64_t ky = 0; ky < l.k_h; ++ky)
            for (int64_t kx = 0; kx < l.k_w; ++kx) {
              const int64_t iy = y * l.stride_h - l.pad_h + ky * l.dilation_h;
              const int64_t ix = x * l.stride_w - l.pad_w + kx * l.dilation_w;
              if (iy < 0 || ix < 0 || iy >= in.h || ix >= in.w) continue;
              acc += q.q[static_cast<size_t>(((oc * icg + c) * l.k_h + ky) * l.k_w + kx)] *
                     in.at((oc / ocg) * icg + c, iy, ix);
            }
        out.at(oc, y, x) = acc;
      }
  return out;
}

}  // namespace

// conv2d_int takes an exact double GEMM while every partial sum stays below 2^53 and the
// nested loop beyond: both equal an independent nested loop, signed centered codes included.
TEST(Reference, IntegerConvolutionIsExactOnBothPaths) {
  SeededStream rng(77);
  int checked = 0;
  for (int trial = 0; trial < 24; ++trial) {
    Layer l;
    l.name = "c" + std::to_string(trial);
    l.type = LayerType::Conv;
    l.groups = trial % 3 == 0 ? 2 : 1;
    l.in = {static_cast<int64_t>(5 + trial % 4), static_cast<int64_t>(6 + trial % 3), 4 * l.groups};
    l.out.c = 3 * l.groups;
    l.k_h = 1 + trial % 3;
    l.k_w = 1 + (trial / 3) % 3;
    l.stride_h = 1 + trial % 2;
    l.stride_w = 1 + (trial / 2) % 2;
    l.pad_h = trial % 2;
    l.pad_w = (trial / 4) % 2;
    l.dilation_h = 1 + (trial / 8) % 2;
    l.out.h = (l.in.h + 2 * l.pad_h - l.dilation_h * (l.k_h - 1) - 1) / l.stride_h + 1;
    l.out.w = (l.in.w + 2 * l.pad_w - l.dilation_w * (l.k_w - 1) - 1) / l.stride_w + 1;
    const bool huge = trial >= 16;  // |w| |x| K >= 2^53: the nested loop
    const int64_t span = huge ? int64_t{1} << 26 : 255;
    QuantizedLayer q;
    q.shape = {l.out.c, l.in.c / l.groups, l.k_h, l.k_w};
    q.q.resize(static_cast<size_t>(l.out.c * (l.in.c / l.groups) * l.k_h * l.k_w));
    for (auto& v : q.q)
      v = static_cast<int32_t>(
          static_cast<int64_t>(rng.next_u64() % static_cast<uint64_t>(2 * span + 1)) - span);
    IntTensor in(l.in.c, l.in.h, l.in.w);
    for (auto& v : in.data)
      v = static_cast<int64_t>(rng.next_u64() % static_cast<uint64_t>(2 * span + 1)) - span;
    if (huge) in.data[0] = q.q[0] = static_cast<int32_t>(span);  // make sure the bound is reached
    EXPECT_EQ(conv2d_int(in, l, q).data, naive_conv(in, l, q).data) << l.name;
    ++checked;
  }
  EXPECT_EQ(checked, 24);
}
