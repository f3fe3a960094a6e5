// Data set folders (workloads/dataset.hpp): the shared CIFAR-10 subset loads with the counts
// its README states and preprocesses as its formula says; every malformed folder gives a
// named error at the dataset.yaml entry to fix.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "workloads/dataset.hpp"
#include "workloads/error.hpp"

namespace fs = std::filesystem;
using namespace imcsim;

namespace {

const fs::path kCifar = fs::path(IMCSIM_SOURCE_DIR) / ".." / "shared" / "data" / "cifar10";

#define REQUIRE_CIFAR()                                              \
  if (!fs::exists(kCifar / "dataset.yaml"))                          \
  GTEST_SKIP() << "CIFAR-10 subset not found at " << kCifar.string() \
               << " (../shared/data/cifar10 from the project root); skipping"

// .npy version 1.0 with any descr; `data` is the raw little-endian payload.
void write_npy_raw(const fs::path& p, const std::string& descr, const std::string& shape,
                   const std::string& data) {
  std::string header =
      "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  const size_t pad = 64 - (10 + header.size() + 1) % 64;
  header += std::string(pad, ' ') + "\n";
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header + data;
  std::ofstream(p, std::ios::binary) << out;
}

std::string u8(const std::vector<int>& v) {
  std::string s;
  for (int x : v) s += static_cast<char>(x);
  return s;
}
std::string f32(const std::vector<float>& v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(s.data(), v.data(), s.size());
  return s;
}
std::string f64(const std::vector<double>& v) {
  std::string s(v.size() * 8, '\0');
  std::memcpy(s.data(), v.data(), s.size());
  return s;
}

const char* kYaml = R"(name: tiny
classes: [a, b, c]
layout: NCHW
splits:
  test: {images: img.npy, labels: lab.npy}
preprocess:
  scale: 0.5
  mean: [1.0, 2.0]
  std: [0.5, 4.0]
)";

class BadDataset : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           (std::string("imcsim-dataset-") + info->name() + "-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    // 2 images, 2 channels, 1x2 pixels; labels 0, 2.
    write_npy_raw(dir_ / "img.npy", "|u1", "(2, 2, 1, 2)", u8({0, 1, 2, 3, 4, 5, 6, 7}));
    write_npy_raw(dir_ / "lab.npy", "|u1", "(2,)", u8({0, 2}));
    yaml(kYaml);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void yaml(const std::string& text) const { std::ofstream(dir_ / "dataset.yaml") << text; }
  std::string replaced(const std::string& from, const std::string& to) const {
    std::string s = kYaml;
    s.replace(s.find(from), from.size(), to);
    return s;
  }
  // The error of loading the folder and its test split ("" when it loads).
  std::string error() const {
    try {
      const Dataset d = load_dataset(dir_.string());
      d.split("test");
    } catch (const WorkloadError& e) {
      return e.what();
    }
    return "";
  }
  fs::path dir_;
};

}  // namespace

TEST(Dataset, SharedCifarLoadsWithItsStatedCounts) {
  REQUIRE_CIFAR();
  const Dataset d = load_dataset(kCifar.string());
  EXPECT_EQ(d.name, "cifar10");
  ASSERT_EQ(d.classes.size(), 10u);
  EXPECT_EQ(d.classes[3], "cat");
  EXPECT_EQ(d.split_names(), (std::vector<std::string>{"test", "train"}));
  const Split& test = d.split("test");
  const Split& train = d.split("train");
  EXPECT_EQ(test.count, 512);
  EXPECT_EQ(train.count, 5085);
  EXPECT_EQ(test.channels, 3);
  EXPECT_EQ(test.height, 32);
  EXPECT_EQ(test.width, 32);
  EXPECT_EQ(test.image_dtype, "uint8");
  // The first test image is a cat (../shared/data/resnet20-cifar10/onnx/test_data_set_0).
  EXPECT_EQ(d.label(test, 0), 3);
  std::vector<int> per_class(10, 0), per_class_train(10, 0);
  for (int64_t i = 0; i < test.count; ++i) ++per_class[static_cast<size_t>(d.label(test, i))];
  for (int64_t i = 0; i < train.count; ++i)
    ++per_class_train[static_cast<size_t>(d.label(train, i))];
  for (int c = 0; c < 10; ++c) {
    EXPECT_GE(per_class[static_cast<size_t>(c)], 41) << d.classes[static_cast<size_t>(c)];
    EXPECT_LE(per_class[static_cast<size_t>(c)], 59) << d.classes[static_cast<size_t>(c)];
    EXPECT_GE(per_class_train[static_cast<size_t>(c)], 475);
    EXPECT_LE(per_class_train[static_cast<size_t>(c)], 537);
  }
  // The same split object on a second request (loaded once).
  EXPECT_EQ(&d.split("test"), &test);
}

TEST(Dataset, PreprocessingIsTheFormula) {
  REQUIRE_CIFAR();
  const Dataset d = load_dataset(kCifar.string());
  const Split& test = d.split("test");
  const ref::FloatTensor x = d.image(test, 7);
  ASSERT_EQ(x.c, 3);
  ASSERT_EQ(x.h, 32);
  const int64_t c = 2, y = 5, col = 30;
  const double pixel = test.pixels[static_cast<size_t>(((7 * 3 + c) * 32 + y) * 32 + col)];
  EXPECT_DOUBLE_EQ(x.at(c, y, col), (pixel / 255.0 - 0.4465) / 0.2010);
  EXPECT_EQ(x.at(c, y, col), (pixel * 0.00392156862745098 - 0.4465) / 0.2010);
}

TEST_F(BadDataset, TheTinyFolderLoads) {
  EXPECT_EQ(error(), "");
  const Dataset d = load_dataset(dir_.string());
  const Split& s = d.split("test");
  EXPECT_EQ(d.label(s, 1), 2);
  const ref::FloatTensor x = d.image(s, 1);  // pixels 4, 5 (channel 0) and 6, 7 (channel 1)
  EXPECT_DOUBLE_EQ(x.at(0, 0, 1), (5 * 0.5 - 1.0) / 0.5);
  EXPECT_DOUBLE_EQ(x.at(1, 0, 0), (6 * 0.5 - 2.0) / 4.0);
}

TEST_F(BadDataset, Float32ImagesLoad) {
  write_npy_raw(dir_ / "img.npy", "<f4", "(2, 2, 1, 2)", f32({0, 1, 2, 3, 4, 5, 6, 7.5f}));
  EXPECT_EQ(error(), "");
  const Dataset d = load_dataset(dir_.string());
  EXPECT_EQ(d.split("test").image_dtype, "float32");
  EXPECT_DOUBLE_EQ(d.image(d.split("test"), 1).at(1, 0, 1), (7.5 * 0.5 - 2.0) / 4.0);
}

TEST_F(BadDataset, MissingDatasetYaml) {
  fs::remove(dir_ / "dataset.yaml");
  EXPECT_NE(error().find("dataset.yaml: data set description not found"), std::string::npos)
      << error();
}

TEST_F(BadDataset, MissingSplitListsTheAvailableOnes) {
  const Dataset d = load_dataset(dir_.string());
  try {
    d.split("train");
    FAIL() << "no error";
  } catch (const WorkloadError& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "splits.train: no split \"train\" in data set tiny (available: test)"),
              std::string::npos)
        << e.what();
  }
}

TEST_F(BadDataset, MissingNpy) {
  fs::remove(dir_ / "lab.npy");
  EXPECT_NE(error().find("dataset.yaml:5: splits.test.labels: file not found"), std::string::npos)
      << error();
}

TEST_F(BadDataset, TruncatedNpy) {
  write_npy_raw(dir_ / "img.npy", "|u1", "(2, 2, 1, 2)", u8({0, 1, 2}));
  EXPECT_NE(error().find("dataset.yaml:5: splits.test.images: "), std::string::npos) << error();
}

TEST_F(BadDataset, ImageDtype) {
  write_npy_raw(dir_ / "img.npy", "<f8", "(2, 2, 1, 2)", f64({0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_NE(error().find("splits.test.images: "), std::string::npos) << error();
  EXPECT_NE(error().find("expected uint8 or float32 images, got dtype <f8"), std::string::npos)
      << error();
}

TEST_F(BadDataset, ImageRank) {
  write_npy_raw(dir_ / "img.npy", "|u1", "(2, 2, 2)", u8({0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_NE(
      error().find("expected images of shape (N, C, H, W) (layout NCHW), got shape (2, 2, 2)"),
      std::string::npos)
      << error();
}

TEST_F(BadDataset, ChannelsNotMeanLength) {
  write_npy_raw(dir_ / "img.npy", "|u1", "(2, 1, 2, 2)", u8({0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_NE(error().find("images have 1 channels but preprocess.mean has 2 values"),
            std::string::npos)
      << error();
}

TEST_F(BadDataset, LabelsNotIntegerVector) {
  write_npy_raw(dir_ / "lab.npy", "<f4", "(2,)", f32({0, 2}));
  EXPECT_NE(error().find("splits.test.labels: "), std::string::npos) << error();
  EXPECT_NE(error().find("expected labels as a vector of integers, got dtype <f4 shape (2,)"),
            std::string::npos)
      << error();
  write_npy_raw(dir_ / "lab.npy", "|u1", "(1, 2)", u8({0, 2}));
  EXPECT_NE(error().find("got dtype |u1 shape (1, 2)"), std::string::npos) << error();
}

TEST_F(BadDataset, CountMismatch) {
  write_npy_raw(dir_ / "lab.npy", "|u1", "(3,)", u8({0, 2, 1}));
  EXPECT_NE(error().find("3 labels for 2 images"), std::string::npos) << error();
}

TEST_F(BadDataset, LabelOutOfRangeNamesIndexAndValue) {
  write_npy_raw(dir_ / "lab.npy", "<i8", "(2,)",
                std::string(8, '\0') + std::string("\x07\0\0\0\0\0\0\0", 8));
  EXPECT_NE(error().find("label 1 is 7, expected a class in 0..2"), std::string::npos) << error();
}

TEST_F(BadDataset, MeanStdLengths) {
  yaml(replaced("std: [0.5, 4.0]", "std: [0.5]"));
  EXPECT_NE(error().find("dataset.yaml:9: preprocess.std: has 1 values but mean has 2"),
            std::string::npos)
      << error();
}

TEST_F(BadDataset, StdNotPositive) {
  yaml(replaced("std: [0.5, 4.0]", "std: [0.5, 0]"));
  EXPECT_NE(error().find("preprocess.std[1]: expected a positive standard deviation, got \"0\""),
            std::string::npos)
      << error();
}

TEST_F(BadDataset, NanInPreprocess) {
  yaml(replaced("mean: [1.0, 2.0]", "mean: [1.0, .nan]"));
  EXPECT_NE(error().find("preprocess.mean[1]: expected a finite number"), std::string::npos)
      << error();
  yaml(replaced("scale: 0.5", "scale: inf"));
  EXPECT_NE(error().find("preprocess.scale: expected a finite number"), std::string::npos)
      << error();
}

TEST_F(BadDataset, NameNotASafeIdentifier) {
  yaml(replaced("name: tiny", "name: ../etc"));
  EXPECT_NE(error().find("dataset.yaml:1: name: expected a name of letters"), std::string::npos)
      << error();
}

TEST_F(BadDataset, UnknownKey) {
  yaml(replaced("layout: NCHW", "layuot: NCHW"));
  EXPECT_NE(error().find("dataset.yaml:3: layuot: unknown key"), std::string::npos) << error();
}

TEST_F(BadDataset, DuplicateClass) {
  yaml(replaced("classes: [a, b, c]", "classes: [a, b, a]"));
  EXPECT_NE(error().find("class \"a\" is listed twice"), std::string::npos) << error();
}
