#pragma once

namespace imcsim {
inline constexpr const char* kVersion = "0.1.0";
}
