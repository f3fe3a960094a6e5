// .npy reading and writing, and weights for a YAML workload from a folder of .npy tensors
// through a weight name map (workloads/npy.hpp, workloads/npy_weights.hpp).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "workloads/error.hpp"
#include "workloads/loader.hpp"
#include "workloads/npy.hpp"
#include "workloads/npy_weights.hpp"

namespace fs = std::filesystem;
using namespace imcsim;

namespace {

const fs::path kData = fs::path(IMCSIM_SOURCE_DIR) / ".." / "shared" / "data" / "resnet20-cifar10";

#define REQUIRE_DATA()                                                     \
  if (!fs::exists(kData / "manifest.yaml"))                                \
  GTEST_SKIP() << "trained ResNet-20 data not found at " << kData.string() \
               << " (../shared/data/resnet20-cifar10 from the project root); skipping"

// A .npy file made by hand from its parts, to cover what numpy may write.
std::string npy(int major, const std::string& header, const std::string& data) {
  std::string out("\x93NUMPY", 6);
  out += static_cast<char>(major);
  out += '\0';
  if (major == 1) {
    out += static_cast<char>(header.size() & 0xff);
    out += static_cast<char>(header.size() >> 8);
  } else {
    for (int i = 0; i < 4; ++i) out += static_cast<char>((header.size() >> (8 * i)) & 0xff);
  }
  return out + header + data;
}

template <typename T>
std::string raw(const std::vector<T>& v) {
  std::string s(v.size() * sizeof(T), '\0');
  std::memcpy(&s[0], v.data(), s.size());
  return s;
}

std::string error_of(const std::string& bytes) {
  try {
    parse_npy(bytes, "w.npy");
  } catch (const WorkloadError& e) {
    return e.what();
  }
  return "";
}

class TempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("imcsim-npy-" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "-" +
            std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

}  // namespace

TEST(Npy, ReadsTheTrainedFingerprint) {
  REQUIRE_DATA();
  // The fingerprint the data README gives to verify a loader.
  const Tensor t = read_npy_tensor((kData / "layers.0.weight.npy").string());
  EXPECT_EQ(t.shape, (std::vector<int64_t>{16, 3, 3, 3}));
  EXPECT_NEAR(t.data.at(0), 0.123358, 5e-7);
  double sum = 0;
  for (float v : t.data) sum += v;
  EXPECT_NEAR(sum, -0.646112, 5e-6);
}

TEST(Npy, VersionsAndDtypes) {
  const std::string hdr = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }\n";
  const std::vector<double> d = {1.5, -2.25, 3, 4, 5, 1e300};
  for (int major : {1, 2, 3}) {
    const NpyArray a = parse_npy(npy(major, hdr, raw(d)), "x.npy");
    EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3})) << major;
    EXPECT_EQ(a.values, d) << major;
  }
  const NpyArray i4 = parse_npy(npy(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }",
                                    raw(std::vector<int32_t>{-7, 0, 2147483647})),
                                "x.npy");
  EXPECT_EQ(i4.values, (std::vector<double>{-7, 0, 2147483647}));
  const NpyArray u1 = parse_npy(npy(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }",
                                    raw(std::vector<uint8_t>{0, 255})),
                                "x.npy");
  EXPECT_EQ(u1.values, (std::vector<double>{0, 255}));
  const NpyArray scalar =
      parse_npy(npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }",
                    raw(std::vector<float>{2.5f})),
                "x.npy");
  EXPECT_TRUE(scalar.shape.empty());
  EXPECT_EQ(scalar.values, (std::vector<double>{2.5}));
}

TEST(Npy, WriteThenReadIsExact) {
  Tensor t({2, 3, 1, 2});
  for (size_t i = 0; i < t.data.size(); ++i) t.data[i] = static_cast<float>(i) * 0.1f - 0.3f;
  const std::string bytes = npy_bytes(t);
  EXPECT_EQ((bytes.size() - t.data.size() * 4) % 64, 0u);  // data aligned as numpy aligns it
  const NpyArray a = parse_npy(bytes, "t.npy");
  EXPECT_EQ(a.dtype, "<f4");
  EXPECT_EQ(a.shape, t.shape);
  for (size_t i = 0; i < t.data.size(); ++i) EXPECT_EQ(static_cast<float>(a.values[i]), t.data[i]);
}

TEST(Npy, BadFilesAreNamedErrors) {
  const std::string good = npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }",
                               raw(std::vector<float>{1, 2, 3, 4}));
  EXPECT_NE(error_of(good.substr(0, good.size() - 3))
                .find("w.npy: not a readable .npy file: data truncated"),
            std::string::npos);
  EXPECT_NE(error_of(good.substr(0, 20)).find("header of"), std::string::npos);
  EXPECT_NE(error_of(good.substr(0, 4)).find("magic"), std::string::npos);
  EXPECT_NE(error_of(good + "xx").find("trailing bytes"), std::string::npos);
  EXPECT_NE(error_of(npy(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", "abcd"))
                .find("little-endian"),
            std::string::npos);
  EXPECT_NE(error_of(npy(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }", "abcd"))
                .find("Fortran order"),
            std::string::npos);
  EXPECT_NE(
      error_of(npy(1, "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", "abcdefgh"))
          .find("expected float32/64"),
      std::string::npos);
  EXPECT_NE(error_of(npy(1, "{'descr': '<f4', 'fortran_order': False}", "")).find("'shape'"),
            std::string::npos);
  EXPECT_NE(error_of(npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (a,), }", ""))
                .find("not a non-negative integer"),
            std::string::npos);
  EXPECT_NE(error_of(npy(4, "{}", "")).find("format version 4"), std::string::npos);
}

TEST_F(TempDir, MissingFileIsANamedError) {
  try {
    read_npy((dir_ / "nope.npy").string());
    FAIL() << "expected an error";
  } catch (const WorkloadError& e) {
    EXPECT_NE(std::string(e.what()).find("nope.npy: cannot open"), std::string::npos) << e.what();
  }
}

TEST(NpyWeights, TrainedResNet20LoadsThroughTheBuiltInMap) {
  REQUIRE_DATA();
  const Network net = load_workload("resnet20");
  const WeightSet w = load_npy_weights(net, kData.string());
  check_weights(net, w);
  EXPECT_EQ(w.layers.size(), 22u);  // 21 conv + fc
  const LayerWeights& first = w.at("layers.0");
  ASSERT_TRUE(first.bn.has_value());
  // The BN of the first conv is bn_dict index 2 (data README).
  const Tensor gamma = read_npy_tensor((kData / "layers.1.bn_dict.2.weight.npy").string());
  EXPECT_EQ(first.bn->gamma, gamma.data);
  const Tensor sc = read_npy_tensor((kData / "layers.9.shortcut.1.running_var.npy").string());
  EXPECT_EQ(w.at("layers.9.shortcut.0").bn->var, sc.data);
  EXPECT_EQ(w.at("fc").bias.size(), 10u);
}

TEST_F(TempDir, MissingTensorNamesTheLayerAndTheFile) {
  const Network net = load_workload("resnet20");
  try {
    load_npy_weights(net, dir_.string());
    FAIL() << "expected an error";
  } catch (const WorkloadError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("layers.0: weight tensor \"layers.0.weight\" not found"), std::string::npos)
        << msg;
    EXPECT_NE(msg.find("weight_maps/resnet20.yaml"), std::string::npos) << msg;
  }
}

TEST_F(TempDir, WrongShapeIsNamed) {
  // Synthetic weights written under the default names, one with the wrong shape.
  const Network net = load_workload("resnet20");
  const WeightSet syn = synthetic_weights(net, 3);
  for (const auto& [name, lw] : syn.layers) {
    write_npy((dir_ / (name + ".weight.npy")).string(), lw.weight);
    if (!lw.bias.empty()) {
      Tensor b({static_cast<int64_t>(lw.bias.size())});
      b.data = lw.bias;
      write_npy((dir_ / (name + ".bias.npy")).string(), b);
    }
    if (lw.bn) {
      const std::vector<float>* v[] = {&lw.bn->gamma, &lw.bn->beta, &lw.bn->mean, &lw.bn->var};
      const char* suffix[] = {"weight", "bias", "running_mean", "running_var"};
      for (int i = 0; i < 4; ++i) {
        Tensor t({static_cast<int64_t>(v[i]->size())});
        t.data = *v[i];
        write_npy((dir_ / (name + ".bn." + suffix[i] + ".npy")).string(), t);
      }
    }
  }
  std::ofstream((dir_ / "weight_map.yaml").string()) << "layers: {}\n";
  const WeightSet back = load_npy_weights(net, dir_.string());
  for (const auto& [name, lw] : syn.layers) {
    EXPECT_EQ(back.at(name).weight.data, lw.weight.data) << name;
    EXPECT_EQ(back.at(name).bias, lw.bias) << name;
    EXPECT_EQ(back.at(name).bn.has_value(), lw.bn.has_value()) << name;
  }
  write_npy((dir_ / "layers.3.conv1.weight.npy").string(), Tensor({16, 16, 3, 2}));
  try {
    load_npy_weights(net, dir_.string());
    FAIL() << "expected an error";
  } catch (const WorkloadError& e) {
    EXPECT_NE(
        std::string(e.what()).find("layers.3.conv1: weight shape 16x16x3x2 does not match the "
                                   "layer: expected 16x16x3x3"),
        std::string::npos)
        << e.what();
  }
}

TEST_F(TempDir, MapNamingAnUnknownLayerIsAnError) {
  const Network net = load_workload("resnet20");
  const fs::path map = dir_ / "map.yaml";
  std::ofstream(map.string()) << "layers:\n  layers.0: {weight: a}\n  nosuch: {weight: b}\n";
  try {
    load_weight_map(map.string(), net);
    FAIL() << "expected an error";
  } catch (const WorkloadError& e) {
    EXPECT_NE(std::string(e.what()).find("map.yaml:3"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("\"nosuch\" is not a conv or fc layer"),
              std::string::npos);
  }
}

TEST(NpyFuzzFindings, ShapeProductOverflowIsANamedError) {
  // scripts/fuzz: a header whose shape product overflows int64 (UBSan signed overflow before
  // the data-length check); now refused while parsing the shape.
  const std::string file =
      std::string(IMCSIM_SOURCE_DIR) + "/tests/fuzz/findings/npy-shape-overflow.npy";
  try {
    imcsim::read_npy(file);
    FAIL() << "expected a WorkloadError";
  } catch (const imcsim::WorkloadError& e) {
    EXPECT_EQ(e.file(), file);
  }
}
