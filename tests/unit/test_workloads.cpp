// Workload tests: the four reference networks load, their shapes chain, and their
// parameter counts match numbers published by others (torchvision) or the trained
// ResNet-20 weights' manifest; bad workloads get errors naming file, line and key.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>

#include "workloads/loader.hpp"
#include "workloads/weights.hpp"

using namespace imcsim;
namespace fs = std::filesystem;

namespace {

const Layer& layer(const Network& n, const std::string& name) {
  const Layer* l = n.find(name);
  if (!l) throw std::runtime_error("no layer " + name);
  return *l;
}

std::string error_of(const std::string& yaml) {
  try {
    parse_workload(YamlNode::load_string(yaml, "net.yaml", ErrorKind::Workload));
  } catch (const WorkloadError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(Workloads, BuiltinsAreListed) {
  const auto names = builtin_workloads();
  for (const char* want : {"resnet18", "resnet20", "vgg13", "wrn16_4"})
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
}

TEST(Workloads, ResNet18MatchesTorchvision) {
  const Network n = load_workload("resnet18");
  // torchvision.models.resnet18: 11,689,512 parameters (weights, biases, BN affine).
  EXPECT_EQ(n.parameter_count(), 11689512);
  EXPECT_EQ(layer(n, "conv1").out, (TensorShape{112, 112, 64}));
  EXPECT_EQ(layer(n, "maxpool").out, (TensorShape{56, 56, 64}));
  EXPECT_EQ(layer(n, "layer4.1.add").out, (TensorShape{7, 7, 512}));
  EXPECT_EQ(layer(n, "fc").in_features(), 512);
  // 1.81 GMACs as torchvision reports ("GFLOPS 1.81").
  EXPECT_NEAR(static_cast<double>(n.total_macs()) / 1e9, 1.81, 0.01);
}

TEST(Workloads, Vgg13MatchesTorchvision) {
  const Network n = load_workload("vgg13");
  // torchvision.models.vgg13: 133,047,848 parameters; 11.31 GFLOPS (MACs).
  EXPECT_EQ(n.parameter_count(), 133047848);
  EXPECT_NEAR(static_cast<double>(n.total_macs()) / 1e9, 11.31, 0.01);
  EXPECT_EQ(layer(n, "classifier.0").in_features(), 25088);
}

TEST(Workloads, Wrn16_4Shapes) {
  const Network n = load_workload("wrn16_4");
  int convs = 0;
  for (const auto& l : n.layers) convs += l.type == LayerType::Conv ? 1 : 0;
  EXPECT_EQ(convs, 1 + 3 * 2 * 2 + 3);  // stem, 12 block convs, 3 projection shortcuts
  EXPECT_EQ(layer(n, "block3.1.add").out, (TensorShape{8, 8, 256}));
  // Zagoruyko & Komodakis report 2.7M parameters for WRN-16-4.
  EXPECT_NEAR(static_cast<double>(n.parameter_count()) / 1e6, 2.75, 0.05);
}

TEST(Workloads, ResNet20MatchesTrainedWeightShapes) {
  const fs::path manifest =
      fs::path(IMCSIM_SOURCE_DIR) / "../shared/data/resnet20-cifar10/manifest.yaml";
  if (!fs::exists(manifest))
    GTEST_SKIP() << "trained ResNet-20 weights not present at " << manifest;
  const Network n = load_workload("resnet20");
  std::ifstream f(manifest);
  const std::regex re(R"(^(\S+)\.weight: \{file: \S+, shape: \[([0-9, ]+)\]\})");
  std::string line;
  int matched = 0;
  while (std::getline(f, line)) {
    std::smatch m;
    if (!std::regex_match(line, m, re)) continue;
    const Layer* l = n.find(m[1]);
    if (!l || !l->on_arrays()) continue;  // BN weights
    std::vector<int64_t> dims;
    std::stringstream ss(m[2]);
    for (std::string d; std::getline(ss, d, ',');) dims.push_back(std::stoll(d));
    if (l->type == LayerType::Conv) {
      ASSERT_EQ(dims.size(), 4u) << line;
      EXPECT_EQ(dims[0], l->out.c) << l->name;
      EXPECT_EQ(dims[1], l->in.c / l->groups) << l->name;
      EXPECT_EQ(dims[2], l->k_h) << l->name;
      EXPECT_EQ(dims[3], l->k_w) << l->name;
    } else {
      EXPECT_EQ(dims[0], l->out.c);
      EXPECT_EQ(dims[1], l->in_features());
    }
    ++matched;
  }
  EXPECT_EQ(matched, 19 + 2 + 1);  // 19 convs, 2 shortcut convs, fc
}

TEST(Workloads, ResNet20Structure) {
  const Network n = load_workload("resnet20");
  EXPECT_EQ(layer(n, "layers.6.conv1").out, (TensorShape{16, 16, 32}));
  EXPECT_EQ(layer(n, "layers.6.shortcut.0").out, (TensorShape{16, 16, 32}));
  EXPECT_EQ(layer(n, "layers.11.add").out, (TensorShape{8, 8, 64}));
  EXPECT_EQ(layer(n, "fc").out.c, 10);
}

TEST(WorkloadErrors, ChannelMismatchNamesLineAndKey) {
  const std::string e = error_of(R"(name: bad
input: {h: 8, w: 8, c: 3}
layers:
  - {name: a, type: conv, out_channels: 8, kernel: 3, pad: 1}
  - {name: b, type: conv, out_channels: 16, kernel: 3, pad: 1}
  - {name: s, type: add, inputs: [a, b]}
)");
  EXPECT_NE(e.find("net.yaml:6: layers[2].inputs: channel mismatch"), std::string::npos) << e;
}

TEST(WorkloadErrors, UnknownInputUnknownKeyAndBadKernel) {
  EXPECT_NE(error_of("name: x\ninput: {h: 8, w: 8, c: 3}\nlayers:\n"
                     "  - {name: a, type: conv, out_channels: 8, kernel: 3, inputs: zz}\n")
                .find("net.yaml:4: layers[0].inputs: unknown input \"zz\""),
            std::string::npos);
  EXPECT_NE(error_of("name: x\ninput: {h: 8, w: 8, c: 3}\nlayers:\n"
                     "  - {name: a, type: conv, out_channels: 8, kernal: 3}\n")
                .find("net.yaml:4: layers[0].kernal: unknown key"),
            std::string::npos);
  EXPECT_NE(error_of("name: x\ninput: {h: 2, w: 2, c: 3}\nlayers:\n"
                     "  - {name: a, type: conv, out_channels: 8, kernel: 5}\n")
                .find("kernel height (5) is larger than the padded input"),
            std::string::npos);
  EXPECT_NE(error_of("name: x\ninput: {h: 8, w: 8, c: 3}\nlayers:\n"
                     "  - {name: a, type: pool, kernel: 2}\n")
                .find("layers[0].type: expected one of conv, fc, add"),
            std::string::npos);
  EXPECT_NE(error_of("name: x\ninput: {h: 8, w: 8, c: 3}\nlayers:\n"
                     "  - {name: a, type: conv, out_channels: 8, kernel: 3, groups: 2}\n")
                .find("groups 2 must divide input channels 3"),
            std::string::npos);
  EXPECT_NE(error_of("name: x\ninput: {h: 8, w: 8, c: 3}\nlayers:\n"
                     "  - {name: a, type: fc, out_features: 8}\n"
                     "  - {name: a, type: fc, out_features: 8}\n")
                .find("net.yaml:5: layers[1].name: duplicate layer name"),
            std::string::npos);
}

TEST(WorkloadErrors, UnknownBuiltinListsTheKnownOnes) {
  try {
    resolve_workload("resnet21");
    FAIL();
  } catch (const WorkloadError& e) {
    EXPECT_NE(std::string(e.what()).find("resnet18, resnet20, vgg13 or wrn16_4"), std::string::npos)
        << e.what();
  }
}

TEST(Weights, SyntheticAreDeterministicAndShaped) {
  const Network n = load_workload("resnet20");
  const WeightSet a = synthetic_weights(n, 7), b = synthetic_weights(n, 7),
                  c = synthetic_weights(n, 8);
  check_weights(n, a);
  EXPECT_EQ(a.at("layers.0").weight.shape, (std::vector<int64_t>{16, 3, 3, 3}));
  EXPECT_EQ(a.at("fc").weight.shape, (std::vector<int64_t>{10, 64}));
  EXPECT_EQ(a.at("fc").bias.size(), 10u);
  ASSERT_TRUE(a.at("layers.3.conv1").bn.has_value());
  EXPECT_EQ(a.at("layers.3.conv1").weight.data, b.at("layers.3.conv1").weight.data);
  EXPECT_NE(a.at("layers.3.conv1").weight.data, c.at("layers.3.conv1").weight.data);
  // Kaiming-uniform bound sqrt(6 / fan_in), fan_in = 16*3*3.
  const double bound = std::sqrt(6.0 / 144.0);
  double sum = 0;
  for (float v : a.at("layers.3.conv1").weight.data) {
    EXPECT_LE(std::abs(v), bound);
    sum += v;
  }
  EXPECT_LT(std::abs(sum / 2304.0), 0.05);  // mean near zero
}

TEST(Weights, ShapeMismatchIsNamed) {
  const Network n = load_workload("resnet20");
  WeightSet w = synthetic_weights(n, 1);
  w.layers["layers.3.conv2"].weight = Tensor({16, 8, 3, 3});
  try {
    check_weights(n, w);
    FAIL();
  } catch (const WorkloadError& e) {
    EXPECT_NE(std::string(e.what()).find("layers.3.conv2: weight shape 16x8x3x3 does not match the "
                                         "layer: expected 16x16x3x3"),
              std::string::npos)
        << e.what();
  }
}

TEST(WorkloadErrors, MalformedFileFoundByFuzzingIsANamedErrorNotAHang) {
  // A mangled VGG-13 file (scripts/fuzz): yaml-cpp's LoadAll looped on it without end; the
  // reader must answer with an error naming the file.
  const std::string file =
      std::string(IMCSIM_SOURCE_DIR) + "/tests/bad_configs/workloads/fuzz-loadall-hang.yaml";
  try {
    load_workload_file(file);
    FAIL() << "expected a WorkloadError";
  } catch (const WorkloadError& e) {
    EXPECT_EQ(e.file(), file);
    EXPECT_GT(e.line(), 0);
  }
}

TEST(WorkloadErrors, SecondYamlDocumentIsNamed) {
  EXPECT_NE(error_of("name: x\ninput: {h: 8, w: 8, c: 3}\nlayers:\n"
                     "  - {name: a, type: fc, out_features: 8}\n---\nname: y\n")
                .find("net.yaml:6: a second YAML document"),
            std::string::npos);
  // An explicit start marker and a trailing end marker are one document.
  EXPECT_EQ(error_of("---\nname: x\ninput: {h: 8, w: 8, c: 3}\nlayers:\n"
                     "  - {name: a, type: fc, out_features: 8}\n...\n"),
            "(no error)");
}
