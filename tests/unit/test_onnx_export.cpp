// ONNX export (workloads/onnx/onnx_export.hpp): a network written out and read back by the
// importer computes the same outputs, for the dense ResNet-20 and for its low-rank and
// group low-rank forms (R and L as two Conv nodes, grouped where the groups allow).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "mappers/compress/expand.hpp"
#include "workloads/loader.hpp"
#include "workloads/onnx/onnx_export.hpp"
#include "workloads/onnx/onnx_import.hpp"
#include "workloads/reference.hpp"

using namespace imcsim;
namespace fs = std::filesystem;

namespace {

double round_trip_diff(const Network& net, const WeightSet& w, const std::string& file) {
  onnx_io::write_onnx(file, net, w);
  const onnx_io::OnnxModel back = onnx_io::import_onnx(file);
  ref::FloatTensor x(net.input.c, net.input.h, net.input.w);
  SeededStream rng(9);
  for (auto& v : x.data) v = rng.uniform();
  const auto a = ref::run_float(net, w, x).output();
  const auto b = ref::run_float(back.net, back.weights, x).output();
  EXPECT_EQ(a.data.size(), b.data.size());
  double m = 0;
  for (size_t i = 0; i < a.data.size() && i < b.data.size(); ++i)
    m = std::max(m, std::abs(a.data[i] - b.data[i]));
  return m;
}

}  // namespace

TEST(OnnxExport, DenseAndCompressedResNet20RoundTrip) {
  const std::string file =
      (fs::temp_directory_path() / ("imcsim-export-" + std::to_string(::getpid()) + ".onnx"))
          .string();
  const Network net = load_workload("resnet20");
  const WeightSet w = synthetic_weights(net, 2);
  EXPECT_LT(round_trip_diff(net, w, file), 1e-9);

  for (int64_t groups : {1, 2}) {
    compress::CompressionSpec spec;
    spec.method = groups > 1 ? compress::Method::GroupLowRank : compress::Method::LowRank;
    spec.groups = groups;
    spec.rank.rule = compress::RankRule::Fixed;
    spec.rank.rank = 4;
    const auto plan = compress::compress_network(net, w, spec, ArrayGeometry::ideal(128, 128),
                                                 Convention::Framework);
    const auto ex = compress::expand_lowrank(net, w, plan);
    EXPECT_LT(round_trip_diff(ex.net, ex.weights, file), 1e-9) << "groups " << groups;
    const onnx_io::OnnxModel back = onnx_io::import_onnx(file);
    const Layer* r = back.net.find("layers.4.conv1.R");
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->groups, groups);
  }
  fs::remove(file);
}
