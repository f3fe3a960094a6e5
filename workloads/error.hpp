// Error types of imcsim: one per layer of the program (STYLE.md "Errors").
// Each carries where the user can fix it (file, line, key) and what was
// expected. Library code only throws; `main` turns an Error into an exit code.
#pragma once

#include <stdexcept>
#include <string>

namespace imcsim {

class Error : public std::runtime_error {
 public:
  // `file` may be empty (command-line input), `line` is 1-based (0 = unknown),
  // `key` is the dotted key path (may be empty).
  Error(std::string file, int line, std::string key, std::string message)
      : std::runtime_error(format(file, line, key, message)),
        file_(std::move(file)),
        line_(line),
        key_(std::move(key)),
        message_(std::move(message)) {}

  const std::string& file() const { return file_; }
  int line() const { return line_; }
  const std::string& key() const { return key_; }
  const std::string& message() const { return message_; }

  static std::string format(const std::string& file, int line, const std::string& key,
                            const std::string& message) {
    std::string out;
    if (!file.empty()) {
      out += file;
      if (line > 0) out += ":" + std::to_string(line);
      out += ": ";
    }
    if (!key.empty()) out += key + ": ";
    return out + message;
  }

 private:
  std::string file_;
  int line_;
  std::string key_;
  std::string message_;
};

// Bad experiment / architecture YAML or command-line flags.
class ConfigError : public Error {
  using Error::Error;
};
// Bad workload description or weights.
class WorkloadError : public Error {
  using Error::Error;
};
// A layer that a mapper cannot place on the given array.
class MappingError : public Error {
  using Error::Error;
};
// A bad command line (flags that cannot go together, a missing flag): exit code 2. Thrown by
// the command layer and by the library entry points the commands hand their flags to.
class UsageError : public Error {
  using Error::Error;
};

enum class ErrorKind { Config, Workload, Mapping };

[[noreturn]] inline void throw_error(ErrorKind kind, const std::string& file, int line,
                                     const std::string& key, const std::string& message) {
  switch (kind) {
    case ErrorKind::Workload: throw WorkloadError(file, line, key, message);
    case ErrorKind::Mapping: throw MappingError(file, line, key, message);
    case ErrorKind::Config: break;
  }
  throw ConfigError(file, line, key, message);
}

}  // namespace imcsim
