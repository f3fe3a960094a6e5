#include "workloads/npy.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "workloads/error.hpp"
#include "workloads/finite.hpp"
#include "workloads/input_file.hpp"

namespace imcsim {

namespace {

[[noreturn]] void bad(const std::string& file, const std::string& what) {
  throw WorkloadError(file, 0, "", "not a readable .npy file: " + what);
}

// Value of `'key': ...` in the header dict, up to the next top-level ',' or '}'.
std::string header_value(const std::string& header, const std::string& key,
                         const std::string& file) {
  const std::string quoted[] = {"'" + key + "'", "\"" + key + "\""};
  size_t at = std::string::npos;
  for (const auto& q : quoted) {
    at = header.find(q);
    if (at != std::string::npos) {
      at += q.size();
      break;
    }
  }
  if (at == std::string::npos) bad(file, fmt::format("header has no '{}' entry", key));
  at = header.find(':', at);
  if (at == std::string::npos) bad(file, fmt::format("header entry '{}' has no value", key));
  ++at;
  int depth = 0;
  size_t end = at;
  for (; end < header.size(); ++end) {
    const char c = header[end];
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (depth == 0 && (c == ',' || c == '}')) break;
  }
  if (depth != 0 || end >= header.size())
    bad(file, fmt::format("header entry '{}' is not terminated", key));
  std::string v = header.substr(at, end - at + (header[end] == ')' ? 1 : 0));
  const auto first = v.find_first_not_of(" \t");
  const auto last = v.find_last_not_of(" \t");
  return first == std::string::npos ? "" : v.substr(first, last - first + 1);
}

std::vector<int64_t> parse_shape(const std::string& text, const std::string& file) {
  if (text.size() < 2 || text.front() != '(' || text.back() != ')')
    bad(file, fmt::format("expected a shape tuple like (16, 3), got {}", text));
  std::vector<int64_t> shape;
  std::stringstream in(text.substr(1, text.size() - 2));
  for (std::string item; std::getline(in, item, ',');) {
    const auto first = item.find_first_not_of(" \t");
    if (first == std::string::npos) continue;  // "(16,)" trailing comma
    const auto last = item.find_last_not_of(" \tL");
    const std::string digits = item.substr(first, last - first + 1);
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos ||
        digits.size() > 15)
      bad(file, fmt::format("shape entry \"{}\" is not a non-negative integer", item));
    shape.push_back(std::stoll(digits));
  }
  // The element count must fit comfortably in int64 (the data-length check multiplies it by
  // the element width): at most 2^40 elements, checked before each multiplication.
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d != 0 && n > (int64_t{1} << 40) / d)
      bad(file, fmt::format("shape {} has more than 2^40 elements", text));
    n *= d;
  }
  return shape;
}

template <typename T>
void convert(const char* src, int64_t n, std::vector<double>& out) {
  out.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, src + i * static_cast<int64_t>(sizeof(T)), sizeof(T));
    out[static_cast<size_t>(i)] = static_cast<double>(v);
  }
}

}  // namespace

int64_t NpyArray::size() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// The n little-endian values at src of dtype kind/width (checked by the caller), as doubles.
static void convert_values(char kind, int width, const char* src, int64_t n,
                           std::vector<double>& out) {
  switch (kind) {
    case 'f':
      if (width == 4)
        convert<float>(src, n, out);
      else
        convert<double>(src, n, out);
      break;
    case 'b':
    case 'u':
      if (width == 1)
        convert<uint8_t>(src, n, out);
      else if (width == 2)
        convert<uint16_t>(src, n, out);
      else if (width == 4)
        convert<uint32_t>(src, n, out);
      else
        convert<uint64_t>(src, n, out);
      break;
    default:
      if (width == 1)
        convert<int8_t>(src, n, out);
      else if (width == 2)
        convert<int16_t>(src, n, out);
      else if (width == 4)
        convert<int32_t>(src, n, out);
      else
        convert<int64_t>(src, n, out);
  }
}

NpyArray parse_npy(const std::string& bytes, const std::string& file) {
  static const char kMagic[] = "\x93NUMPY";
  if (bytes.size() < 10 || bytes.compare(0, 6, kMagic, 6) != 0)
    bad(file, "missing the \\x93NUMPY magic (file truncated or not .npy)");
  const int major = static_cast<unsigned char>(bytes[6]);
  size_t header_len = 0, header_start = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) |
                 (static_cast<size_t>(static_cast<unsigned char>(bytes[9])) << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) bad(file, "truncated header");
    for (int i = 3; i >= 0; --i)
      header_len =
          (header_len << 8) | static_cast<unsigned char>(bytes[8 + static_cast<size_t>(i)]);
    header_start = 12;
  } else {
    bad(file, fmt::format("format version {} (expected 1, 2 or 3)", major));
  }
  if (bytes.size() < header_start + header_len)
    bad(file, fmt::format("header of {} bytes is truncated ({} bytes in the file)", header_len,
                          bytes.size()));
  const std::string header = bytes.substr(header_start, header_len);
  if (header.find('{') == std::string::npos) bad(file, "header is not a dict");

  NpyArray a;
  std::string descr = header_value(header, "descr", file);
  if (descr.size() < 2 || (descr.front() != '\'' && descr.front() != '"'))
    bad(file, fmt::format("descr {} is not a simple dtype string", descr));
  a.dtype = descr.substr(1, descr.size() - 2);
  const std::string fortran = header_value(header, "fortran_order", file);
  if (fortran == "True") bad(file, "array is in Fortran order (expected C order)");
  if (fortran != "False") bad(file, fmt::format("fortran_order {} (expected False)", fortran));
  a.shape = parse_shape(header_value(header, "shape", file), file);

  const std::string& t = a.dtype;
  if (t.size() < 3 || (t[0] != '<' && t[0] != '|' && t[0] != '='))
    bad(file, fmt::format("dtype '{}' (expected a little-endian numeric dtype such as '<f4')", t));
  const char kind = t[1];
  const std::string width_text = t.substr(2);
  if (width_text.find_first_not_of("0123456789") != std::string::npos)
    bad(file, fmt::format("dtype '{}' is not a plain numeric dtype", t));
  // At most 3 digits: std::stoi would throw std::out_of_range on a 20-digit width (fuzzing).
  const int width = width_text.size() <= 3 ? std::stoi(width_text) : 0;
  const bool ok =
      (kind == 'f' && (width == 4 || width == 8)) ||
      ((kind == 'i' || kind == 'u') && (width == 1 || width == 2 || width == 4 || width == 8)) ||
      (kind == 'b' && width == 1);
  if (!ok)
    bad(file, fmt::format("dtype '{}' (expected float32/64, int8..64, uint8..64 or bool)", t));

  const int64_t n = a.size();
  const size_t data_start = header_start + header_len;
  const size_t want = static_cast<size_t>(n) * static_cast<size_t>(width);
  const size_t have = bytes.size() - data_start;
  if (have < want)
    bad(file, fmt::format("data truncated: shape needs {} bytes of '{}', the file holds {}", want,
                          t, have));
  if (have > want)
    bad(file,
        fmt::format("{} trailing bytes after the {} bytes the shape needs", have - want, want));
  convert_values(kind, width, bytes.data() + data_start, n, a.values);
  if (kind == 'f') {
    if (const int64_t i = first_non_finite(a.values); i >= 0)
      bad(file, fmt::format("element {} is {}: expected finite values", index_str(a.shape, i),
                            non_finite_str(a.values[static_cast<size_t>(i)])));
  }
  if (width == 8 && kind != 'f') {
    for (double v : a.values)
      if (std::fabs(v) > 9007199254740992.0)
        bad(file, "64-bit integer value beyond 2^53 cannot be held exactly");
  }
  return a;
}

NpyArray read_npy(const std::string& path) {
  return parse_npy(read_input_file(path, InputKind::Npy, ErrorKind::Workload), path);
}

Tensor read_npy_tensor(const std::string& path) {
  const NpyArray a = read_npy(path);
  Tensor t;
  t.shape = a.shape;
  t.data.resize(a.values.size());
  for (size_t i = 0; i < a.values.size(); ++i) t.data[i] = static_cast<float>(a.values[i]);
  if (const int64_t i = first_non_finite(t.data); i >= 0)
    throw WorkloadError(path, 0, "",
                        fmt::format("element {} ({}) is beyond the float32 range: expected "
                                    "finite float32 values",
                                    index_str(t.shape, i), a.values[static_cast<size_t>(i)]));
  return t;
}

std::string npy_bytes(const Tensor& t) {
  std::string shape = "(";
  for (size_t i = 0; i < t.shape.size(); ++i)
    shape += std::to_string(t.shape[i]) +
             (t.shape.size() == 1 ? "," : (i + 1 < t.shape.size() ? ", " : ""));
  shape += ")";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  // Pad with spaces so the data starts at a multiple of 64 bytes, ending in '\n' (NEP 1).
  const size_t unpadded = 10 + header.size() + 1;
  header += std::string((64 - unpadded % 64) % 64, ' ') + "\n";
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>((header.size() >> 8) & 0xff);
  out += header;
  const size_t at = out.size();
  out.resize(at + t.data.size() * sizeof(float));
  if (!t.data.empty()) std::memcpy(&out[at], t.data.data(), t.data.size() * sizeof(float));
  return out;
}

void write_npy(const std::string& path, const Tensor& t) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  const std::string bytes = npy_bytes(t);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) throw WorkloadError(path, 0, "", "cannot write .npy file");
}

}  // namespace imcsim
