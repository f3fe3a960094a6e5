// ONNX import and the reference executor against data nobody here wrote:
//  - the ONNX backend conformance models of Debian's libonnx-testdata (every model in
//    pytorch-converted/ and node/ whose operators imcsim supports);
//  - the trained ResNet-20 export in ../shared/data/resnet20-cifar10/onnx;
//  - bad models derived from real ones (truncated, unknown operator, wrong initializer
//    size, external data), which must give named errors.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "workloads/error.hpp"
#include "workloads/loader.hpp"
#include "workloads/npy.hpp"
#include "workloads/npy_weights.hpp"
#include "workloads/onnx/onnx_import.hpp"
#include "workloads/onnx/onnx_run.hpp"

namespace fs = std::filesystem;
using namespace imcsim;
using namespace imcsim::onnx_io;

namespace {

const fs::path kConformance = "/usr/share/libonnx-testdata/data";
const fs::path kResNet =
    fs::path(IMCSIM_SOURCE_DIR) / ".." / "shared" / "data" / "resnet20-cifar10";

#define REQUIRE_RESNET()                                                     \
  if (!fs::exists(kResNet / "onnx" / "model.onnx"))                          \
  GTEST_SKIP() << "trained ResNet-20 data not found at " << kResNet.string() \
               << " (../shared/data/resnet20-cifar10 from the project root); skipping"

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

struct Outcome {
  enum { Passed, Failed, Skipped } status;
  std::string detail;
};

// Largest |got - want| / max(|want|, 1e-2): relative error, with values near zero judged
// against 1e-2 so that cancellation in float32 references does not count as a failure.
double rel_error(const ProtoTensor& got, const ProtoTensor& want) {
  double worst = 0;
  for (size_t i = 0; i < want.values.size(); ++i)
    worst = std::max(worst, std::fabs(got.values[i] - want.values[i]) /
                                std::max(std::fabs(want.values[i]), 1e-2));
  return worst;
}

// One conformance model: bind extra graph inputs (weights given as input_K.pb), import,
// run every test_data_set, compare.
Outcome run_conformance(const fs::path& dir) {
  const std::string model_path = (dir / "model.onnx").string();
  std::vector<fs::path> sets;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0)
      sets.push_back(e.path());
  std::sort(sets.begin(), sets.end());
  if (sets.empty()) return {Outcome::Skipped, "no test_data_set folder"};
  try {
    const std::vector<std::string> inputs = graph_data_inputs(model_path);
    double worst = 0;
    for (const auto& set : sets) {
      if (fs::exists(set / "output_1.pb"))
        return {Outcome::Skipped, "model has more than one output"};
      ImportOptions opt;
      for (size_t k = 1; k < inputs.size(); ++k) {
        const fs::path p = set / ("input_" + std::to_string(k) + ".pb");
        if (!fs::exists(p)) return {Outcome::Skipped, "missing " + p.filename().string()};
        opt.constants[inputs[k]] = read_tensor_proto(p.string());
      }
      const OnnxModel m = import_onnx(model_path, opt);
      const ProtoTensor in = read_tensor_proto((set / "input_0.pb").string());
      const ProtoTensor want = read_tensor_proto((set / "output_0.pb").string());
      const ProtoTensor got = infer_model(m, in, (set / "input_0.pb").string(), {});
      if (got.dims != want.dims) {
        std::ostringstream s;
        s << "output dims differ: got " << got.dims.size() << "-D, expected " << want.dims.size()
          << "-D";
        return {Outcome::Failed, s.str()};
      }
      if (m.integer) {
        if (got.values != want.values) return {Outcome::Failed, "integer output differs"};
      } else {
        worst = std::max(worst, rel_error(got, want));
        if (worst > 1e-4) return {Outcome::Failed, "relative error " + std::to_string(worst)};
      }
    }
    return {Outcome::Passed, "max rel. error " + std::to_string(worst)};
  } catch (const WorkloadError& e) {
    return {Outcome::Skipped, e.message()};
  }
}

}  // namespace

TEST(OnnxConformance, SupportedBackendModelsMatchTheirOutputs) {
  if (!fs::exists(kConformance / "node"))
    GTEST_SKIP() << "ONNX conformance data not found at " << kConformance.string()
                 << " (Debian package libonnx-testdata; scripts/setup installs it)";
  std::map<std::string, Outcome> results;
  for (const char* suite : {"pytorch-converted", "node"}) {
    std::vector<fs::path> dirs;
    for (const auto& e : fs::directory_iterator(kConformance / suite))
      if (fs::exists(e.path() / "model.onnx")) dirs.push_back(e.path());
    std::sort(dirs.begin(), dirs.end());
    for (const auto& d : dirs)
      results[std::string(suite) + "/" + d.filename().string()] = run_conformance(d);
  }
  int passed = 0, failed = 0, skipped = 0;
  std::map<std::string, int> skip_reasons;
  for (const auto& [name, r] : results) {
    if (r.status == Outcome::Passed) {
      ++passed;
      std::cout << "pass " << name << " (" << r.detail << ")\n";
    } else if (r.status == Outcome::Failed) {
      ++failed;
      ADD_FAILURE() << name << ": " << r.detail;
    } else {
      ++skipped;
      std::cout << "skip " << name << ": " << r.detail << "\n";
    }
  }
  std::cout << "ONNX conformance: " << results.size() << " models, " << passed + failed << " run, "
            << passed << " passed, " << failed << " failed, " << skipped
            << " skipped (unsupported operator or usage, reason given per model above)\n";
  // The models the issue names must be among those run and passed.
  for (const char* must : {"pytorch-converted/test_Conv2d",
                           "pytorch-converted/test_Conv2d_depthwise",
                           "pytorch-converted/test_Conv2d_depthwise_padded",
                           "pytorch-converted/test_Conv2d_depthwise_strided",
                           "pytorch-converted/test_Conv2d_depthwise_with_multiplier",
                           "pytorch-converted/test_Conv2d_dilated",
                           "pytorch-converted/test_Conv2d_groups",
                           "pytorch-converted/test_Conv2d_groups_thnn",
                           "pytorch-converted/test_Conv2d_no_bias",
                           "pytorch-converted/test_Conv2d_padding",
                           "pytorch-converted/test_Conv2d_strided",
                           "node/test_basic_conv_with_padding",
                           "node/test_basic_conv_without_padding",
                           "node/test_conv_with_autopad_same",
                           "node/test_conv_with_strides_and_asymmetric_padding",
                           "node/test_conv_with_strides_no_padding",
                           "node/test_conv_with_strides_padding",
                           "node/test_basic_convinteger",
                           "node/test_convinteger_with_padding",
                           "node/test_convinteger_without_padding"}) {
    auto it = results.find(must);
    ASSERT_NE(it, results.end()) << must << " is not in the conformance data";
    EXPECT_EQ(it->second.status, Outcome::Passed) << must << ": " << it->second.detail;
  }
  EXPECT_EQ(failed, 0);
}

TEST(OnnxResNet20, FloatReproducesTheReferenceLogits) {
  REQUIRE_RESNET();
  const fs::path dir = kResNet / "onnx";
  const OnnxModel m = import_onnx((dir / "model.onnx").string());
  EXPECT_EQ(m.net.layers.size(), 32u);
  EXPECT_EQ(m.net.total_macs(), load_workload("resnet20").total_macs());
  const ProtoTensor in = read_tensor_proto((dir / "test_data_set_0" / "input_0.pb").string());
  const ProtoTensor want = read_tensor_proto((dir / "test_data_set_0" / "output_0.pb").string());
  const auto t0 = std::chrono::steady_clock::now();
  const int reps = 20;
  ProtoTensor got;
  for (int i = 0; i < reps; ++i) got = infer_model(m, in, "input_0.pb", {});
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() /
      reps;
  ASSERT_EQ(got.dims, want.dims);
  double worst = 0;
  for (size_t i = 0; i < want.values.size(); ++i)
    worst = std::max(worst, std::fabs(got.values[i] - want.values[i]));
  std::cout << "ResNet-20 float: max |logit - output_0.pb| = " << worst << ", " << ms
            << " ms per image (reported, not asserted)\n";
  EXPECT_LE(worst, 1e-4);
}

// The .npy weights (through workloads/weight_maps/resnet20.yaml) equal the ONNX initializers
// layer by layer, and the YAML workload with them computes the same logits.
TEST(OnnxResNet20, NpyWeightsEqualTheOnnxInitializers) {
  REQUIRE_RESNET();
  const OnnxModel m = import_onnx((kResNet / "onnx" / "model.onnx").string());
  const Network net = load_workload("resnet20");
  const WeightSet npy = load_npy_weights(net, kResNet.string());
  const WeightMap map = load_weight_map(builtin_weight_map(net), net);
  int compared = 0;
  for (const auto& l : net.layers) {
    if (!l.on_arrays()) continue;
    const std::string onnx_name = map.resolved(l).onnx;
    ASSERT_FALSE(onnx_name.empty()) << l.name;
    const LayerWeights& a = npy.at(l.name);
    const LayerWeights& b = m.weights.at(onnx_name);
    EXPECT_EQ(a.weight.shape, b.weight.shape) << l.name;
    EXPECT_EQ(a.weight.data, b.weight.data) << l.name;
    EXPECT_EQ(a.bias, b.bias) << l.name;
    ASSERT_EQ(a.bn.has_value(), b.bn.has_value()) << l.name;
    if (a.bn) {
      EXPECT_EQ(a.bn->gamma, b.bn->gamma) << l.name;
      EXPECT_EQ(a.bn->beta, b.bn->beta) << l.name;
      EXPECT_EQ(a.bn->mean, b.bn->mean) << l.name;
      EXPECT_EQ(a.bn->var, b.bn->var) << l.name;
      EXPECT_EQ(a.bn->eps, b.bn->eps) << l.name;
    }
    // Same geometry in the hand-written workload and the import.
    const Layer* o = m.net.find(onnx_name);
    ASSERT_NE(o, nullptr);
    EXPECT_EQ(o->in, l.in) << l.name;
    EXPECT_EQ(o->out, l.out) << l.name;
    EXPECT_EQ(o->act, l.act) << l.name;
    ++compared;
  }
  EXPECT_EQ(compared, 22);
  const ProtoTensor in =
      read_tensor_proto((kResNet / "onnx" / "test_data_set_0" / "input_0.pb").string());
  const ProtoTensor want =
      read_tensor_proto((kResNet / "onnx" / "test_data_set_0" / "output_0.pb").string());
  const ProtoTensor got = infer_network(net, npy, in, "input_0.pb", 4, 2, {});
  for (size_t i = 0; i < want.values.size(); ++i)
    EXPECT_NEAR(got.values[i], want.values[i], 1e-4) << i;
}

// The integer datapath's reference (8-bit per-channel weights, the 2-bit layers exactly on
// their grid, 8-bit activations at each tensor's own range) against float on real CIFAR-10
// test images, normalized as the network was trained (../shared/data/cifar10/README.md).
TEST(OnnxResNet20, EightBitIntegerAgreesInTop1WithFloat) {
  REQUIRE_RESNET();
  const fs::path images = kResNet / ".." / "cifar10" / "test_images.npy";
  if (!fs::exists(images)) GTEST_SKIP() << "CIFAR-10 images not found at " << images.string();
  const NpyArray pixels = read_npy(images.string());
  ASSERT_EQ(pixels.shape, (std::vector<int64_t>{512, 3, 32, 32}));
  const OnnxModel m = import_onnx((kResNet / "onnx" / "model.onnx").string());
  const auto q = ref::quantize_weights(m.net, m.weights, 8);
  // The 18 block convolutions hold 2-bit weights: every channel sits on the odd grid.
  int odd_layers = 0;
  for (const auto& [name, ql] : q)
    odd_layers +=
        std::all_of(ql.odd_grid.begin(), ql.odd_grid.end(), [](uint8_t f) { return f != 0; });
  EXPECT_EQ(odd_layers, 18);
  ref::IntOptions opt;  // 8-bit weights, 8-bit activations at each tensor's own range
  const double mean[3] = {0.4914, 0.4822, 0.4465}, stdev[3] = {0.2023, 0.1994, 0.2010};
  const int n = 32;
  int agree = 0;
  double worst = 0, sum = 0;
  int64_t clamped = 0;
  for (int i = 0; i < n; ++i) {
    ref::FloatTensor x(3, 32, 32);
    for (int64_t k = 0; k < x.size(); ++k)
      x.data[static_cast<size_t>(k)] =
          (pixels.values[static_cast<size_t>(i * 3072 + k)] / 255.0 - mean[k / 1024]) /
          stdev[k / 1024];
    const ref::FloatTensor f = ref::run_float(m.net, m.weights, x).output();
    const ref::IntRun r = ref::run_int(m.net, q, x, opt);
    clamped += r.clamped;
    const auto& g = r.output().data;
    double err = 0;
    for (size_t k = 0; k < f.data.size(); ++k) err = std::max(err, std::fabs(g[k] - f.data[k]));
    worst = std::max(worst, err);
    sum += err;
    const auto top = [](const std::vector<double>& v) {
      return std::max_element(v.begin(), v.end()) - v.begin();
    };
    agree += top(g) == top(f.data);
  }
  std::cout << "ResNet-20 int8 vs float on " << n << " CIFAR-10 test images: top-1 agreement "
            << agree << "/" << n << ", max |logit error| " << worst << ", mean of per-image max "
            << sum / n << ", clamped activations " << clamped << "\n";
  EXPECT_GE(agree, n - 1);
  // Bound from the measurement above, with headroom: a regression in quantization or
  // requantization moves it far beyond this.
  EXPECT_LT(worst, 1.0);
  EXPECT_EQ(clamped, 0);  // each tensor's own range: nothing falls outside its codes
}

// ---- bad models --------------------------------------------------------------------------

namespace {

class BadModel : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = kConformance / "pytorch-converted" / "test_Conv2d";
    if (!fs::exists(src_ / "model.onnx")) GTEST_SKIP() << "libonnx-testdata not installed";
    dir_ = fs::temp_directory_path() /
           ("imcsim-onnx-" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "-" +
            std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    ASSERT_TRUE(model_.ParseFromString(slurp(src_ / "model.onnx")));
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string save(const onnx::ModelProto& m) {
    std::string p = (dir_ / "bad.onnx").string();
    std::ofstream f(p, std::ios::binary);
    m.SerializeToOstream(&f);
    return p;
  }
  std::string error_of(const std::string& path) {
    try {
      import_onnx(path);
    } catch (const WorkloadError& e) {
      return e.what();
    }
    return "(no error)";
  }
  fs::path src_, dir_;
  onnx::ModelProto model_;
};

}  // namespace

TEST_F(BadModel, TruncatedFile) {
  const std::string bytes = slurp(src_ / "model.onnx");
  for (size_t cut : {bytes.size() / 2, bytes.size() - 7, size_t{5}}) {
    const std::string p = (dir_ / "cut.onnx").string();
    std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(cut));
    const std::string msg = error_of(p);
    EXPECT_NE(msg.find("cut.onnx: "), std::string::npos) << msg;
    EXPECT_TRUE(msg.find("truncated") != std::string::npos ||
                msg.find("holds") != std::string::npos)
        << cut << ": " << msg;
  }
}

TEST_F(BadModel, UnknownOperatorNamesNodeOpAndFile) {
  model_.mutable_graph()->mutable_node(0)->set_op_type("Resize");
  model_.mutable_graph()->mutable_node(0)->set_name("up1");
  const std::string msg = error_of(save(model_));
  EXPECT_NE(msg.find("bad.onnx: node \"up1\" (Resize): operator Resize is not supported"),
            std::string::npos)
      << msg;
}

TEST_F(BadModel, WrongInitializerSize) {
  auto* init = model_.mutable_graph()->mutable_initializer(0);
  ASSERT_TRUE(init->has_raw_data());
  init->set_raw_data(init->raw_data().substr(0, init->raw_data().size() - 8));
  const std::string msg = error_of(save(model_));
  EXPECT_NE(msg.find("initializer " + init->name() + ": raw_data holds"), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated or mismatched"), std::string::npos) << msg;
}

TEST_F(BadModel, InitializerShapeDisagreesWithTheGraph) {
  // Declare the conv weight with one input channel fewer (and matching data): the graph's
  // input channels no longer fit.
  auto* init = model_.mutable_graph()->mutable_initializer(0);
  ASSERT_EQ(init->dims_size(), 4);
  const int64_t per_ic = init->dims(2) * init->dims(3) * 4;
  init->set_dims(1, init->dims(1) - 1);
  init->set_raw_data(
      init->raw_data().substr(0, static_cast<size_t>(init->dims(0) * init->dims(1) * per_ic)));
  const std::string msg = error_of(save(model_));
  EXPECT_NE(msg.find("weight W has shape"), std::string::npos) << msg;
  EXPECT_NE(msg.find("(Conv)"), std::string::npos) << msg;
}

TEST_F(BadModel, ExternalData) {
  auto* init = model_.mutable_graph()->mutable_initializer(0);
  init->clear_raw_data();
  init->set_data_location(onnx::TensorProto::EXTERNAL);
  auto* kv = init->add_external_data();
  kv->set_key("location");
  kv->set_value("weights.bin");
  const std::string msg = error_of(save(model_));
  EXPECT_NE(msg.find("stored externally"), std::string::npos) << msg;
}

TEST_F(BadModel, InputOfTheWrongShape) {
  const OnnxModel m = import_onnx((src_ / "model.onnx").string());
  ProtoTensor in = read_tensor_proto((src_ / "test_data_set_0" / "input_0.pb").string());
  in.dims.back() += 1;
  in.values.resize(static_cast<size_t>(in.size()));
  try {
    infer_model(m, in, "x.pb", {});
    FAIL();
  } catch (const WorkloadError& e) {
    EXPECT_NE(std::string(e.what()).find("x.pb: "), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("the network expects"), std::string::npos) << e.what();
  }
}

TEST(TensorProto, RoundTripAndTruncation) {
  ProtoTensor t;
  t.name = "y";
  t.dims = {2, 3};
  t.values = {1.5, -2, 0, 3.25, 1e-3, 7};
  const std::string bytes = serialize_tensor_proto(t);
  const ProtoTensor back = parse_tensor_proto(bytes, "y.pb");
  EXPECT_EQ(back.dims, t.dims);
  for (size_t i = 0; i < t.values.size(); ++i)
    EXPECT_EQ(back.values[i], static_cast<float>(t.values[i]));
  EXPECT_EQ(serialize_tensor_proto(back), bytes);  // deterministic bytes
  t.data_type = kInt32;
  t.values = {1, -2, 3, 2147483647, -2147483647, 0};
  EXPECT_EQ(parse_tensor_proto(serialize_tensor_proto(t), "i.pb").values, t.values);
  for (size_t cut : {bytes.size() - 1, bytes.size() - 10}) {
    try {
      parse_tensor_proto(bytes.substr(0, cut), "y.pb");
      ADD_FAILURE() << "no error at " << cut;
    } catch (const WorkloadError& e) {
      EXPECT_NE(std::string(e.what()).find("y.pb: "), std::string::npos) << e.what();
    }
  }
}

// Import -> workload YAML -> load_workload_file gives the same layers (the rest of the tool
// chain sees no difference).
TEST(OnnxImport, WorkloadYamlRoundTrip) {
  REQUIRE_RESNET();
  const OnnxModel m = import_onnx((kResNet / "onnx" / "model.onnx").string());
  const std::string yaml = workload_yaml(m.net, "test");
  const Network back =
      parse_workload(YamlNode::load_string(yaml, "imported.yaml", ErrorKind::Workload));
  ASSERT_EQ(back.layers.size(), m.net.layers.size());
  for (size_t i = 0; i < back.layers.size(); ++i) {
    const Layer &a = back.layers[i], &b = m.net.layers[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.type, b.type) << a.name;
    EXPECT_EQ(a.inputs, b.inputs) << a.name;
    EXPECT_EQ(a.in, b.in) << a.name;
    EXPECT_EQ(a.out, b.out) << a.name;
    EXPECT_EQ(a.act, b.act) << a.name;
    EXPECT_EQ(a.bias, b.bias) << a.name;
    EXPECT_EQ(a.batch_norm, b.batch_norm) << a.name;
    EXPECT_EQ(a.stride_h, b.stride_h) << a.name;
    EXPECT_EQ(a.pad_h, b.pad_h) << a.name;
  }
}

TEST(OnnxFuzzFindings, DimsProductOverflowIsANamedError) {
  // scripts/fuzz: a model whose initializer dims multiply past int64; the size bound is now
  // checked before each multiplication.
  const std::string file =
      std::string(IMCSIM_SOURCE_DIR) + "/tests/fuzz/findings/onnx-dims-overflow.bin";
  EXPECT_THROW(imcsim::onnx_io::import_onnx(file), imcsim::Error);
}

// A node name taken from a model never becomes a path outside --weights-dir: `imcsim import`
// names weight files after the layer name restricted to [A-Za-z0-9_.-] (no leading '.'), and
// the workload with those weights infers as before.
TEST_F(BadModel, NodeNamesCannotWriteOutsideTheWeightsFolder) {
  for (const char* evil : {"../../../../x/EVIL_NODE", "/tmp/EVIL_ABS", ".."}) {
    onnx::ModelProto m = model_;
    m.mutable_graph()->mutable_node(0)->set_name(evil);
    const std::string model = save(m);
    const fs::path out = dir_ / "w";
    fs::remove_all(out);
    const std::string cmd = std::string(IMCSIM_BIN) + " import " + model + " -o " +
                            (dir_ / "net.yaml").string() + " --weights-dir " + out.string() +
                            " >/dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << evil;
    int files = 0;
    for (const auto& e : fs::recursive_directory_iterator(dir_)) {
      const fs::path rel = fs::relative(e.path(), dir_);
      EXPECT_NE(rel.string().rfind("..", 0), 0u) << evil << ": " << e.path();
      if (e.path().parent_path() == out) ++files;
    }
    EXPECT_GE(files, 2) << evil;  // weight file(s) + weight_map.yaml, inside the folder
    EXPECT_FALSE(fs::exists("/tmp/EVIL_ABS.weight.npy"));
    EXPECT_FALSE(fs::exists(dir_.parent_path().parent_path() / "x"));
    const std::string infer = std::string(IMCSIM_BIN) + " infer --workload " +
                              (dir_ / "net.yaml").string() + " --weights " + out.string() +
                              " --input " + (src_ / "test_data_set_0" / "input_0.pb").string() +
                              " --output " + (dir_ / "o.pb").string() + " >/dev/null 2>&1";
    EXPECT_EQ(std::system(infer.c_str()), 0) << evil;
  }
}

// The 18 block convolutions hold 2-bit weights E * {-1, -1/3, 1/3, 1}: at weight_bits 2 they are
// held exactly (the odd grid q in {-3, -1, 1, 3}, stored as offset codes 0..3), where a
// symmetric 2-bit grid would have only {-1, 0, 1}.
TEST(OnnxResNet20, TwoBitLayersAreExactAtTwoBits) {
  REQUIRE_RESNET();
  const OnnxModel m = import_onnx((kResNet / "onnx" / "model.onnx").string());
  int exact_layers = 0;
  for (const auto& l : m.net.layers) {
    if (!l.on_arrays()) continue;
    const LayerWeights& lw = m.weights.at(l.name);
    const ref::QuantizedLayer q = ref::quantize_layer(l, lw, 2);
    const int64_t per = lw.weight.size() / l.out.c;
    bool exact = true;
    for (int64_t oc = 0; oc < l.out.c; ++oc)
      for (int64_t i = 0; i < per; ++i) {
        const size_t k = static_cast<size_t>(oc * per + i);
        exact = exact && q.odd_grid[static_cast<size_t>(oc)] && std::abs(q.q[k]) <= 3 &&
                q.q[k] % 2 != 0 &&
                std::fabs(static_cast<double>(q.q[k]) * q.w_scale[static_cast<size_t>(oc)] -
                          lw.weight.data[k]) <= 1e-6 * std::fabs(lw.weight.data[k]);
      }
    exact_layers += exact;
  }
  EXPECT_EQ(exact_layers, 18);  // the stem, the two shortcuts and fc are float: not on a 2-bit grid
}

// ---- GELU and constant elementwise operators on small built graphs ------------------------

namespace {

// A 1x2x4x4 input -> Conv 2->3 (3x3, pad 1, bias) -> `tail` nodes; initializers as given.
struct Graph {
  onnx::ModelProto m;
  onnx::GraphProto* g;
  Graph() : g(m.mutable_graph()) {
    m.set_ir_version(7);
    m.add_opset_import()->set_version(13);
    g->set_name("g");
    auto* in = g->add_input();
    in->set_name("x");
    auto* t = in->mutable_type()->mutable_tensor_type();
    t->set_elem_type(onnx::TensorProto::FLOAT);
    for (int64_t d : {1, 2, 4, 4}) t->mutable_shape()->add_dim()->set_dim_value(d);
    SeededStream rng(5);
    std::vector<float> w(3 * 2 * 9), b(3);
    for (auto& v : w) v = static_cast<float>(rng.uniform(-1, 1));
    for (auto& v : b) v = static_cast<float>(rng.uniform(-1, 1));
    init("w", {3, 2, 3, 3}, w);
    init("b", {3}, b);
    auto* c = node("Conv", "conv", {"x", "w", "b"}, "c");
    auto* p = c->add_attribute();
    p->set_name("pads");
    p->set_type(onnx::AttributeProto::INTS);
    for (int k = 0; k < 4; ++k) p->add_ints(1);
  }
  void init(const std::string& name, const std::vector<int64_t>& dims,
            const std::vector<float>& v) {
    auto* t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->add_dims(d);
    for (float x : v) t->add_float_data(x);
  }
  onnx::NodeProto* node(const std::string& op, const std::string& name,
                        const std::vector<std::string>& ins, const std::string& out) {
    auto* n = g->add_node();
    n->set_op_type(op);
    n->set_name(name);
    for (const auto& i : ins) n->add_input(i);
    n->add_output(out);
    return n;
  }
  void constant(const std::string& out, float v) {
    auto* n = node("Constant", out, {}, out);
    auto* a = n->add_attribute();
    a->set_name("value");
    a->set_type(onnx::AttributeProto::TENSOR);
    a->mutable_t()->set_data_type(onnx::TensorProto::FLOAT);
    a->mutable_t()->add_float_data(v);
  }
  OnnxModel import(const std::string& out, const fs::path& dir) {
    g->add_output()->set_name(out);
    const fs::path p = dir / "g.onnx";
    std::ofstream f(p, std::ios::binary);
    m.SerializeToOstream(&f);
    f.close();
    return import_onnx(p.string());
  }
};

fs::path scratch(const std::string& name) {
  fs::path d =
      fs::temp_directory_path() / ("imcsim-onnx-" + name + "-" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

ref::FloatTensor seeded_input() {
  ref::FloatTensor x(2, 4, 4);
  SeededStream rng(9);
  for (auto& v : x.data) v = rng.uniform(-2, 2);
  return x;
}

}  // namespace

// GELU as a Gelu node, as PyTorch's pattern, and as the pattern in the other multiplication
// order with Constant-node operands: each fuses into the conv as exact GELU.
TEST(OnnxImport, GeluInEveryFormFusesIntoTheLayerBefore) {
  const fs::path dir = scratch("gelu");
  const ref::FloatTensor x = seeded_input();
  Graph plain;
  const OnnxModel conv = plain.import("c", dir);
  const ref::FloatTensor z = ref::run_float(conv.net, conv.weights, x).output();
  for (int form = 0; form < 3; ++form) {
    Graph gr;
    std::string out;
    if (form == 0) {
      gr.node("Gelu", "gelu", {"c"}, "y");
      out = "y";
    } else if (form == 1) {
      gr.init("sqrt2", {}, {1.41421356f});
      gr.init("one", {}, {1.0f});
      gr.init("half", {}, {0.5f});
      gr.node("Div", "d", {"c", "sqrt2"}, "d");
      gr.node("Erf", "e", {"d"}, "e");
      gr.node("Add", "a", {"e", "one"}, "a");
      gr.node("Mul", "m", {"c", "a"}, "m");
      gr.node("Mul", "m2", {"m", "half"}, "y");
      out = "y";
    } else {
      gr.constant("rs2", 0.70710678f);
      gr.constant("one", 1.0f);
      gr.constant("half", 0.5f);
      gr.node("Mul", "d", {"rs2", "c"}, "d");
      gr.node("Erf", "e", {"d"}, "e");
      gr.node("Add", "a", {"one", "e"}, "a");
      gr.node("Mul", "h", {"c", "half"}, "h");
      gr.node("Mul", "m", {"a", "h"}, "y");
      out = "y";
    }
    const OnnxModel m = gr.import(out, dir);
    ASSERT_EQ(m.net.layers.size(), 1u) << form;
    EXPECT_EQ(m.net.layers[0].act, Activation::Gelu) << form;
    const ref::FloatTensor y = ref::run_float(m.net, m.weights, x).output();
    for (size_t i = 0; i < y.data.size(); ++i) {
      const double v = z.data[i];
      EXPECT_NEAR(y.data[i], 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))), 1e-12)
          << form << " " << i;
    }
  }
  Graph approx;
  auto* n = approx.node("Gelu", "gelu", {"c"}, "y");
  auto* a = n->add_attribute();
  a->set_name("approximate");
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s("tanh");
  try {
    approx.import("y", dir);
    ADD_FAILURE() << "tanh GELU accepted";
  } catch (const WorkloadError& e) {
    EXPECT_NE(std::string(e.what()).find("approximate=\"tanh\" is not supported"),
              std::string::npos)
        << e.what();
  }
  fs::remove_all(dir);
}

// Mul / Div by a per-channel constant and Add / Sub of a scalar after a conv fold into its
// weights and bias: the same outputs as applying them.
TEST(OnnxImport, ConstantElementwiseOperatorsFoldIntoTheConv) {
  const fs::path dir = scratch("affine");
  const ref::FloatTensor x = seeded_input();
  Graph plain;
  const OnnxModel conv = plain.import("c", dir);
  const ref::FloatTensor z = ref::run_float(conv.net, conv.weights, x).output();
  Graph gr;
  gr.init("scale", {3, 1, 1}, {2.0f, -0.5f, 3.0f});
  gr.init("div", {}, {4.0f});
  gr.init("off", {}, {0.25f});
  gr.init("sub", {3, 1, 1}, {1.0f, 2.0f, -1.0f});
  gr.node("Mul", "mul", {"c", "scale"}, "m");
  gr.node("Div", "div", {"m", "div"}, "d");
  gr.node("Add", "add", {"off", "d"}, "a");
  gr.node("Sub", "sub", {"a", "sub"}, "y");
  const OnnxModel m = gr.import("y", dir);
  ASSERT_EQ(m.net.layers.size(), 1u);
  const ref::FloatTensor y = ref::run_float(m.net, m.weights, x).output();
  const double scale[3] = {2.0, -0.5, 3.0}, sub[3] = {1.0, 2.0, -1.0};
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t p = 0; p < 16; ++p) {
      const size_t i = static_cast<size_t>(c * 16 + p);
      EXPECT_NEAR(y.data[i], z.data[i] * scale[c] / 4.0 + 0.25 - sub[c], 1e-5) << c << " " << p;
    }
  // A constant minus a tensor is not an affine fold the importer offers: a named error.
  Graph bad;
  bad.init("k", {}, {1.0f});
  bad.node("Sub", "rsub", {"k", "c"}, "y");
  try {
    bad.import("y", dir);
    ADD_FAILURE() << "constant - tensor accepted";
  } catch (const WorkloadError& e) {
    EXPECT_NE(std::string(e.what()).find("node \"rsub\" (Sub)"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}
