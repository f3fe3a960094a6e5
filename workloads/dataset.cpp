// Data set folders (dataset.hpp): dataset.yaml read strictly, .npy images and labels checked
// against it.
#include "workloads/dataset.hpp"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <set>

#include "workloads/error.hpp"
#include "workloads/input_file.hpp"
#include "workloads/npy.hpp"
#include "workloads/yaml_reader.hpp"

namespace fs = std::filesystem;

namespace imcsim {

bool is_safe_identifier(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  const auto alpha = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  };
  if (!alpha(s[0])) return false;
  for (char c : s)
    if (!alpha(c) && !(c >= '0' && c <= '9') && c != '-') return false;
  return true;
}

namespace {

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string out = "(";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + (shape.size() == 1 ? ",)" : ")");
}

// A finite number (NaN and Inf are no preprocessing constants).
double finite_number(const YamlNode& node) {
  try {
    return node.as_number(-1e300, 1e300);
  } catch (const Error&) {
    node.fail_expected("a finite number");
  }
}

std::vector<double> number_list(const YamlNode& node) {
  if (!node.is_seq()) node.fail_expected("a list of numbers");
  std::vector<double> out;
  for (const auto& item : node.items()) {
    out.push_back(finite_number(item));
  }
  return out;
}

}  // namespace

Dataset load_dataset(const std::string& dir) {
  Dataset d;
  d.dir = dir;
  d.file = (fs::path(dir) / "dataset.yaml").string();
  if (!fs::is_directory(dir))
    throw WorkloadError(dir, 0, "--dataset",
                        "not a folder (a data set is a folder holding dataset.yaml)");
  if (!path_exists(d.file))
    throw WorkloadError(d.file, 0, "",
                        "data set description not found (a data set folder holds dataset.yaml)");
  const YamlNode root = YamlNode::load_file(d.file, ErrorKind::Workload);
  root.expect_map();
  root.allow_only({"name", "classes", "layout", "splits", "preprocess", "description"});

  const YamlNode name = root.child("name");
  d.name = name.as_string();
  if (!is_safe_identifier(d.name))
    name.fail_expected("a name of letters, digits, '_' and '-' starting with a letter or '_'");

  const YamlNode classes = root.child("classes");
  if (!classes.is_seq() || classes.items().empty())
    classes.fail_expected("a non-empty list of class names");
  std::set<std::string> seen;
  for (const auto& c : classes.items()) {
    const std::string cls = c.as_string();
    if (cls.empty() || cls.find_first_of("\n\t\"\\") != std::string::npos)
      c.fail_expected("a class name (non-empty, no quotes, tabs or newlines)");
    if (!seen.insert(cls).second) c.fail("class \"" + cls + "\" is listed twice");
    d.classes.push_back(cls);
  }

  if (auto layout = root.find("layout")) d.layout = layout->as_choice({"NCHW"});

  const YamlNode splits = root.child("splits");
  splits.expect_map();
  if (splits.entries().empty())
    splits.fail_expected("at least one split (e.g. test: {images: ..., labels: ...})");
  for (const auto& [split_name, spec] : splits.entries()) {
    if (!is_safe_identifier(split_name))
      spec.fail("split name \"" + split_name +
                "\" is not a safe identifier (letters, digits, '_', '-')");
    spec.expect_map();
    spec.allow_only({"images", "labels"});
    Dataset::SplitSpec s;
    s.name = split_name;
    s.line = spec.line();
    for (const auto& [key, field, line] :
         {std::tuple<const char*, std::string*, int*>{"images", &s.images, &s.images_line},
          {"labels", &s.labels, &s.labels_line}}) {
      const YamlNode f = spec.child(key);
      *field = f.as_string();
      *line = f.line();
      const fs::path p = fs::path(dir) / *field;
      if (field->empty() || !regular_file_exists(p))
        f.fail(fmt::format("file not found: {}", p.string()));
    }
    d.specs.push_back(s);
  }

  if (auto pre = root.find("preprocess")) {
    pre->expect_map();
    pre->allow_only({"scale", "mean", "std"});
    if (auto scale = pre->find("scale")) {
      d.preprocess.scale = finite_number(*scale);
      if (!(d.preprocess.scale > 0)) scale->fail_expected("a positive number");
    }
    const auto mean = pre->find("mean");
    const auto std_dev = pre->find("std");
    if (mean.has_value() != std_dev.has_value())
      pre->fail("give both mean and std (one value per channel) or neither");
    if (mean) {
      d.preprocess.mean = number_list(*mean);
      d.preprocess.std = number_list(*std_dev);
      if (d.preprocess.mean.empty()) mean->fail_expected("one value per channel");
      if (d.preprocess.mean.size() != d.preprocess.std.size())
        std_dev->fail(fmt::format("has {} values but mean has {} (one per channel each)",
                                  d.preprocess.std.size(), d.preprocess.mean.size()));
      const auto items = std_dev->items();
      for (size_t c = 0; c < d.preprocess.std.size(); ++c)
        if (!(d.preprocess.std[c] > 0)) items[c].fail_expected("a positive standard deviation");
    }
  }
  return d;
}

std::vector<std::string> Dataset::split_names() const {
  std::vector<std::string> out;
  for (const auto& s : specs) out.push_back(s.name);
  return out;
}

bool Dataset::has_split(const std::string& split_name) const {
  for (const auto& s : specs)
    if (s.name == split_name) return true;
  return false;
}

const Split& Dataset::split(const std::string& split_name) const {
  const SplitSpec* spec = nullptr;
  for (const auto& s : specs)
    if (s.name == split_name) spec = &s;
  if (spec == nullptr) {
    std::string names;
    for (const auto& s : specs) names += (names.empty() ? "" : ", ") + s.name;
    throw WorkloadError(
        file, 0, "splits." + split_name,
        fmt::format("no split \"{}\" in data set {} (available: {})", split_name, name, names));
  }
  std::lock_guard<std::mutex> lock(cache_->mu);
  if (auto it = cache_->loaded.find(split_name); it != cache_->loaded.end()) return *it->second;

  auto s = std::make_unique<Split>();
  s->name = split_name;
  s->images_file = (fs::path(dir) / spec->images).string();
  s->labels_file = (fs::path(dir) / spec->labels).string();
  const std::string images_key = "splits." + split_name + ".images";
  const std::string labels_key = "splits." + split_name + ".labels";
  // A fault inside an .npy file is reported at the dataset.yaml entry that names it.
  const auto read = [&](const std::string& path, int line, const std::string& key) {
    try {
      return read_npy(path);
    } catch (const Error& e) {
      throw WorkloadError(file, line, key, e.what());
    }
  };

  {
    NpyArray img = read(s->images_file, spec->images_line, images_key);
    const auto bad = [&](const std::string& what) {
      throw WorkloadError(file, spec->images_line, images_key, s->images_file + ": " + what);
    };
    const char kind = img.dtype.size() >= 2 ? img.dtype[1] : '?';
    const std::string width = img.dtype.size() >= 2 ? img.dtype.substr(2) : "";
    if (kind == 'u' && width == "1")
      s->image_dtype = "uint8";
    else if (kind == 'f' && width == "4")
      s->image_dtype = "float32";
    else
      bad(fmt::format("expected uint8 or float32 images, got dtype {}", img.dtype));
    if (img.shape.size() != 4)
      bad(fmt::format("expected images of shape (N, C, H, W) (layout NCHW), got shape {}",
                      shape_str(img.shape)));
    s->count = img.shape[0];
    s->channels = img.shape[1];
    s->height = img.shape[2];
    s->width = img.shape[3];
    if (s->count <= 0 || s->height <= 0 || s->width <= 0 || s->channels <= 0)
      bad(fmt::format("expected at least one non-empty image, got shape {}", shape_str(img.shape)));
    if (!preprocess.mean.empty() && s->channels != static_cast<int64_t>(preprocess.mean.size()))
      bad(fmt::format("images have {} channels but preprocess.mean has {} values", s->channels,
                      preprocess.mean.size()));
    s->pixels.resize(img.values.size());
    for (size_t i = 0; i < img.values.size(); ++i) {
      if (!std::isfinite(img.values[i])) bad(fmt::format("value {} of the file is not finite", i));
      s->pixels[i] = static_cast<float>(img.values[i]);
    }
  }
  {
    const NpyArray lab = read(s->labels_file, spec->labels_line, labels_key);
    const auto bad = [&](const std::string& what) {
      throw WorkloadError(file, spec->labels_line, labels_key, s->labels_file + ": " + what);
    };
    const char kind = lab.dtype.size() >= 2 ? lab.dtype[1] : '?';
    if ((kind != 'u' && kind != 'i') || lab.shape.size() != 1)
      bad(fmt::format("expected labels as a vector of integers, got dtype {} shape {}", lab.dtype,
                      shape_str(lab.shape)));
    if (lab.shape[0] != s->count)
      bad(fmt::format("{} labels for {} images in {}", lab.shape[0], s->count, s->images_file));
    s->labels.resize(lab.values.size());
    for (size_t i = 0; i < lab.values.size(); ++i) {
      const double v = lab.values[i];
      if (v < 0 || v >= static_cast<double>(classes.size()))
        bad(fmt::format("label {} is {}, expected a class in 0..{}", i, v, classes.size() - 1));
      s->labels[i] = static_cast<int>(v);
    }
  }
  const Split& out = *s;
  cache_->loaded.emplace(split_name, std::move(s));
  return out;
}

ref::FloatTensor Dataset::image(const Split& s, int64_t i) const {
  ref::FloatTensor t(s.channels, s.height, s.width);
  const size_t plane = static_cast<size_t>(s.height * s.width);
  const float* px =
      s.pixels.data() + static_cast<size_t>(i) * plane * static_cast<size_t>(s.channels);
  for (int64_t c = 0; c < s.channels; ++c) {
    const double mean = preprocess.mean.empty() ? 0.0 : preprocess.mean[static_cast<size_t>(c)];
    const double sd = preprocess.std.empty() ? 1.0 : preprocess.std[static_cast<size_t>(c)];
    double* out = t.data.data() + static_cast<size_t>(c) * plane;
    const float* in = px + static_cast<size_t>(c) * plane;
    for (size_t k = 0; k < plane; ++k)
      out[k] = (static_cast<double>(in[k]) * preprocess.scale - mean) / sd;
  }
  return t;
}

}  // namespace imcsim
