#include "common/arena.h"

namespace kestrel {

void* Arena::AllocateSlow(size_t size, size_t align) {
  if (size + align > block_size_ / 4) {
    // Oversized: its own block, so one large string does not waste a regular block.
    large_.push_back({std::make_unique_for_overwrite<uint8_t[]>(size + align), size + align});
    reserved_ += size + align;
    used_in_full_blocks_ += size + align;
    uint8_t* p = large_.back().data.get();
    return p + AlignPadding(p, align);
  }
  if (cursor_ != nullptr) {
    used_in_full_blocks_ += static_cast<size_t>(cursor_ - blocks_[current_].data.get());
    ++current_;
  }
  if (current_ >= blocks_.size()) {
    blocks_.push_back({std::make_unique_for_overwrite<uint8_t[]>(block_size_), block_size_});
    reserved_ += block_size_;
  }
  cursor_ = blocks_[current_].data.get();
  end_ = cursor_ + blocks_[current_].size;
  return Allocate(size, align);
}

void Arena::Reset() {
  for (const Block& b : large_) reserved_ -= b.size;
  large_.clear();
  current_ = 0;
  used_in_full_blocks_ = 0;
  cursor_ = nullptr;
  end_ = nullptr;
  if (!blocks_.empty()) {
    cursor_ = blocks_[0].data.get();
    end_ = cursor_ + blocks_[0].size;
  }
}

size_t Arena::bytes_used() const {
  if (cursor_ == nullptr) return used_in_full_blocks_;
  return used_in_full_blocks_ + static_cast<size_t>(cursor_ - blocks_[current_].data.get());
}

}  // namespace kestrel
