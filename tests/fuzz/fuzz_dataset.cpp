// libFuzzer target: the data-set reader (dataset.yaml, then the images and labels .npy of
// every split it declares). The first input byte picks which of the three files the rest of
// the input replaces in a copy of tests/bad_inputs/data/dataset_ok; the other two stay valid,
// so the fuzzer reaches the checks that join them (counts, shapes, label range, dtypes).
#include <filesystem>
#include <fstream>

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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const fs::path src = fs::path(IMCSIM_SOURCE_DIR) / "tests/bad_inputs/data/dataset_ok";
  const fs::path& dir = work_dir();
  const char* files[] = {"dataset.yaml", "images.npy", "labels.npy"};
  for (const char* f : files) fs::copy_file(src / f, dir / f, fs::copy_options::overwrite_existing);
  write(dir / files[data[0] % 3], imcsim::fuzz::as_text(data + 1, size - 1));
  imcsim::fuzz::expect_named_errors([&] {
    const imcsim::Dataset ds = imcsim::load_dataset(dir.string());
    for (const auto& name : ds.split_names()) {
      const imcsim::Split& s = ds.split(name);
      if (s.count > 0) (void)ds.image(s, 0);
    }
  });
  return 0;
}
