#include "actors/training/sampler.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace troupe::train {

namespace {
uint64_t splitmix(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
}  // namespace

void shuffle_indices(std::vector<int64_t>& v, uint64_t seed) {
  uint64_t state = seed;
  for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[splitmix(state) % i]);
}

Split split_samples(const JobSpec& job, int64_t file_samples) {
  std::vector<int64_t> all(static_cast<std::size_t>(file_samples));
  std::iota(all.begin(), all.end(), 0);
  const int64_t val = static_cast<int64_t>(std::llround(job.val_fraction * static_cast<double>(file_samples)));
  Split s;
  if (val > 0) shuffle_indices(all, job.seed ^ 0x76616c2d73706c74ULL);
  s.validation.assign(all.begin(), all.begin() + val);
  s.train.assign(all.begin() + val, all.end());
  if (job.limit_train > 0 && static_cast<int64_t>(s.train.size()) > job.limit_train)
    s.train.resize(static_cast<std::size_t>(job.limit_train));
  // Ascending order within each split: a loader's part does not depend on the
  // split's permutation order, only on membership.
  std::sort(s.validation.begin(), s.validation.end());
  if (val > 0) std::sort(s.train.begin(), s.train.end());
  return s;
}

int64_t batch_samples(const JobSpec& job, int slot, int64_t step) {
  if (slot < 0 || slot >= job.trainers || step < 0 || job.steps_per_epoch <= 0) return 0;
  // As the Sampler lays them out: loader l owns the positions p with
  // (p % trainers) % loaders == l and deals them to its slots in turn.
  const int l = slot % job.loaders;
  int64_t owned = 0, slots = 0;
  for (int t = l; t < job.trainers; t += job.loaders) {
    ++slots;
    if (t < job.train_samples) owned += (job.train_samples - t + job.trainers - 1) / job.trainers;
  }
  const int64_t j = slot / job.loaders;
  const int64_t size = j < owned ? (owned - j + slots - 1) / slots : 0;
  const int64_t begin = (step % job.steps_per_epoch) * job.batch;
  return std::clamp<int64_t>(size - begin, 0, job.batch);
}

Sampler::Sampler(const JobSpec& job, const Split& split, int loader) : job_(job), loader_(loader) {
  for (std::size_t p = 0; p < split.train.size(); ++p)
    if (static_cast<int>(p % static_cast<std::size_t>(job.trainers)) % job.loaders == loader)
      owned_.push_back(split.train[p]);
  const int slots = (job.trainers - loader + job.loaders - 1) / job.loaders;
  slots_.resize(static_cast<std::size_t>(std::max(slots, 0)));
}

std::span<const int64_t> Sampler::batch(int slot, int64_t step) {
  const std::size_t j = static_cast<std::size_t>(slot / job_.loaders);
  if (slot % job_.loaders != loader_ || j >= slots_.size() || step < 0) return {};
  const int64_t epoch = step / job_.steps_per_epoch;
  const int64_t b = step % job_.steps_per_epoch;
  SlotOrder& so = slots_[j];
  if (so.epoch != epoch) {
    shuffled_ = owned_;
    shuffle_indices(shuffled_, job_.seed * 0x100000001b3ULL + static_cast<uint64_t>(epoch) * 1000003ULL +
                                   static_cast<uint64_t>(loader_) * 7919ULL + 1);
    so.order.clear();
    for (std::size_t p = j; p < shuffled_.size(); p += slots_.size()) so.order.push_back(shuffled_[p]);
    so.epoch = epoch;
  }
  const int64_t size = static_cast<int64_t>(so.order.size());
  const int64_t begin = std::min(size, b * job_.batch);
  const int64_t end = std::min(size, begin + job_.batch);
  return {so.order.data() + begin, static_cast<std::size_t>(end - begin)};
}

}  // namespace troupe::train
