// histogram.h: a log-bucketed latency histogram with bounded memory, in the
// manner of HdrHistogram.
//
// Values (nanoseconds here, but any uint64) below 2^kSubBits are counted
// exactly. Above, a value v with its highest bit at position b falls into
// one of 2^(kSubBits-1) equal sub-buckets of [2^b, 2^(b+1)): the bucket is
// v's top kSubBits bits. So every bucket is at most 1/2^(kSubBits-1) of its
// values wide (0.78% with kSubBits = 8) whatever the magnitude, and the
// whole uint64 range takes kBuckets counters (7424, 58 KiB) — no allocation
// per record, no dependence on how many values were recorded.
//
// A percentile is reported as the highest value of the bucket that holds it
// (never below the true value, at most 0.78% above it), clamped to the
// largest value recorded. min, max, count and sum are exact.
//
// Not thread-safe: each recording thread owns one and they are merged.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace cogo::load {

class Histogram {
 public:
  static constexpr int kSubBits = 8;
  static constexpr size_t kSubBuckets = size_t{1} << kSubBits;  // exact values 0..255
  static constexpr size_t kHalf = kSubBuckets / 2;
  static constexpr size_t kBuckets = kSubBuckets + (64 - kSubBits) * kHalf;

  Histogram() : counts_(kBuckets, 0) {}

  // record() counts value v once (or n times).
  void record(uint64_t v, uint64_t n = 1) {
    counts_[bucket_of(v)] += n;
    count_ += n;
    sum_ += static_cast<double>(v) * static_cast<double>(n);
    sum_squares_ += static_cast<double>(v) * static_cast<double>(v) * static_cast<double>(n);
    if (v < min_) min_ = v;
    if (v > max_) max_ = v;
  }
  // merge() adds every value recorded in o.
  void merge(const Histogram& o);
  void clear();

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ ? sum_ / static_cast<double>(count_) : 0; }
  double stddev() const;
  // percentile() is the value below or at which p percent (0..100) of the
  // recorded values lie, to the histogram's precision; 0 when empty.
  uint64_t percentile(double p) const;

  // bucket_of() is the bucket that counts v; lowest() / highest() its range.
  static size_t bucket_of(uint64_t v);
  static uint64_t lowest(size_t bucket);
  static uint64_t highest(size_t bucket);

  // The non-empty buckets as (bucket, count) pairs, and the reverse: how a
  // worker process ships its histogram to its parent.
  std::vector<std::pair<size_t, uint64_t>> nonzero() const;
  // restore() sets the histogram from buckets plus the exact figures that
  // buckets alone lose. Bucket indices out of range are ignored.
  void restore(const std::vector<std::pair<size_t, uint64_t>>& buckets, uint64_t min, uint64_t max,
               double sum, double sum_squares);
  double sum() const { return sum_; }
  double sum_squares() const { return sum_squares_; }

 private:
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  double sum_ = 0;
  double sum_squares_ = 0;
};

}  // namespace cogo::load
