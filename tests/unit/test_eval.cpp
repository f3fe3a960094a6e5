// Accuracy statistics (workloads/accuracy.hpp), calibration (workloads/calibration.hpp) and
// the evaluation loop (sim/eval/eval.hpp), the last two on the shared trained ResNet-20 and the
// shared CIFAR-10 images (skipped where ../shared/data is absent).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "sim/eval/eval.hpp"
#include "workloads/accuracy.hpp"
#include "workloads/calibration.hpp"
#include "workloads/error.hpp"
#include "workloads/reference.hpp"

namespace fs = std::filesystem;
using namespace imcsim;

namespace {

const fs::path kShared = fs::path(IMCSIM_SOURCE_DIR) / ".." / "shared" / "data";
const fs::path kModel = kShared / "resnet20-cifar10" / "onnx" / "model.onnx";
const fs::path kCifar = kShared / "cifar10";
const fs::path kWeights = kShared / "resnet20-cifar10";

#define REQUIRE_SHARED()                                                                      \
  if (!fs::exists(kModel) || !fs::exists(kCifar / "dataset.yaml"))                            \
  GTEST_SKIP() << "trained ResNet-20 or CIFAR-10 subset not found under " << kShared.string() \
               << " (../shared/data from the project root); skipping"

// The Wilson bounds by the closed formula, written out independently of accuracy.cpp.
std::pair<double, double> wilson_by_hand(double k, double n) {
  const double z = 1.959963984540054, p = k / n;
  const double lo =
      (2 * n * p + z * z - z * std::sqrt(z * z + 4 * n * p * (1 - p))) / (2 * (n + z * z));
  const double hi =
      (2 * n * p + z * z + z * std::sqrt(z * z + 4 * n * p * (1 - p))) / (2 * (n + z * z));
  return {lo, hi};
}

// The shared network (built-in workload resnet20 with the trained .npy weights) and images,
// loaded once for the whole file.
struct Shared {
  eval::EvalInputs in;
  Shared() {
    eval::ModelFlags f;
    f.workload = "resnet20";
    f.weights = kWeights.string();
    eval::load_network(f, in);
    in.dataset = load_dataset(kCifar.string());
    in.split = &in.dataset.split("test");
  }
  eval::EvalInputs first(int64_t n) const {
    eval::EvalInputs out = in;
    out.images.clear();
    for (int64_t i = 0; i < n; ++i) out.images.push_back(i);
    return out;
  }
};
const Shared& shared() {
  static const Shared s;
  return s;
}

}  // namespace

TEST(Accuracy, WilsonIntervalKnownValues) {
  const Interval a = wilson_interval(0, 10);
  EXPECT_EQ(a.low, 0.0);
  EXPECT_NEAR(a.high, 0.2775, 5e-5);
  const Interval b = wilson_interval(5, 10);
  EXPECT_NEAR(b.low, 0.2366, 5e-5);
  EXPECT_NEAR(b.high, 0.7634, 5e-5);
  const Interval c = wilson_interval(10, 10);
  EXPECT_EQ(c.high, 1.0);
  EXPECT_NEAR(c.low, 1.0 - 0.2775, 5e-5);
  const Interval none = wilson_interval(0, 0);
  EXPECT_EQ(none.low, 0.0);
  EXPECT_EQ(none.high, 1.0);
}

TEST(Accuracy, WilsonIntervalMatchesTheClosedFormula) {
  for (const auto& [k, n] : {std::pair<int, int>{439, 512}, {1, 3}, {47, 50}, {956, 1024}}) {
    const Interval w = wilson_interval(k, n);
    const auto [lo, hi] = wilson_by_hand(k, n);
    EXPECT_NEAR(w.low, lo, 1e-12) << k << "/" << n;
    EXPECT_NEAR(w.high, hi, 1e-12) << k << "/" << n;
  }
  // The float headline of the shared ResNet-20: 439/512 = 85.74 %, 95 % CI 82.45-88.51 %.
  const Interval w = wilson_interval(439, 512);
  EXPECT_NEAR(100 * w.low, 82.447, 0.001);
  EXPECT_NEAR(100 * w.high, 88.505, 0.001);
}

TEST(Accuracy, Top1PerClassAgreement) {
  EXPECT_EQ(top1({0.1, 0.7, 0.7, 0.2}), 1);  // first of the tied maxima
  EXPECT_EQ(top1({-3.0}), 0);
  EXPECT_EQ(top1({}), -1);
  const std::vector<int> labels{0, 0, 1, 2, 2, 2};
  const std::vector<int> pred{0, 1, 1, 2, 0, 2};
  EXPECT_EQ(count_correct(pred, labels), 4);
  const auto pc = per_class_accuracy(pred, labels, {"a", "b", "c", "d"});
  ASSERT_EQ(pc.size(), 4u);
  EXPECT_EQ(pc[0].images, 2);
  EXPECT_EQ(pc[0].correct, 1);
  EXPECT_DOUBLE_EQ(pc[2].top1, 2.0 / 3.0);
  EXPECT_EQ(pc[3].images, 0);
  EXPECT_EQ(pc[3].top1, 0.0);
  EXPECT_DOUBLE_EQ(agreement(pred, labels), 4.0 / 6.0);
  EXPECT_DOUBLE_EQ(mean_abs_logit_difference({{1, 2}, {3, 4}}, {{1, 1}, {5, 4}}), 0.75);
}

TEST(Calibration, MethodParsing) {
  EXPECT_FALSE(parse_calibration_method("max")->percentile);
  const auto p = parse_calibration_method("percentile:99.99");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->percentile);
  EXPECT_EQ(p->p, 99.99);
  EXPECT_EQ(p->text(), "percentile:99.99");
  for (const char* bad : {"", "min", "percentile:", "percentile:50", "percentile:100.5",
                          "percentile:nan", "percentile:99x", "percentile: 99"})
    EXPECT_FALSE(parse_calibration_method(bad)) << bad;
}

TEST(Calibration, PercentilesAreExactOrderStatisticsAndReadBack) {
  REQUIRE_SHARED();
  const Shared& s = shared();
  const Split& train = s.in.dataset.split("train");
  CalibrationOptions opt;
  opt.images = 3;
  opt.method = *parse_calibration_method("percentile:99");
  opt.threads = 2;
  const Calibration c = calibrate(s.in.net, s.in.weights, s.in.dataset, train, opt);
  const auto names = ref::quantized_tensors(s.in.net);
  ASSERT_EQ(c.tensors.size(), names.size());
  EXPECT_EQ(c.tensors[0].name, "input");
  EXPECT_EQ(c.split, "train");
  EXPECT_EQ(c.images, 3);
  EXPECT_EQ(c.image_stride, 1);

  // Brute force: every value of every tensor over the three images, sorted.
  std::vector<std::vector<double>> all(names.size());
  for (int64_t i = 0; i < 3; ++i) {
    const ref::FloatTensor x = s.in.dataset.image(train, i);
    const ref::FloatRun run = ref::run_float(s.in.net, s.in.weights, x);
    for (size_t t = 0; t < names.size(); ++t) {
      const ref::FloatTensor* v = &x;
      for (size_t l = 0; l < s.in.net.layers.size(); ++l)
        if (s.in.net.layers[l].name == names[t]) v = &run.outputs[l];
      all[t].insert(all[t].end(), v->data.begin(), v->data.end());
    }
  }
  for (size_t t = 0; t < names.size(); ++t) {
    std::sort(all[t].begin(), all[t].end());
    const int64_t n = static_cast<int64_t>(all[t].size());
    const auto k =
        static_cast<size_t>(std::floor((100.0 - 99.0) / 100.0 * static_cast<double>(n - 1)));
    EXPECT_EQ(c.tensors[t].lo, all[t][k]) << names[t];
    EXPECT_EQ(c.tensors[t].hi, all[t][static_cast<size_t>(n - 1) - k]) << names[t];
    EXPECT_EQ(c.tensors[t].quant,
              ref::act_quant_for_range(all[t][k], all[t][static_cast<size_t>(n - 1) - k], 8));
  }

  // The file reads back to the same doubles.
  const fs::path file =
      fs::temp_directory_path() / ("imcsim-calib-" + std::to_string(::getpid()) + ".yaml");
  std::ofstream(file) << calibration_yaml(c);
  const Calibration back = load_calibration(file.string(), s.in.net, 8);
  fs::remove(file);
  ASSERT_EQ(back.tensors.size(), c.tensors.size());
  for (size_t t = 0; t < c.tensors.size(); ++t) {
    EXPECT_EQ(back.tensors[t].name, c.tensors[t].name);
    EXPECT_EQ(back.tensors[t].lo, c.tensors[t].lo);
    EXPECT_EQ(back.tensors[t].hi, c.tensors[t].hi);
    EXPECT_EQ(back.tensors[t].quant, c.tensors[t].quant);
  }
  EXPECT_EQ(back.act_quant(), c.act_quant());
  EXPECT_EQ(back.method, "percentile:99");

  // max is percentile:100; a tiny bound on kept values makes it subsample.
  CalibrationOptions m = opt;
  m.method = CalibrationMethod{};
  const Calibration cm = calibrate(s.in.net, s.in.weights, s.in.dataset, train, m);
  for (size_t t = 0; t < names.size(); ++t) {
    EXPECT_EQ(cm.tensors[t].lo, all[t].front());
    EXPECT_EQ(cm.tensors[t].hi, all[t].back());
  }
  CalibrationOptions small = opt;
  small.max_collected = 2'000;
  EXPECT_GT(calibrate(s.in.net, s.in.weights, s.in.dataset, train, small).image_stride, 1);
}

TEST(Eval, FloatResNet20On512TestImagesIs439AndThreadCountFree) {
  REQUIRE_SHARED();
  const eval::EvalInputs in = shared().first(512);
  eval::EvalOptions opt;
  opt.quiet = true;
  opt.threads = 2;
  const eval::EvalResult r2 = eval::evaluate(in, opt);
  EXPECT_EQ(count_correct(r2.predicted, r2.labels), 439);
  // The same bytes on one and on three threads.
  const eval::EvalInputs small = shared().first(40);
  opt.threads = 1;
  const std::string j1 = eval::eval_json(small, eval::evaluate(small, opt));
  opt.threads = 3;
  EXPECT_EQ(eval::eval_json(small, eval::evaluate(small, opt)), j1);
}

TEST(Eval, FloatOnnxModelIs439) {
  REQUIRE_SHARED();
  eval::EvalInputs in = shared().first(512);
  eval::ModelFlags f;
  f.model = kModel.string();
  eval::load_network(f, in);
  eval::EvalOptions opt;
  opt.quiet = true;
  opt.threads = 2;
  const eval::EvalResult r = eval::evaluate(in, opt);
  EXPECT_EQ(count_correct(r.predicted, r.labels), 439);
}

TEST(Eval, IntWithCalibrationStaysCloseToFloat) {
  REQUIRE_SHARED();
  const Shared& s = shared();
  CalibrationOptions copt;
  copt.images = 512;
  copt.method = *parse_calibration_method("percentile:99.99");
  copt.threads = 2;
  const Calibration c =
      calibrate(s.in.net, s.in.weights, s.in.dataset, s.in.dataset.split("train"), copt);
  // 128 test images keep the test short (the integer reference is a nested-loop convolution);
  // on all 512, 8/8 bits with this calibration give 436 correct against float's 439.
  eval::EvalInputs in = s.first(128);
  in.calibration = c;
  eval::EvalOptions opt;
  opt.mode = eval::EvalMode::Int;
  opt.quiet = true;
  opt.threads = 2;
  const eval::EvalResult r = eval::evaluate(in, opt);
  const int64_t int_correct = count_correct(r.predicted, r.labels);
  const int64_t float_correct = count_correct(r.float_predicted, r.labels);
  EXPECT_EQ(float_correct, 114);
  // Acceptance goal: 8-bit weights and calibrated 8-bit activations within 2 points of float.
  EXPECT_GE(static_cast<double>(int_correct), static_cast<double>(float_correct) - 0.02 * 128)
      << "int " << int_correct << " vs float " << float_correct;
  EXPECT_GT(agreement(r.predicted, r.float_predicted), 0.9);
  RecordProperty("int_correct", static_cast<int>(int_correct));
}

TEST(Eval, CycleModeUsesTheGivenEngineFunction) {
  REQUIRE_SHARED();
  const eval::EvalInputs in = shared().first(4);
  eval::EvalOptions opt;
  opt.mode = eval::EvalMode::Cycle;
  opt.quiet = true;
  // A stand-in engine that returns the float logits: full agreement, zero logit error.
  const eval::EvalResult r =
      eval::evaluate(in, opt, [](const eval::EvalInputs& i, const eval::EvalOptions&) {
        std::vector<std::vector<double>> out;
        for (int64_t k : i.images)
          out.push_back(
              ref::run_float(i.net, i.weights, i.dataset.image(*i.split, k)).output().data);
        return out;
      });
  EXPECT_EQ(agreement(r.predicted, r.float_predicted), 1.0);
  EXPECT_EQ(mean_abs_logit_difference(r.logits, r.float_logits), 0.0);
  EXPECT_NE(eval::eval_json(in, r).find("\"mode\": \"cycle\""), std::string::npos);
}
