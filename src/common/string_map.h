// StringMap: a flat hash map from strings to values for tables built once and read per event
// (the rule index). Open addressing with linear probing over one array; xxHash3 of the key,
// kept in the slot so that a probe compares 8 bytes before it compares text. Lookups take a
// string_view and never allocate. No erase.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/hash.h"

namespace kestrel {

template <class V>
class StringMap {
 public:
  // The value of `key`, inserted value-initialized when missing.
  V& operator[](std::string_view key) {
    if (2 * (size_ + 1) > slots_.size()) Grow();
    uint64_t h = Hash64(key);
    Slot& s = slots_[Probe(h, key)];
    if (!s.used) {
      s = Slot{h, std::string(key), V{}, true};
      ++size_;
    }
    return s.value;
  }

  const V* Find(std::string_view key) const {
    if (size_ == 0) return nullptr;
    const Slot& s = slots_[Probe(Hash64(key), key)];
    return s.used ? &s.value : nullptr;
  }

  size_t size() const { return size_; }

  template <class F>
  void ForEach(F&& f) const {
    for (const Slot& s : slots_) {
      if (s.used) f(std::string_view(s.key), s.value);
    }
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    std::string key;
    V value{};
    bool used = false;
  };

  // The slot holding `key`, or the empty slot where it belongs.
  size_t Probe(uint64_t h, std::string_view key) const {
    size_t mask = slots_.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      const Slot& s = slots_[i];
      if (!s.used || (s.hash == h && s.key == key)) return i;
    }
  }

  void Grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.clear();
    slots_.resize(old.empty() ? 16 : 2 * old.size());
    for (Slot& s : old) {
      if (s.used) slots_[Probe(s.hash, s.key)] = std::move(s);
    }
  }

  std::vector<Slot> slots_;
  size_t size_ = 0;
};

// A set of strings on the same table.
class StringSet {
 public:
  void Insert(std::string_view key) { map_[key] = 1; }
  bool Contains(std::string_view key) const { return map_.Find(key) != nullptr; }
  size_t size() const { return map_.size(); }
  bool empty() const { return map_.size() == 0; }
  // Calls f(key) for each key until f returns true; returns whether one did.
  template <class F>
  bool Any(F&& f) const {
    bool found = false;
    map_.ForEach([&](std::string_view key, char) { found = found || f(key); });
    return found;
  }

 private:
  StringMap<char> map_;
};

}  // namespace kestrel
