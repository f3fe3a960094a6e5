// Reading an input file safely: every reader of imcsim (YAML, .npy, ONNX, TensorProto, JSON)
// goes through read_input_file, which
//  - opens without blocking (O_NONBLOCK), so a FIFO given as a file cannot hang the check;
//  - accepts only a regular file: a FIFO, a device (/dev/zero, /dev/urandom), a socket or a
//    folder is a named error;
//  - refuses a file above the size limit of its kind before reading a byte of it, so no
//    input ends in an exhausted memory.
// Errors name the file and what was expected; `excerpt` bounds and escapes any text of a
// file that an error quotes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>

#include "workloads/error.hpp"

namespace imcsim {

enum class InputKind { Yaml, Npy, Onnx, TensorProto, JsonDoc, Text };

// Size limit of one input file of `kind`, in bytes (README "Limits"): YAML 4 MiB, JSON
// 256 MiB, .npy and .pb 1 GiB, ONNX 2 GiB (protobuf's own limit). The environment variable
// IMCSIM_MAX_INPUT_MB, when set to a positive integer, replaces every limit.
uint64_t max_input_bytes(InputKind kind);
// "YAML file", ".npy file", ... for messages.
const char* input_kind_name(InputKind kind);

// The whole content of the regular file `path`; a missing, unreadable or special file, or one
// above the kind's limit, is an Error of `error_kind` naming `path`.
std::string read_input_file(const std::string& path, InputKind kind, ErrorKind error_kind);

// Checks, without reading or blocking, that `path` names a readable regular file within the
// kind's limit (for files handed to another library).
void check_input_file(const std::string& path, InputKind kind, ErrorKind error_kind);

// At most `max_chars` characters of `text`, quoted, with control and non-ASCII bytes written
// as \xNN and "..." when cut: safe to put in an error message.
std::string excerpt(const std::string& text, size_t max_chars = 60);

// std::filesystem::exists / is_regular_file without exceptions: a name the system refuses
// (too long, a component that is not a folder) is a name with nothing there, so the caller's
// named "does not exist" error applies instead of an uncaught filesystem_error.
inline bool path_exists(const std::filesystem::path& p) {
  std::error_code ec;
  return std::filesystem::exists(p, ec);
}
inline bool regular_file_exists(const std::filesystem::path& p) {
  std::error_code ec;
  return std::filesystem::is_regular_file(p, ec);
}

}  // namespace imcsim
