// histogram.cpp: bucket arithmetic and percentiles (see histogram.h).
#include "loadtest/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace cogo::load {

size_t Histogram::bucket_of(uint64_t v) {
  if (v < kSubBuckets) return static_cast<size_t>(v);
  const int msb = 63 - std::countl_zero(v);  // >= kSubBits
  const int shift = msb - (kSubBits - 1);    // >= 1
  const uint64_t top = v >> shift;           // in [kHalf, kSubBuckets)
  return kSubBuckets + static_cast<size_t>(shift - 1) * kHalf + static_cast<size_t>(top - kHalf);
}

uint64_t Histogram::lowest(size_t bucket) {
  if (bucket < kSubBuckets) return bucket;
  const size_t rel = bucket - kSubBuckets;
  const int shift = static_cast<int>(rel / kHalf) + 1;
  const uint64_t top = kHalf + rel % kHalf;
  return top << shift;
}

uint64_t Histogram::highest(size_t bucket) {
  if (bucket < kSubBuckets) return bucket;
  const int shift = static_cast<int>((bucket - kSubBuckets) / kHalf) + 1;
  return lowest(bucket) + ((uint64_t{1} << shift) - 1);
}

void Histogram::merge(const Histogram& o) {
  for (size_t i = 0; i < kBuckets; i++) counts_[i] += o.counts_[i];
  count_ += o.count_;
  sum_ += o.sum_;
  sum_squares_ += o.sum_squares_;
  min_ = std::min(min_, o.min_);
  max_ = std::max(max_, o.max_);
}

void Histogram::clear() {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = 0;
  min_ = UINT64_MAX;
  max_ = 0;
  sum_ = sum_squares_ = 0;
}

double Histogram::stddev() const {
  if (count_ < 2) return 0;
  const double n = static_cast<double>(count_);
  const double m = sum_ / n;
  const double var = sum_squares_ / n - m * m;
  return var > 0 ? std::sqrt(var) : 0;
}

uint64_t Histogram::percentile(double p) const {
  if (count_ == 0) return 0;
  p = std::clamp(p, 0.0, 100.0);
  // The rank of the value asked for: at least the first, at most the last.
  // The relative nudge keeps 99.9% of 1000 at rank 999: 99.9 has no exact
  // binary form and the product comes out a hair above 999.
  const double exact = p / 100.0 * static_cast<double>(count_);
  uint64_t rank = static_cast<uint64_t>(std::ceil(exact - exact * 1e-12));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; i++) {
    seen += counts_[i];
    if (seen >= rank) return std::clamp(highest(i), min(), max_);
  }
  return max_;
}

std::vector<std::pair<size_t, uint64_t>> Histogram::nonzero() const {
  std::vector<std::pair<size_t, uint64_t>> out;
  for (size_t i = 0; i < kBuckets; i++) {
    if (counts_[i]) out.emplace_back(i, counts_[i]);
  }
  return out;
}

void Histogram::restore(const std::vector<std::pair<size_t, uint64_t>>& buckets, uint64_t min,
                        uint64_t max, double sum, double sum_squares) {
  clear();
  for (const auto& [b, n] : buckets) {
    if (b >= kBuckets) continue;
    counts_[b] += n;
    count_ += n;
  }
  if (count_) {
    min_ = min;
    max_ = max;
  }
  sum_ = sum;
  sum_squares_ = sum_squares;
}

}  // namespace cogo::load
