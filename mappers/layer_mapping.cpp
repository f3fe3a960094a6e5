#include "mappers/layer_mapping.hpp"

#include <fmt/format.h>

#include "workloads/error.hpp"

namespace imcsim {

const char* to_string(Convention c) {
  return c == Convention::VwSdk ? "vwsdk" : "framework";
}

ConvShape ConvShape::make(std::string name, int64_t in_h, int64_t in_w, int64_t k_h, int64_t k_w,
                          int64_t ic, int64_t oc, int64_t stride, int64_t pad, Convention conv) {
  ConvShape s;
  s.layer = std::move(name);
  s.in_h = in_h;
  s.in_w = in_w;
  s.k_h = k_h;
  s.k_w = k_w;
  s.ic = ic;
  s.oc = oc;
  if (conv == Convention::VwSdk) {
    s.ext_h = in_h;
    s.ext_w = in_w;
    s.s_h = s.s_w = 1;
  } else {
    s.ext_h = in_h + 2 * pad;
    s.ext_w = in_w + 2 * pad;
    s.pad_top = s.pad_left = pad;
    s.s_h = s.s_w = stride;
  }
  if (k_h > s.ext_h || k_w > s.ext_w) {
    throw MappingError("", 0, s.layer,
                       fmt::format("kernel {}x{} does not fit the {} input {}x{}", k_h, k_w,
                                   to_string(conv), s.ext_h, s.ext_w));
  }
  s.o_h = (s.ext_h - k_h) / s.s_h + 1;
  s.o_w = (s.ext_w - k_w) / s.s_w + 1;
  return s;
}

ConvShape conv_shape(const Layer& l, Convention convention) {
  if (l.type == LayerType::Fc) {
    ConvShape s = ConvShape::make(l.name, 1, 1, 1, 1, l.in_features(), l.out.c, 1, 0, convention);
    return s;
  }
  if (l.type != LayerType::Conv) {
    throw MappingError(
        "", l.source_line, l.name,
        fmt::format("a {} layer runs on digital units, not on arrays", to_string(l.type)));
  }
  ConvShape s;
  s.layer = l.name;
  s.in_h = l.in.h;
  s.in_w = l.in.w;
  s.k_h = l.k_h;
  s.k_w = l.k_w;
  s.groups = l.groups;
  s.ic = l.in.c / l.groups;
  s.oc = l.out.c / l.groups;
  if (convention == Convention::VwSdk) {
    s.ext_h = l.in.h;
    s.ext_w = l.in.w;
    if (l.k_h > s.ext_h || l.k_w > s.ext_w) {
      throw MappingError("", l.source_line, l.name,
                         fmt::format("kernel {}x{} does not fit the unpadded input {}x{} "
                                     "(vwsdk convention)",
                                     l.k_h, l.k_w, s.ext_h, s.ext_w));
    }
    s.o_h = s.ext_h - l.k_h + 1;
    s.o_w = s.ext_w - l.k_w + 1;
  } else {
    if (l.dilation_h != 1 || l.dilation_w != 1) {
      throw MappingError("", l.source_line, l.name,
                         fmt::format("dilation {}x{}: the mappers place undilated kernels only",
                                     l.dilation_h, l.dilation_w));
    }
    // Asymmetric padding (ONNX pads): the window may cover pad_top + in + pad_bottom.
    s.ext_h = l.in.h + l.pad_h + l.pad_bottom();
    s.ext_w = l.in.w + l.pad_w + l.pad_right();
    s.pad_top = l.pad_h;
    s.pad_left = l.pad_w;
    s.s_h = l.stride_h;
    s.s_w = l.stride_w;
    s.o_h = l.out.h;
    s.o_w = l.out.w;
  }
  return s;
}

ArrayGeometry ArrayGeometry::sliced(int64_t rows, int64_t cols, int64_t weight_bits,
                                    int64_t cell_bits, bool differential) {
  const int64_t slices = (weight_bits + cell_bits - 1) / cell_bits;
  return {rows, cols, slices * (differential ? 2 : 1)};
}

}  // namespace imcsim
