#include "models/stats.hpp"

#include <cstring>
#include <stdexcept>
#include <unordered_map>

namespace imcsim {

void StatNode::add(const StatNode& other) {
  if (values.size() != other.values.size())
    throw std::logic_error("stats: block " + name + " added to a different block");
  for (size_t i = 0; i < values.size(); ++i) values[i].value += other.values[i].value;
  std::unordered_map<std::string, size_t> index;
  for (size_t i = 0; i < children.size(); ++i) index.emplace(children[i].name, i);
  for (const StatNode& c : other.children) {
    const auto it = index.find(c.name);
    if (it == index.end()) {
      index.emplace(c.name, children.size());
      children.push_back(c);
    } else {
      children[it->second].add(c);
    }
  }
}

bool StatNode::all_zero() const {
  for (const StatValue& v : values)
    if (v.value != 0) return false;
  for (const StatNode& c : children)
    if (!c.all_zero()) return false;
  return true;
}

const StatNode* StatNode::child(const std::string& n) const {
  for (const StatNode& c : children)
    if (c.name == n) return &c;
  return nullptr;
}

const StatValue* StatNode::value(const std::string& n) const {
  for (const StatValue& v : values)
    if (n == v.def.name) return &v;
  return nullptr;
}

namespace {

void sum_events(const StatNode& n, EventCounts& e) {
  for (const StatValue& v : n.values)
    if (v.def.event != Event::kCount) e[static_cast<size_t>(v.def.event)] += v.value;
  for (const StatNode& c : n.children) sum_events(c, e);
}

void sum_stalls(const StatNode& n, std::map<std::string, int64_t>& s) {
  for (const StatValue& v : n.values)
    if (v.def.stall && v.value > 0) s[v.def.stall] += v.value;
  for (const StatNode& c : n.children) sum_stalls(c, s);
}

}  // namespace

EventCounts events_of(const StatNode& n) {
  EventCounts e{};
  sum_events(n, e);
  return e;
}

std::map<std::string, int64_t> stalls_of(const StatNode& n) {
  std::map<std::string, int64_t> s;
  sum_stalls(n, s);
  return s;
}

}  // namespace imcsim
