// Accuracy statistics (accuracy.hpp).
#include "workloads/accuracy.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace imcsim {

Interval wilson_interval(int64_t k, int64_t n, double z) {
  if (n <= 0) return {0.0, 1.0};
  if (k < 0 || k > n) throw std::invalid_argument("wilson_interval: k outside 0..n");
  const double nn = static_cast<double>(n);
  const double p = static_cast<double>(k) / nn;
  const double z2 = z * z;
  const double denom = 1.0 + z2 / nn;
  const double center = (p + z2 / (2.0 * nn)) / denom;
  const double half = z / denom * std::sqrt(p * (1.0 - p) / nn + z2 / (4.0 * nn * nn));
  // At k = 0 (k = n) the bound is 0 (1) exactly; rounding must not push it outside [0, 1].
  Interval out{std::max(0.0, center - half), std::min(1.0, center + half)};
  if (k == 0) out.low = 0.0;
  if (k == n) out.high = 1.0;
  return out;
}

int top1(const std::vector<double>& logits) {
  if (logits.empty()) return -1;
  size_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i)
    if (logits[i] > logits[best]) best = i;
  return static_cast<int>(best);
}

std::vector<ClassAccuracy> per_class_accuracy(const std::vector<int>& predicted,
                                              const std::vector<int>& labels,
                                              const std::vector<std::string>& classes) {
  if (predicted.size() != labels.size())
    throw std::invalid_argument("per_class_accuracy: one prediction per label expected");
  std::vector<ClassAccuracy> out(classes.size());
  for (size_t c = 0; c < classes.size(); ++c) out[c].name = classes[c];
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || static_cast<size_t>(labels[i]) >= classes.size())
      throw std::invalid_argument("per_class_accuracy: label outside the classes");
    ClassAccuracy& c = out[static_cast<size_t>(labels[i])];
    ++c.images;
    c.correct += predicted[i] == labels[i] ? 1 : 0;
  }
  for (auto& c : out)
    c.top1 = c.images > 0 ? static_cast<double>(c.correct) / static_cast<double>(c.images) : 0.0;
  return out;
}

int64_t count_correct(const std::vector<int>& predicted, const std::vector<int>& labels) {
  if (predicted.size() != labels.size())
    throw std::invalid_argument("count_correct: one prediction per label expected");
  int64_t k = 0;
  for (size_t i = 0; i < labels.size(); ++i) k += predicted[i] == labels[i] ? 1 : 0;
  return k;
}

double agreement(const std::vector<int>& a, const std::vector<int>& b) {
  if (a.size() != b.size())
    throw std::invalid_argument("agreement: prediction vectors differ in length");
  if (a.empty()) return 1.0;
  int64_t same = 0;
  for (size_t i = 0; i < a.size(); ++i) same += a[i] == b[i] ? 1 : 0;
  return static_cast<double>(same) / static_cast<double>(a.size());
}

double mean_abs_logit_difference(const std::vector<std::vector<double>>& a,
                                 const std::vector<std::vector<double>>& b) {
  if (a.size() != b.size())
    throw std::invalid_argument("mean_abs_logit_difference: image counts differ");
  double sum = 0.0;
  int64_t n = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].size() != b[i].size())
      throw std::invalid_argument("mean_abs_logit_difference: logit counts differ");
    for (size_t j = 0; j < a[i].size(); ++j) sum += std::fabs(a[i][j] - b[i][j]);
    n += static_cast<int64_t>(a[i].size());
  }
  return n > 0 ? sum / static_cast<double>(n) : 0.0;
}

}  // namespace imcsim
