// A bump allocator: events and their strings live in an arena owned by a batch, so building
// an event makes no heap allocation per field once the arena has warmed up.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

namespace kestrel {

class Arena {
 public:
  explicit Arena(size_t block_size = 64 * 1024) : block_size_(block_size) {}
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  Arena(Arena&&) noexcept = default;
  Arena& operator=(Arena&&) noexcept = default;

  void* Allocate(size_t size, size_t align) {
    uintptr_t p = (reinterpret_cast<uintptr_t>(cursor_) + align - 1) & ~(uintptr_t{align} - 1);
    if (cursor_ != nullptr && p + size <= reinterpret_cast<uintptr_t>(end_)) {
      cursor_ = reinterpret_cast<uint8_t*>(p + size);
      return reinterpret_cast<void*>(p);
    }
    return AllocateSlow(size, align);
  }

  template <class T>
  T* AllocateArray(size_t n) {
    static_assert(std::is_trivially_destructible_v<T>, "arena memory is never destroyed");
    return static_cast<T*>(Allocate(sizeof(T) * n, alignof(T)));
  }

  std::string_view CopyString(std::string_view s) {
    if (s.empty()) return {};
    char* p = static_cast<char*>(Allocate(s.size(), 1));
    std::memcpy(p, s.data(), s.size());
    return {p, s.size()};
  }

  // Forgets every allocation; keeps the regular blocks for reuse and frees oversized ones.
  void Reset();

  // Bytes handed out since the last Reset (including alignment padding).
  size_t bytes_used() const;
  // Bytes held from the system.
  size_t bytes_reserved() const { return reserved_; }

 private:
  struct Block {
    std::unique_ptr<uint8_t[]> data;
    size_t size;
  };
  void* AllocateSlow(size_t size, size_t align);

  size_t block_size_;
  std::vector<Block> blocks_;  // regular blocks; [0, current_] are in use
  std::vector<Block> large_;   // oversized allocations, freed on Reset
  size_t current_ = 0;
  size_t used_in_full_blocks_ = 0;
  size_t reserved_ = 0;
  uint8_t* cursor_ = nullptr;
  uint8_t* end_ = nullptr;
};

}  // namespace kestrel
