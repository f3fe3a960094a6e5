// libFuzzer target: the data-set reader (dataset.yaml, then the images and labels .npy of
// every split it declares). The first input byte picks which of the three files the rest of
// the input replaces in a copy of tests/bad_inputs/data/dataset_ok; the other two stay valid,
// so the fuzzer reaches the checks that join them (counts, shapes, label range, dtypes).
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_util.hpp"
#include "workloads/dataset.hpp"

namespace fs = std::filesystem;

namespace {

const fs::path& work_dir() {
  static const imcsim::fuzz::Scratch scratch("dataset", "", true);
  return scratch.path();
}

void write(const fs::path& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

const char* const kFiles[] = {"dataset.yaml", "images.npy", "labels.npy"};

// The valid files, read once: each input writes them back from memory. (fs::copy_file per
// input failed once in 88,000 with EINTR from libFuzzer's timer signal, a harness crash
// that was no finding of the reader.)
const std::vector<std::string>& valid_files() {
  static const std::vector<std::string> bytes = [] {
    const fs::path src = fs::path(IMCSIM_SOURCE_DIR) / "tests/bad_inputs/data/dataset_ok";
    std::vector<std::string> b;
    for (const char* f : kFiles) {
      std::ifstream in(src / f, std::ios::binary);
      b.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      if (!in.good() && !in.eof()) throw std::runtime_error("cannot read " + (src / f).string());
    }
    return b;
  }();
  return bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const fs::path& dir = work_dir();
  const size_t which = data[0] % 3;
  for (size_t i = 0; i < 3; ++i)
    write(dir / kFiles[i],
          i == which ? imcsim::fuzz::as_text(data + 1, size - 1) : valid_files()[i]);
  imcsim::fuzz::expect_named_errors([&] {
    const imcsim::Dataset ds = imcsim::load_dataset(dir.string());
    for (const auto& name : ds.split_names()) {
      const imcsim::Split& s = ds.split(name);
      if (s.count > 0) (void)ds.image(s, 0);
    }
  });
  return 0;
}
