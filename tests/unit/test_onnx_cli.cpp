// `imcsim import` and `imcsim infer` end to end: outputs, determinism, and bad inputs that
// must exit 1 with a named error and leave no output file.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "../cli/cli_test_util.hpp"
#include "workloads/onnx/tensor_proto.hpp"

namespace fs = std::filesystem;
using namespace imcsim::onnx_io;

namespace {

const fs::path kResNet =
    fs::path(IMCSIM_SOURCE_DIR) / ".." / "shared" / "data" / "resnet20-cifar10";
const fs::path kConv = "/usr/share/libonnx-testdata/data/pytorch-converted/test_Conv2d";

using imcsim::test::slurp;
using Result = imcsim::test::CliResult;

class OnnxCli : public imcsim::test::CliTest {
 protected:
  std::string p(const std::string& name) const { return path(name); }
};

#define REQUIRE_RESNET()                            \
  if (!fs::exists(kResNet / "onnx" / "model.onnx")) \
  GTEST_SKIP() << "trained ResNet-20 data not found at " << kResNet.string() << "; skipping"

}  // namespace

TEST_F(OnnxCli, InferIsDeterministicAndMatchesTheReference) {
  REQUIRE_RESNET();
  const fs::path d = kResNet / "onnx";
  const std::string base = "infer --model " + (d / "model.onnx").string() + " --input " +
                           (d / "test_data_set_0" / "input_0.pb").string();
  for (const char* mode : {"float", "int"}) {
    ASSERT_EQ(run(base + " --output " + p("a.pb") + " --mode " + mode).code, 0);
    ASSERT_EQ(run(base + " --output " + p("b.pb") + " --mode " + mode).code, 0);
    EXPECT_EQ(slurp(p("a.pb")), slurp(p("b.pb"))) << mode;  // byte-identical
  }
  ASSERT_EQ(run(base + " --output " + p("f.pb")).code, 0);
  const ProtoTensor got = read_tensor_proto(p("f.pb"));
  const ProtoTensor want = read_tensor_proto((d / "test_data_set_0" / "output_0.pb").string());
  ASSERT_EQ(got.dims, want.dims);
  for (size_t i = 0; i < want.values.size(); ++i) EXPECT_NEAR(got.values[i], want.values[i], 1e-4);
  // --arch supplies the bits: 4-bit weights change the integer result.
  ASSERT_EQ(
      run(base + " --output " + p("i8.pb") + " --mode int --arch configs/arch/isaac-rram-128.yaml")
          .code,
      0);
  EXPECT_EQ(slurp(p("i8.pb")), slurp(p("a.pb")));  // isaac-rram-128 states 8/8 bits, the default
  ASSERT_EQ(run(base + " --output " + p("i4.pb") + " --mode int --weight-bits 4").code, 0);
  EXPECT_NE(slurp(p("i4.pb")), slurp(p("a.pb")));
}

TEST_F(OnnxCli, WorkloadWithNpyWeightsAndImportRoundTrip) {
  REQUIRE_RESNET();
  const fs::path d = kResNet / "onnx";
  const std::string in = (d / "test_data_set_0" / "input_0.pb").string();
  ASSERT_EQ(run("infer --workload resnet20 --weights " + kResNet.string() + " --input " + in +
                " --output " + p("w.pb"))
                .code,
            0);
  ASSERT_EQ(run("infer --model " + (d / "model.onnx").string() + " --input " + in + " --output " +
                p("m.pb"))
                .code,
            0);
  EXPECT_EQ(slurp(p("w.pb")).size(), slurp(p("m.pb")).size());
  const ProtoTensor a = read_tensor_proto(p("w.pb")), b = read_tensor_proto(p("m.pb"));
  for (size_t i = 0; i < a.values.size(); ++i) EXPECT_NEAR(a.values[i], b.values[i], 1e-5);
  // import -> YAML + .npy folder -> infer through the workload path.
  const Result r = run("import " + (d / "model.onnx").string() + " -o " + p("net.yaml") +
                       " --weights-dir " + p("w"));
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(run("infer --workload " + p("net.yaml") + " --weights " + p("w") + " --input " + in +
                " --output " + p("r.pb"))
                .code,
            0);
  // import -> YAML + .npy: the same numbers as the model itself (only the tensor name differs).
  const ProtoTensor r_out = read_tensor_proto(p("r.pb"));
  EXPECT_EQ(r_out.dims, b.dims);
  EXPECT_EQ(r_out.values, b.values);
  // The imported workload maps like any other.
  EXPECT_EQ(run("map --workload " + p("net.yaml") + " --array 128x128 --mapper vwsdk").code, 0);
}

TEST_F(OnnxCli, BadInputsExitOneWithoutOutput) {
  if (!fs::exists(kConv / "model.onnx")) GTEST_SKIP() << "libonnx-testdata not installed";
  const std::string model = (kConv / "model.onnx").string();
  const std::string input = (kConv / "test_data_set_0" / "input_0.pb").string();
  // Truncated model, truncated input, a .npy-less weights folder, an input of the wrong shape.
  const std::string bytes = slurp(model);
  std::ofstream(p("cut.onnx"), std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  const std::string in_bytes = slurp(input);
  std::ofstream(p("cut.pb"), std::ios::binary) << in_bytes.substr(0, in_bytes.size() - 5);
  ProtoTensor wrong = read_tensor_proto(input);
  wrong.dims[1] += 1;
  wrong.values.resize(static_cast<size_t>(wrong.size()));
  write_tensor_proto(p("wrong.pb"), wrong);
  fs::create_directories(tmp_ / "empty");
  const std::pair<std::string, std::string> cases[] = {
      {"infer --model " + p("cut.onnx") + " --input " + input, "cut.onnx: "},
      {"infer --model " + model + " --input " + p("cut.pb"), "cut.pb: "},
      {"infer --model " + model + " --input " + p("wrong.pb"), "the network expects"},
      {"infer --workload resnet20 --weights " + p("empty") + " --input " + input, "not found"},
      {"import " + p("cut.onnx") + " -o " + p("out.pb"), "cut.onnx: "},
  };
  for (const auto& [args, expect] : cases) {
    const Result r = run(args + (args.rfind("infer", 0) == 0 ? " --output " + p("out.pb") : ""));
    EXPECT_EQ(r.code, 1) << args << "\n" << r.err;
    EXPECT_NE(r.err.find(expect), std::string::npos) << args << "\n" << r.err;
    EXPECT_FALSE(fs::exists(p("out.pb"))) << args;
  }
  // Command-line misuse is exit 2.
  EXPECT_EQ(run("infer --input " + input + " --output " + p("out.pb")).code, 2);
  EXPECT_EQ(run("infer --model " + model + " --input " + input + " --output " + p("out.pb") +
                " --mode fp16")
                .code,
            2);
}
