#include "actors/training/shard_loader.hpp"

#include <algorithm>
#include <cstring>

#include "runtime/actor_context.hpp"
#include "runtime/registry.hpp"

namespace troupe::train {

namespace {
dataset::Dataset load_or_throw(const std::string& images, const std::string& labels) {
  auto d = dataset::load_dataset(images, labels);
  if (!d.ok()) throw Exception(d.error());
  return std::move(d.value());
}

void map_labels(dataset::Labels& labels, const std::vector<int32_t>& positive) {
  if (positive.empty()) return;
  for (auto& l : labels) l = std::find(positive.begin(), positive.end(), l) != positive.end() ? 1 : 0;
}

// Gathers rows `index` of `d` into x [n, dim] and y [n].
void gather(const dataset::Dataset& d, std::span<const int64_t> index, Tensor& x, Tensor& y) {
  const int64_t dim = d.images.dim;
  float* xp = x.data_as<float>();
  int32_t* yp = y.data_as<int32_t>();
  for (std::size_t i = 0; i < index.size(); ++i) {
    std::memcpy(xp + static_cast<int64_t>(i) * dim, d.images.row(index[i]), static_cast<std::size_t>(dim) * sizeof(float));
    yp[i] = d.labels[static_cast<std::size_t>(index[i])];
  }
}
}  // namespace

ShardLoader::ShardLoader(JobSpec job, int loader)
    : job_(std::move(job)),
      loader_(loader),
      train_(load_or_throw(job_.train_images, job_.train_labels)),
      split_(split_samples(job_, train_.size())),
      sampler_(job_, split_, loader) {
  if (loader < 0 || loader >= job_.loaders) throw Exception(Error(Errc::invalid_argument, "loader index out of range"));
  map_labels(train_.labels, job_.positive_classes);
  for (int32_t l : train_.labels) max_label_ = std::max(max_label_, l);
  // The driver computed the schedule from the same file; a different file here would break coverage.
  if (job_.train_samples != 0 && static_cast<int64_t>(split_.train.size()) != job_.train_samples)
    throw Exception(Error(Errc::invalid_argument, "training set has " + std::to_string(split_.train.size()) +
                                                      " samples, the driver expected " +
                                                      std::to_string(job_.train_samples)));
  // Outside an actor process (a unit test) there is no prefetcher: batches are made on demand.
  if (ActorContext* self = current_actor()) self->run_background([this](std::stop_token st) { prefetch_loop(st); });
}

Batch ShardLoader::make_batch(int slot, int64_t step) {
  auto index = sampler_.batch(slot, step);
  const int64_t n = static_cast<int64_t>(index.size());
  Batch b;
  b.step = step;
  b.samples = n;
  b.x = pool_x_.get(DType::f32, {n, train_.images.dim});
  b.y = pool_y_.get(DType::i32, {n});
  gather(train_, index, b.x, b.y);
  b.index.assign(index.begin(), index.end());
  return b;
}

Batch ShardLoader::batch(int slot, int64_t step) {
  if (slot < 0 || slot >= job_.trainers || loader_of(job_, slot) != loader_)
    throw Exception(Error(Errc::invalid_argument,
                          "slot " + std::to_string(slot) + " is not served by loader " + std::to_string(loader_)));
  std::lock_guard lock(mutex_);
  Batch b;
  if (auto it = ready_.find({slot, step}); it != ready_.end()) {
    b = std::move(it->second);
    ready_.erase(it);
  } else {
    b = make_batch(slot, step);
  }
  // Forget what this slot will not ask for any more; prepare its next step.
  for (auto it = ready_.begin(); it != ready_.end();)
    it = (it->first.first == slot && it->first.second <= step) ? ready_.erase(it) : std::next(it);
  wanted_.emplace_back(slot, step + 1);
  cv_.notify_one();
  return b;
}

void ShardLoader::prefetch_loop(std::stop_token st) {
  std::unique_lock lock(mutex_);
  while (!st.stop_requested()) {
    cv_.wait_for(lock, std::chrono::milliseconds(200), [&] { return !wanted_.empty() || st.stop_requested(); });
    while (!wanted_.empty()) {
      auto key = wanted_.back();
      wanted_.pop_back();
      if (!ready_.contains(key)) ready_.emplace(key, make_batch(key.first, key.second));
    }
  }
}

Batch ShardLoader::split(std::string name) {
  const dataset::Dataset* d = &train_;
  std::vector<int64_t> all;
  std::span<const int64_t> index;
  if (name == "validation") {
    index = split_.validation;
  } else if (name == "test") {
    if (job_.test_images.empty()) throw Exception(Error(Errc::not_found, "the job has no test set"));
    if (!test_) {
      test_ = load_or_throw(job_.test_images, job_.test_labels);
      map_labels(test_->labels, job_.positive_classes);
    }
    d = &*test_;
    all.resize(static_cast<std::size_t>(test_->size()));
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
    index = all;
  } else if (name == "train") {
    index = split_.train;
  } else {
    throw Exception(Error(Errc::invalid_argument, "unknown split '" + name + "' (validation, test, train)"));
  }
  const int64_t n = static_cast<int64_t>(index.size());
  Batch b;
  b.step = -1;
  b.samples = n;
  b.x = Tensor::empty(DType::f32, {n, d->images.dim});
  b.y = Tensor::empty(DType::i32, {n});
  gather(*d, index, b.x, b.y);
  return b;
}

LoaderInfo ShardLoader::info() {
  LoaderInfo i;
  i.file_samples = train_.size();
  i.dim = train_.images.dim;
  i.train_samples = static_cast<int64_t>(split_.train.size());
  i.validation_samples = static_cast<int64_t>(split_.validation.size());
  i.max_label = max_label_;
  std::lock_guard lock(mutex_);
  i.owned = sampler_.owned();
  return i;
}

}  // namespace troupe::train

TROUPE_ACTOR(troupe::train::ShardLoader, batch, split, info);
