// Loading workload descriptions (workloads/*.yaml) into a Network, with shape
// inference and consistency checks. Errors are WorkloadError naming file, line
// and key.
#pragma once

#include <string>
#include <vector>

#include "workloads/network.hpp"
#include "workloads/yaml_reader.hpp"

namespace imcsim {

// Parses and validates a workload document.
Network parse_workload(const YamlNode& root);
// Loads a workload file (a path).
Network load_workload_file(const std::string& path);

// Directories searched for built-in workload names, in order:
// $IMCSIM_WORKLOADS_DIR (if set), then the source tree's workloads/ folder.
std::vector<std::string> workload_search_dirs();
// A built-in name ("resnet20") or a path ("my/net.yaml") -> the file to load.
// An unknown name is a WorkloadError listing the built-in names.
std::string resolve_workload(const std::string& name_or_path);
// Names of the built-in workloads (files <name>.yaml in the search dirs), sorted.
std::vector<std::string> builtin_workloads();
// resolve_workload + load_workload_file.
Network load_workload(const std::string& name_or_path);

}  // namespace imcsim
