#include "actors/training/job.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "runtime/error.hpp"

namespace troupe::train {

const char* consistency_name(Consistency c) {
  switch (c) {
    case Consistency::sync: return "sync";
    case Consistency::backup: return "backup";
    case Consistency::ssp: return "ssp";
    case Consistency::async: return "async";
  }
  return "?";
}

kernels::MlpSpec mlp_spec(const JobSpec& job) {
  kernels::MlpSpec s;
  s.sizes = job.sizes;
  for (const auto& a : job.activations) {
    auto act = kernels::activation_from_name(a);
    if (!act) throw Exception(Error(Errc::invalid_argument, "unknown activation '" + a + "'"));
    s.activations.push_back(*act);
  }
  auto loss = kernels::loss_from_name(job.loss);
  if (!loss) throw Exception(Error(Errc::invalid_argument, "unknown loss '" + job.loss + "'"));
  s.loss = *loss;
  if (const std::string why = s.check(); !why.empty()) throw Exception(Error(Errc::invalid_argument, why));
  return s;
}

void finalize(JobSpec& job, int64_t file_samples) {
  const int64_t val = static_cast<int64_t>(std::llround(job.val_fraction * static_cast<double>(file_samples)));
  int64_t train = file_samples - val;
  if (job.limit_train > 0) train = std::min(train, job.limit_train);
  job.train_samples = train;
  // The largest slot (actors/training/sampler.hpp): loader l owns the
  // positions p with (p % trainers) % loaders == l and splits them among its slots.
  int64_t slot_size = 0;
  for (int l = 0; l < job.loaders; ++l) {
    int64_t owned = 0, slots = 0;
    for (int t = l; t < job.trainers; t += job.loaders) {
      ++slots;
      if (t < train) owned += (train - t + job.trainers - 1) / job.trainers;
    }
    if (slots > 0) slot_size = std::max(slot_size, (owned + slots - 1) / slots);
  }
  job.steps_per_epoch = std::max<int64_t>(1, (slot_size + job.batch - 1) / job.batch);
  job.total_steps = job.steps_per_epoch * job.epochs;
  if (job.max_steps > 0) job.total_steps = std::min(job.total_steps, job.max_steps);
}

std::pair<int64_t, int64_t> shard_range(int64_t num_params, int shards, int s) {
  return {num_params * s / shards, num_params * (s + 1) / shards};
}

std::vector<GradBucket> grad_buckets(const JobSpec& job) {
  const kernels::ParamLayout layout(mlp_spec(job));
  const int64_t min_elems = std::max<int64_t>(0, job.bucket_bytes) / static_cast<int64_t>(sizeof(float));
  const auto& layers = layout.layers();
  std::vector<GradBucket> out;
  for (int s = job.shards - 1; s >= 0; --s) {
    const auto [b, e] = shard_range(layout.num_params(), job.shards, s);
    const std::size_t first = out.size();
    GradBucket open{s, 0, 0, false};
    bool is_open = false;
    for (auto l = layers.rbegin(); l != layers.rend(); ++l) {
      const int64_t lo = std::max(l->begin(), b), hi = std::min(l->end(), e);
      if (lo >= hi) continue;
      if (!is_open) {
        open = {s, lo, hi, false};
        is_open = true;
      } else {
        open.begin = lo;  // layers are adjacent in the flat vector: [W0, b0, W1, b1, ...]
      }
      if (open.end - open.begin >= min_elems) {
        out.push_back(open);
        is_open = false;
      }
    }
    if (is_open) out.push_back(open);
    if (out.size() > first) out.back().last = true;
  }
  return out;
}

float scheduled_lr(const JobSpec& job, double progress) {
  return kernels::linear_decay_lr(job.adam.lr, job.lr_final, progress);
}

double step_progress(const JobSpec& job, int64_t t) {
  const int64_t total = total_adam_steps(job);
  return total <= 0 ? 0.0 : static_cast<double>(t - 1) / static_cast<double>(total);
}

int64_t total_adam_steps(const JobSpec& job) { return lockstep(job) ? job.total_steps : job.total_steps * job.trainers; }

}  // namespace troupe::train
