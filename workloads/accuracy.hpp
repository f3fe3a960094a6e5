// Accuracy statistics of a network on labelled images (REFERENCE §13): top-1 with its 95 %
// Wilson score interval, per class, and the paired comparisons of two runs on the same images
// (agreement of their top-1 predictions, mean absolute logit difference).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace imcsim {

// z of a two-sided 95 % normal interval.
inline constexpr double kZ95 = 1.959963984540054;

struct Interval {
  double low = 0.0, high = 1.0;
};

// Wilson score interval for k successes in n trials:
//   (p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n), p = k/n.
// Unlike the normal approximation it stays inside [0, 1] and is sensible at k = 0 or k = n,
// which matters for small per-class counts. n = 0 gives [0, 1].
Interval wilson_interval(int64_t k, int64_t n, double z = kZ95);

// Index of the largest logit, the first one on ties (as numpy.argmax); -1 for no logits.
int top1(const std::vector<double>& logits);

struct ClassAccuracy {
  std::string name;
  int64_t images = 0, correct = 0;
  double top1 = 0.0;  // correct / images (0 when the class has no images)
};
// Per class of `classes` (label = index): images with that label and how many of them were
// predicted correctly. `predicted` and `labels` have one entry per image.
std::vector<ClassAccuracy> per_class_accuracy(const std::vector<int>& predicted,
                                              const std::vector<int>& labels,
                                              const std::vector<std::string>& classes);

// Images predicted correctly.
int64_t count_correct(const std::vector<int>& predicted, const std::vector<int>& labels);
// Fraction of images on which two prediction vectors agree (1 for no images).
double agreement(const std::vector<int>& a, const std::vector<int>& b);
// Mean over all images and classes of |a - b| (0 for no values); shapes must match.
double mean_abs_logit_difference(const std::vector<std::vector<double>>& a,
                                 const std::vector<std::vector<double>>& b);

}  // namespace imcsim
