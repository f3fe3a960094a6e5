// Image data sets for measuring and calibrating networks (REFERENCE §13: top-1 accuracy on
// real images, activation scales calibrated on training images only). A data set is a folder
// holding `dataset.yaml` and one pair of .npy files per split:
//
//   name: cifar10
//   classes: [airplane, automobile, ...]
//   layout: NCHW                 # the only layout: N x channel x row x column
//   splits:
//     test:  {images: test_images.npy,  labels: test_labels.npy}
//     train: {images: train_images.npy, labels: train_labels.npy}
//   preprocess:                  # optional; x = (pixel * scale - mean[c]) / std[c]
//     scale: 0.00392156862745098
//     mean: [0.4914, 0.4822, 0.4465]
//     std: [0.2023, 0.1994, 0.2010]
//
// Images are uint8 or float32 (N, C, H, W) with C = len(mean); labels an integer vector of N
// values in 0 .. len(classes) - 1. Every problem is a WorkloadError naming dataset.yaml, the
// line and the key (splits.test.images, preprocess.std[1], ...), so a user knows which entry
// to fix even when the fault is inside an .npy file.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "workloads/reference.hpp"

namespace imcsim {

struct Split {
  std::string name;
  std::string images_file, labels_file;  // resolved paths
  int64_t count = 0;                     // images
  int64_t channels = 0, height = 0, width = 0;
  std::string image_dtype;    // "uint8" or "float32"
  std::vector<float> pixels;  // count x channels x height x width, C order (exact for both dtypes)
  std::vector<int> labels;
};

struct Preprocess {
  double scale = 1.0;
  std::vector<double> mean, std;  // one per channel (empty = no normalization)
};

class Dataset {
 public:
  std::string dir;   // the folder
  std::string file;  // its dataset.yaml
  std::string name;
  std::vector<std::string> classes;
  std::string layout = "NCHW";
  Preprocess preprocess;

  // Split names in file order.
  std::vector<std::string> split_names() const;
  bool has_split(const std::string& split) const;
  // The split's images and labels, read and checked on first use (a split is loaded as a
  // whole: the shared CIFAR-10 training split is 15 MB of pixels). WorkloadError listing the
  // available splits when there is none of that name. Thread-safe.
  const Split& split(const std::string& split) const;

  // Image `i` of `s` preprocessed: a CHW double tensor, x = (pixel * scale - mean[c]) / std[c].
  ref::FloatTensor image(const Split& s, int64_t i) const;
  int label(const Split& s, int64_t i) const { return s.labels[static_cast<size_t>(i)]; }

  // Where a split is declared (for errors about it).
  struct SplitSpec {
    std::string name, images, labels;  // paths as written
    int line = 0, images_line = 0, labels_line = 0;
  };
  std::vector<SplitSpec> specs;

 private:
  struct Cache {
    std::mutex mu;
    std::map<std::string, std::unique_ptr<Split>> loaded;
  };
  std::shared_ptr<Cache> cache_ = std::make_shared<Cache>();
};

// Reads and checks `dir`/dataset.yaml (the .npy files must exist; their contents are read by
// Dataset::split). WorkloadError on any problem.
Dataset load_dataset(const std::string& dir);

// A name usable in file names and reports: [A-Za-z_][A-Za-z0-9_-]* (at most 64 characters).
bool is_safe_identifier(const std::string& s);

}  // namespace imcsim
