#include "mappers/search.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "mappers/mapper_detail.hpp"
#include "workloads/error.hpp"

namespace imcsim {

const char* to_string(WindowSearch w) {
  switch (w) {
    case WindowSearch::Im2col: return "im2col";
    case WindowSearch::Sdk: return "sdk";
    case WindowSearch::Vwsdk: return "vwsdk";
    case WindowSearch::Auto: break;
  }
  return "auto";
}

WindowSearch window_search_from_string(const std::string& s) {
  for (WindowSearch w :
       {WindowSearch::Im2col, WindowSearch::Sdk, WindowSearch::Vwsdk, WindowSearch::Auto})
    if (s == to_string(w)) return w;
  throw MappingError("", 0, "search",
                     fmt::format("expected one of im2col, sdk, vwsdk or auto, got \"{}\"", s));
}

std::vector<LayerMapping> window_candidates(const ConvShape& s, const ArrayGeometry& a,
                                            WindowSearch w) {
  std::vector<LayerMapping> out;
  out.push_back(map_im2col(s, a));
  if (w == WindowSearch::Sdk || w == WindowSearch::Auto) {
    // The same rule as map_sdk: i grows from 2 and stops at the first infeasible window.
    for (int64_t i = 2; detail::sdk_fits(s, a, i); ++i) out.push_back(detail::sdk_window(s, a, i));
  }
  if (w == WindowSearch::Vwsdk || w == WindowSearch::Auto) {
    // The feasible set of map_vwsdk (both bounds grow with i and with j).
    for (int64_t i = 1; detail::vwsdk_fits(s, a, i, 1); ++i)
      for (int64_t j = 1; detail::vwsdk_fits(s, a, i, j); ++j)
        out.push_back(detail::vwsdk_window(s, a, i, j));
  }
  const std::string name = to_string(w);
  for (auto& m : out) m.mapper = name;
  return out;
}

const LayerMapping& cheapest(const std::vector<LayerMapping>& c) {
  size_t best = 0;
  for (size_t k = 1; k < c.size(); ++k)
    if (c[k].cycles < c[best].cycles ||
        (c[k].cycles == c[best].cycles && c[k].arrays() < c[best].arrays()))
      best = k;
  return c.at(best);
}

}  // namespace imcsim
