#include "workloads/input_file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace imcsim {

namespace {

// Closes the descriptor on every path out of a reader.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string size_str(uint64_t bytes) {
  if (bytes >= (uint64_t{1} << 30) && bytes % (uint64_t{1} << 30) == 0)
    return fmt::format("{} GiB", bytes >> 30);
  if (bytes >= (uint64_t{1} << 20)) return fmt::format("{} MiB", bytes >> 20);
  return fmt::format("{} bytes", bytes);
}

const char* file_type(mode_t mode) {
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// Opens `path` without blocking and checks type and size; returns the descriptor and size.
int open_checked(const std::string& path, InputKind kind, ErrorKind ek, uint64_t& size) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    const int err = errno;
    const std::string why = err == ENOENT    ? "does not exist"
                            : err == EACCES  ? "permission denied"
                            : err == ENOTDIR ? "a part of the path is not a folder"
                                             : std::strerror(err);
    throw_error(
        ek, path.substr(0, 4096), 0, "",
        fmt::format("cannot open {} (missing or unreadable): {}", input_kind_name(kind), why));
  }
  Fd guard(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    throw_error(ek, path, 0, "",
                fmt::format("cannot read {}: {}", input_kind_name(kind), std::strerror(errno)));
  if (!S_ISREG(st.st_mode))
    throw_error(
        ek, path, 0, "",
        fmt::format("is {}, expected a regular {}", file_type(st.st_mode), input_kind_name(kind)));
  size = static_cast<uint64_t>(st.st_size);
  const uint64_t limit = max_input_bytes(kind);
  if (size > limit)
    throw_error(ek, path, 0, "",
                fmt::format("{} of {} bytes is above the limit of {} for this kind of input "
                            "(raise it with IMCSIM_MAX_INPUT_MB)",
                            input_kind_name(kind), size, size_str(limit)));
  return ::dup(fd);  // the guard closes the original
}

}  // namespace

uint64_t max_input_bytes(InputKind kind) {
  if (const char* env = std::getenv("IMCSIM_MAX_INPUT_MB"); env && *env) {
    char* end = nullptr;
    const unsigned long long mb = std::strtoull(env, &end, 10);
    if (*end == '\0' && mb > 0 && mb < (uint64_t{1} << 40)) return mb << 20;
  }
  switch (kind) {
    case InputKind::Yaml: return uint64_t{4} << 20;
    case InputKind::JsonDoc: return uint64_t{256} << 20;
    case InputKind::Npy:
    case InputKind::TensorProto: return uint64_t{1} << 30;
    case InputKind::Onnx: return uint64_t{2} << 30;
    case InputKind::Text: break;
  }
  return uint64_t{64} << 20;
}

const char* input_kind_name(InputKind kind) {
  switch (kind) {
    case InputKind::Yaml: return "YAML file";
    case InputKind::Npy: return ".npy file";
    case InputKind::Onnx: return "ONNX model";
    case InputKind::TensorProto: return "tensor (.pb) file";
    case InputKind::JsonDoc: return "JSON file";
    case InputKind::Text: break;
  }
  return "file";
}

std::string read_input_file(const std::string& path, InputKind kind, ErrorKind error_kind) {
  uint64_t size = 0;
  Fd fd(open_checked(path, kind, error_kind, size));
  const uint64_t limit = max_input_bytes(kind);
  std::string out;
  out.resize(static_cast<size_t>(size));
  size_t have = 0;
  for (;;) {
    if (have == out.size()) {
      // The file grew since fstat: read on, but never past the limit.
      if (out.size() >= limit)
        throw_error(error_kind, path, 0, "",
                    fmt::format("{} grew above the limit of {} while being read",
                                input_kind_name(kind), size_str(limit)));
      out.resize(std::min<uint64_t>(limit, out.size() + 65536));
    }
    const ssize_t n = ::read(fd.get(), &out[have], out.size() - have);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      throw_error(error_kind, path, 0, "",
                  fmt::format("cannot read {}: {}", input_kind_name(kind), std::strerror(errno)));
    if (n == 0) break;
    have += static_cast<size_t>(n);
  }
  out.resize(have);
  return out;
}

void check_input_file(const std::string& path, InputKind kind, ErrorKind error_kind) {
  uint64_t size = 0;
  Fd fd(open_checked(path, kind, error_kind, size));
}

std::string excerpt(const std::string& text, size_t max_chars) {
  std::string out = "\"";
  size_t shown = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (shown >= max_chars) {
      out += "...";
      break;
    }
    const auto ch = static_cast<unsigned char>(text[i]);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += static_cast<char>(ch);
    } else if (ch >= 0x20 && ch < 0x7f) {
      out += static_cast<char>(ch);
    } else {
      out += fmt::format("\\x{:02x}", ch);
    }
    ++shown;
  }
  return out + "\"";
}

}  // namespace imcsim
