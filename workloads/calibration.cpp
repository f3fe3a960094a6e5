// Activation calibration (calibration.hpp).
#include "workloads/calibration.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <functional>
#include <queue>
#include <set>
#include <thread>

#include "workloads/error.hpp"
#include "workloads/input_file.hpp"
#include "workloads/yaml_reader.hpp"

namespace fs = std::filesystem;

namespace imcsim {

std::string CalibrationMethod::text() const {
  return percentile ? fmt::format("percentile:{}", p) : std::string("max");
}

std::optional<CalibrationMethod> parse_calibration_method(const std::string& text) {
  if (text == "max") return CalibrationMethod{};
  const std::string prefix = "percentile:";
  if (text.rfind(prefix, 0) != 0) return std::nullopt;
  const std::string num = text.substr(prefix.size());
  // strtod would skip leading spaces and accept a sign; a percentile is plain digits.
  if (num.empty() || !(std::isdigit(static_cast<unsigned char>(num[0])))) return std::nullopt;
  char* end = nullptr;
  const double p = std::strtod(num.c_str(), &end);
  if (num.empty() || end != num.c_str() + num.size() || !std::isfinite(p) || !(p > 50.0) ||
      p > 100.0)
    return std::nullopt;
  CalibrationMethod m;
  m.percentile = true;
  m.p = p;
  return m;
}

std::map<std::string, ref::ActQuant> Calibration::act_quant() const {
  std::map<std::string, ref::ActQuant> out;
  for (const auto& t : tensors) out[t.name] = t.quant;
  return out;
}

namespace {

// The k smallest and k largest values seen (k = 0: only min and max): exact order statistics
// at the tails without keeping every value.
class Tails {
 public:
  explicit Tails(int64_t keep) : keep_(static_cast<size_t>(std::max<int64_t>(keep, 1))) {}
  void add(double v) {
    if (low_.size() < keep_) {
      low_.push(v);
    } else if (v < low_.top()) {
      low_.pop();
      low_.push(v);
    }
    if (high_.size() < keep_) {
      high_.push(v);
    } else if (v > high_.top()) {
      high_.pop();
      high_.push(v);
    }
  }
  // The keep-th smallest and keep-th largest value.
  double lo() const { return low_.top(); }
  double hi() const { return high_.top(); }
  bool empty() const { return low_.empty(); }

 private:
  size_t keep_;
  std::priority_queue<double> low_;                                              // max-heap
  std::priority_queue<double, std::vector<double>, std::greater<double>> high_;  // min-heap
};

// k of the file comment for n values.
int64_t tail_index(const CalibrationMethod& m, int64_t n) {
  if (!m.percentile || n <= 1) return 0;
  return static_cast<int64_t>(std::floor((100.0 - m.p) / 100.0 * static_cast<double>(n - 1)));
}

// YAML scalar for a name: plain when it is made of safe characters, double-quoted otherwise.
std::string yaml_name(const std::string& s) {
  bool plain =
      !s.empty() &&
      s.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-/:") ==
          std::string::npos;
  // A ':' inside a plain scalar is text unless a space follows it ("percentile:99.99").
  plain = plain && s[0] != '-' && s[0] != '.' && s[0] != ':' && s.back() != ':';
  if (plain) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

// Where each tensor is in a float run: -1 = the network input, else the layer index; and
// its number of elements per image.
struct TensorSites {
  std::vector<int> where;
  std::vector<int64_t> elements;
};

TensorSites locate_tensors(const Network& net, const std::vector<std::string>& names) {
  std::vector<int> where;
  std::vector<int64_t> elements;
  for (const auto& name : names) {
    if (name == "input") {
      where.push_back(-1);
      elements.push_back(net.input.elements());
      continue;
    }
    int idx = -1;
    for (size_t l = 0; l < net.layers.size(); ++l)
      if (net.layers[l].name == name) idx = static_cast<int>(l);
    if (idx < 0) throw std::logic_error("quantized tensor " + name + " is not a layer");
    where.push_back(idx);
    elements.push_back(net.layers[static_cast<size_t>(idx)].out.elements());
  }
  return {std::move(where), std::move(elements)};
}

// The image stride and the tail size kept per tensor.
struct Sampling {
  int64_t stride = 1;
  std::vector<int64_t> keep;
};

// The smallest image stride whose tails fit the bound.
Sampling choose_sampling(int64_t first, const std::vector<int64_t>& elements,
                         const CalibrationOptions& options) {
  int64_t stride = 1, used = first;
  std::vector<int64_t> keep(elements.size());
  for (;; ++stride) {
    used = (first + stride - 1) / stride;
    int64_t total = 0;
    for (size_t t = 0; t < elements.size(); ++t) {
      keep[t] = tail_index(options.method, used * elements[t]) + 1;
      total += 2 * keep[t];
    }
    if (total <= options.max_collected || used <= 1) break;
  }
  return {stride, std::move(keep)};
}

// Float runs of images indices[start, end) on `threads` threads (image j on thread
// (j - start) % threads); rethrows the first error.
void run_batch(const Network& net, const WeightSet& weights, const Dataset& dataset,
               const Split& split, const std::vector<int64_t>& indices, size_t start, size_t end,
               size_t threads, std::vector<ref::FloatTensor>& inputs,
               std::vector<ref::FloatRun>& runs) {
  const auto work = [&](size_t w) {
    for (size_t j = start + w; j < end; j += threads) {
      inputs[j - start] = dataset.image(split, indices[j]);
      runs[j - start] = ref::run_float(net, weights, inputs[j - start]);
    }
  };
  if (threads == 1) {
    work(0);
  } else {
    std::vector<std::thread> pool;
    std::exception_ptr failure;
    std::mutex mu;
    for (size_t w = 0; w < threads; ++w)
      pool.emplace_back([&, w] {
        try {
          work(w);
        } catch (...) {
          std::lock_guard<std::mutex> lock(mu);
          if (!failure) failure = std::current_exception();
        }
      });
    for (auto& th : pool) th.join();
    if (failure) std::rethrow_exception(failure);
  }
}

}  // namespace

Calibration calibrate(const Network& net, const WeightSet& weights, const Dataset& dataset,
                      const Split& split, const CalibrationOptions& options) {
  if (split.channels != net.input.c || split.height != net.input.h || split.width != net.input.w)
    throw WorkloadError(
        dataset.file, 0, "splits." + split.name + ".images",
        fmt::format("images are {}x{}x{} (CxHxW) but network {} takes {}x{}x{}", split.channels,
                    split.height, split.width, net.name, net.input.c, net.input.h, net.input.w));
  const std::vector<std::string> names = ref::quantized_tensors(net);
  const TensorSites sites = locate_tensors(net, names);
  const std::vector<int>& where = sites.where;

  const int64_t first = std::min<int64_t>(options.images, split.count);
  const Sampling sampling = choose_sampling(first, sites.elements, options);
  const int64_t stride = sampling.stride;

  std::vector<Tails> tails;
  for (size_t t = 0; t < names.size(); ++t) tails.emplace_back(sampling.keep[t]);
  std::vector<int64_t> indices;
  for (int64_t i = 0; i < first; i += stride) indices.push_back(i);

  // Float runs in batches on `threads` threads; the tails are fed in image order on this
  // thread (the result is exact whatever the order, the order only keeps it simple).
  const size_t threads = static_cast<size_t>(std::max(1, options.threads));
  const size_t batch = threads * 2;
  for (size_t start = 0; start < indices.size(); start += batch) {
    const size_t end = std::min(indices.size(), start + batch);
    std::vector<ref::FloatTensor> inputs(end - start);
    std::vector<ref::FloatRun> runs(end - start);
    run_batch(net, weights, dataset, split, indices, start, end, threads, inputs, runs);
    for (size_t j = start; j < end; ++j) {
      for (size_t t = 0; t < names.size(); ++t) {
        const ref::FloatTensor& x = where[t] < 0
                                        ? inputs[j - start]
                                        : runs[j - start].outputs[static_cast<size_t>(where[t])];
        for (double v : x.data) {
          if (!std::isfinite(v))
            throw WorkloadError(
                split.images_file, 0, names[t],
                fmt::format("image {}: a value of tensor {} is not finite", indices[j], names[t]));
          tails[t].add(v);
        }
      }
      if (options.progress)
        options.progress(static_cast<int64_t>(j + 1), static_cast<int64_t>(indices.size()));
    }
  }

  Calibration c;
  c.network = net.name;
  c.dataset = dataset.name;
  c.split = split.name;
  c.method = options.method.text();
  c.images = first;
  c.image_stride = stride;
  c.bits = options.bits;
  for (size_t t = 0; t < names.size(); ++t) {
    CalibratedTensor ct;
    ct.name = names[t];
    if (!tails[t].empty()) {
      ct.lo = tails[t].lo();
      ct.hi = tails[t].hi();
    }
    ct.quant = ref::act_quant_for_range(ct.lo, ct.hi, options.bits);
    c.tensors.push_back(ct);
  }
  return c;
}

std::string calibration_yaml(const Calibration& c) {
  std::string out =
      "# imcsim calibration: per-tensor activation quantization x ~= scale * (code - zero_point)\n";
  out += fmt::format("network: {}\n", yaml_name(c.network));
  if (!c.dataset.empty()) out += fmt::format("dataset: {}\n", yaml_name(c.dataset));
  if (!c.split.empty()) out += fmt::format("split: {}\n", yaml_name(c.split));
  out += fmt::format("images: {}\n", c.images);
  out += fmt::format("image_stride: {}\n", c.image_stride);
  if (!c.method.empty()) out += fmt::format("method: {}\n", yaml_name(c.method));
  out += fmt::format("bits: {}\n", c.bits);
  out += "tensors:\n";
  // "{}" is fmt's shortest representation that reads back as the same double.
  for (const auto& t : c.tensors)
    out += fmt::format("  {}: {{lo: {}, hi: {}, scale: {}, zero_point: {}}}\n", yaml_name(t.name),
                       t.lo, t.hi, t.quant.scale, t.quant.zero_point);
  return out;
}

Calibration load_calibration(const std::string& path, const Network& net, int expected_bits) {
  if (!regular_file_exists(path)) throw WorkloadError(path, 0, "", "calibration file not found");
  const YamlNode root = YamlNode::load_file(path, ErrorKind::Workload);
  root.expect_map();
  root.allow_only(
      {"network", "dataset", "split", "images", "image_stride", "method", "bits", "tensors"});
  Calibration c;
  c.file = path;
  c.network = root.child("network").as_string();
  c.dataset = root.get_string("dataset", "");
  c.split = root.get_string("split", "");
  c.method = root.get_string("method", "");
  if (auto m = root.find("method"); m && !parse_calibration_method(c.method))
    m->fail_expected("max or percentile:P (P in (50, 100])");
  c.images = root.get_int("images", 0, int64_t{1} << 40, 0);
  c.image_stride = root.get_int("image_stride", 1, int64_t{1} << 40, 1);
  const YamlNode bits = root.child("bits");
  c.bits = static_cast<int>(bits.as_int(1, 16));
  if (expected_bits > 0 && c.bits != expected_bits)
    bits.fail(
        fmt::format("calibrated for {}-bit activation codes but the architecture has input_bits {}",
                    c.bits, expected_bits));
  const int64_t max_code = (int64_t{1} << c.bits) - 1;

  const std::vector<std::string> needed = ref::quantized_tensors(net);
  const std::set<std::string> needed_set(needed.begin(), needed.end());
  const YamlNode tensors = root.child("tensors");
  tensors.expect_map();
  std::map<std::string, CalibratedTensor> given;
  const auto finite = [](const YamlNode& n) {
    try {
      return n.as_number(-1e300, 1e300);
    } catch (const Error&) {
      n.fail_expected("a finite number");
    }
  };
  for (const auto& [name, entry] : tensors.entries()) {
    if (!needed_set.count(name)) {
      std::string list;
      for (const auto& n : needed) list += (list.empty() ? "" : ", ") + n;
      entry.fail(
          fmt::format("network {} has no quantized tensor \"{}\" (its quantized tensors: {})",
                      net.name, name, list));
    }
    entry.expect_map();
    entry.allow_only({"lo", "hi", "scale", "zero_point"});
    CalibratedTensor t;
    t.name = name;
    const auto lo = entry.find("lo");
    const auto hi = entry.find("hi");
    if (lo) t.lo = finite(*lo);
    if (hi) t.hi = finite(*hi);
    if (lo && hi && t.lo > t.hi) entry.fail(fmt::format("lo {} is above hi {}", t.lo, t.hi));
    const YamlNode scale = entry.child("scale");
    t.quant.scale = finite(scale);
    if (!(t.quant.scale > 0)) scale.fail_expected("a positive finite scale");
    const YamlNode zp = entry.child("zero_point");
    t.quant.zero_point = zp.as_int(0, max_code);
    given[name] = t;
  }
  std::string missing;
  for (const auto& n : needed) {
    if (given.count(n)) {
      c.tensors.push_back(given[n]);
    } else {
      missing += (missing.empty() ? "" : ", ") + n;
    }
  }
  if (!missing.empty())
    tensors.fail(fmt::format("missing tensors network {} quantizes: {}", net.name, missing));
  return c;
}

}  // namespace imcsim
