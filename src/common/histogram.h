// Histogram: a log-linear histogram of non-negative values (latencies in ns): 8 sub-buckets per
// power of two, so a percentile is exact to within 12.5 %. Fixed size, no allocation; merging
// adds counts.
#pragma once

#include <array>
#include <bit>
#include <cstdint>

namespace kestrel {

class Histogram {
 public:
  static constexpr int kSubBits = 3;
  static constexpr int kBuckets = (64 - kSubBits + 1) << kSubBits;

  void Add(uint64_t v) {
    ++counts_[BucketOf(v)];
    ++count_;
  }
  void Merge(const Histogram& o) {
    for (int i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
    count_ += o.count_;
  }
  uint64_t count() const { return count_; }

  // The value at quantile q (0 < q <= 1): the upper bound of the bucket holding it; 0 when empty.
  uint64_t Percentile(double q) const {
    if (count_ == 0) return 0;
    auto rank = static_cast<uint64_t>(q * static_cast<double>(count_));
    if (rank == 0) rank = 1;
    uint64_t seen = 0;
    for (int i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) return UpperBound(i);
    }
    return UpperBound(kBuckets - 1);
  }

 private:
  static int BucketOf(uint64_t v) {
    if (v < (uint64_t{1} << kSubBits)) return static_cast<int>(v);
    int top = 63 - std::countl_zero(v);  // >= kSubBits
    int sub = static_cast<int>((v >> (top - kSubBits)) & ((1 << kSubBits) - 1));
    return ((top - kSubBits + 1) << kSubBits) + sub;
  }
  static uint64_t UpperBound(int bucket) {
    if (bucket < (1 << kSubBits)) return static_cast<uint64_t>(bucket);
    int top = (bucket >> kSubBits) + kSubBits - 1;
    uint64_t sub = bucket & ((1 << kSubBits) - 1);
    uint64_t base = (uint64_t{1} << top) + (sub << (top - kSubBits));
    return base + (uint64_t{1} << (top - kSubBits)) - 1;
  }

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
};

}  // namespace kestrel
