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
  explicit Arena(size_t block_size = size_t{64} * 1024) : block_size_(block_size) {}
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  Arena(Arena&&) noexcept = default;
  Arena& operator=(Arena&&) noexcept = default;

  void* Allocate(size_t size, size_t align) {
    // Pointer arithmetic on cursor_ (no integer-to-pointer cast): `pad` bytes up to the alignment.
    const size_t pad = AlignPadding(cursor_, align);
    if (cursor_ != nullptr && pad + size <= static_cast<size_t>(end_ - cursor_)) {
      uint8_t* p = cursor_ + pad;
      cursor_ = p + size;
      return p;
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
  // Bytes from p up to the next multiple of align (a power of two).
  static size_t AlignPadding(const uint8_t* p, size_t align) {
    const auto address = reinterpret_cast<uintptr_t>(p);
    return static_cast<size_t>(((address + align - 1) & ~(uintptr_t{align} - 1)) - address);
  }

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
