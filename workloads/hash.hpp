// FNV-1a (64 bit): the one stable hash of imcsim, for run ids, sweep point ids, seeded
// streams per tensor name and cache keys. The same bytes give the same value on every
// machine and compiler, so ids written to disk stay valid across builds.
#pragma once

#include <cstdint>
#include <string_view>

namespace imcsim {

inline constexpr uint64_t kFnvOffsetBasis = 1469598103934665603ULL;
inline constexpr uint64_t kFnvPrime = 1099511628211ULL;

// One more 64-bit value folded into the hash h (FNV-1a's step on a whole word).
constexpr uint64_t fnv1a_mix(uint64_t h, uint64_t v) {
  return (h ^ v) * kFnvPrime;
}

// FNV-1a of the bytes of s, starting from `basis` (the standard offset basis by default).
constexpr uint64_t fnv1a(std::string_view s, uint64_t basis = kFnvOffsetBasis) {
  uint64_t h = basis;
  for (const char c : s) h = fnv1a_mix(h, static_cast<unsigned char>(c));
  return h;
}

}  // namespace imcsim
