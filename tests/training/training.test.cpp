// The training actors in real processes (DESIGN §5): synchronous data
// parallelism equals one process on the concatenated batches; sharding the
// parameters changes nothing; the relaxed modes converge; loaders serve every
// sample once per epoch; a shard killed after a checkpoint resumes to the same
// result; gradients pushed in buckets change nothing.
// Every test needs Fashion-MNIST's t10k files: without them the binary exits 77 (skipped).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "actors/training/sampler.hpp"
#include "kernels/adam.hpp"
#include "kernels/mlp.hpp"
#include "tests/test_support.hpp"
#include "tests/training/training_support.hpp"

using namespace std::chrono_literals;
using namespace troupe;
using namespace troupe::testing;

namespace {

[[maybe_unused]] const bool kHaveData = exit_77_without_fmnist();  // before main: no test runs without the data

/// One process, one model, the batches of all slots concatenated in slot order.
std::vector<float> train_in_one_process(const train::JobSpec& job) {
  const auto spec = train::mlp_spec(job);
  auto model = kernels::make_mlp(spec, {});
  std::vector<float> params(static_cast<std::size_t>(model->num_params())), grad(params.size());
  kernels::init_params(spec, params, job.seed);
  kernels::AdamState adam(0, model->num_params(), job.adam);
  auto data = dataset::load_dataset(job.train_images, job.train_labels);
  REQUIRE(data.ok());
  const auto split = train::split_samples(job, data->size());
  std::vector<train::Sampler> samplers;
  for (int l = 0; l < job.loaders; ++l) samplers.emplace_back(job, split, l);
  const int64_t dim = data->images.dim;
  for (int64_t step = 0; step < job.total_steps; ++step) {
    std::vector<float> x;
    std::vector<int32_t> y;
    for (int t = 0; t < job.trainers; ++t)
      for (int64_t i : samplers[static_cast<std::size_t>(train::loader_of(job, t))].batch(t, step)) {
        x.insert(x.end(), data->images.row(i), data->images.row(i) + dim);
        y.push_back(data->labels[static_cast<std::size_t>(i)]);
      }
    model->forward_backward(params, x.data(), y.data(), static_cast<int64_t>(y.size()), grad);
    adam.step(params, grad);
  }
  return params;
}

}  // namespace

TEST_CASE("sync mode with 2 trainers gives the weights of one process on the concatenated batches") {
  auto job = small_job(2, 2, 1, 640, 32);  // 10 steps per trainer
  job.max_steps = 10;
  train::finalize(job, 10000);
  auto cluster = small_cluster();
  Job j(cluster, job);
  const auto distributed = j.final_weights();
  const auto single = train_in_one_process(job);
  const double d = rel_diff(distributed, single);
  INFO("relative difference " << d);
  CHECK(d <= 1e-5);
}

TEST_CASE("1 aggregator shard and 3 shards give the same weights") {
  auto one = small_job(2, 1, 1, 640, 32);
  auto three = small_job(2, 1, 3, 640, 32);
  auto cluster = small_cluster();
  Job a(cluster, one, "one");
  Job b(cluster, three, "three");
  const auto wa = a.final_weights(), wb = b.final_weights();
  const double d = rel_diff(wb, wa);
  INFO("relative difference " << d);
  CHECK(d <= 1e-6);
}

TEST_CASE("backup-worker, bounded-staleness and asynchronous modes each converge on a short run, near sync mode") {
  auto cluster = small_cluster();
  struct Outcome {
    double loss = 0, accuracy = 0;
    int64_t versions = 0, samples = 0;  // steps applied, samples in them
  };
  // The same job in each mode: its mean training loss over the epoch (from ln(10) = 2.3 at the start), the
  // validation accuracy of the final weights (chance is 0.1), and what the shard applied.
  auto run = [&](train::Consistency mode) {
    auto job = small_job(2, 2, 1, 6400, 16);  // 200 steps per trainer
    job.adam.lr = 3e-3f;
    job.mode = mode;
    job.backup = mode == train::Consistency::backup ? 1 : 0;
    job.staleness = mode == train::Consistency::ssp ? 2 : 0;
    job.val_fraction = 0.2;
    train::finalize(job, 10000);
    Job j(cluster, job, train::consistency_name(mode));
    train::EpochSummary s;
    j.final_weights(&s);
    auto ev = j.trainers[0].call(&train::Trainer::evaluate, train::EvalRequest{"validation", 0}).get(60s);
    CHECK(ev.samples == 2000);
    const Outcome o{s.loss_sum / std::max<int64_t>(1, s.samples), ev.accuracy, s.version, s.samples};
    MESSAGE(std::string(train::consistency_name(mode)) << ": epoch loss " << o.loss << ", validation accuracy "
                                                       << o.accuracy);
    return o;
  };
  // Sync mode gives the same result every run (the first test case: it equals one process).
  const Outcome sync = run(train::Consistency::sync);
  CHECK(sync.versions == 200);
  CHECK(sync.samples == 6400);
  CHECK(sync.loss < 0.9);
  CHECK(sync.accuracy > 0.72);
  // The relaxed modes vary with which push arrives first. Measured, 35 runs of this case on a 2-vCPU AMD EPYC
  // (lscpu: family 25 model 17), 20 with other builds running (load 4-14), 15 with two busy loops added (no
  // shift in the spread):
  //             epoch loss             validation accuracy
  //   sync      0.799 (every run)      0.7655 (every run)
  //   backup    0.888 .. 0.955 (+0.16) 0.6845 .. 0.781 (-0.081)   one push of the two per step
  //   ssp       0.814 .. 0.875 (+0.08) 0.7285 .. 0.8055 (-0.037)
  //   async     0.793 .. 0.909 (+0.11) 0.7345 .. 0.791 (-0.031)
  // (worst relative to sync in brackets). Slowing the processes down did not widen the spread, so a slower
  // (Intel) host should not either. Each bound below is relative to sync and leaves 0.06-0.09 beyond the
  // worst run, 4-7 standard deviations from that mode's mean, so only a mode that trains markedly worse than
  // sync fails it. (The former loss < 1.0 was 0.045 above backup's worst run, about 2 standard deviations.)
  // Re-measured after the batch ledger (30 runs each, idle AMD EPYC, 2 vCPUs): async accuracy 0.761 +- 0.025,
  // min 0.678 (the landing before the aggregator split) and 0.753 +- 0.036, min 0.624 (after it): wider than
  // the table, so async now fails this bound a few percent of runs. Open: why an async run sometimes ends on
  // poor final weights; the bound is to be re-derived once that is understood, not widened to pass.
  // Since the batch ledger (actors/training/batch_ledger.hpp) backup mode too trains every sample once: the
  // straggler's batch dropped with a step is handed out again, so a backup run takes between 200 steps (both
  // pushes in every step) and 400 (one), plus the few steps in which the last batch in flight leaves the
  // other trainer idle. (The figures above were measured before: then it dropped half of the batches.)
  struct Bound {
    train::Consistency mode;
    double loss_above_sync, accuracy_below_sync;
    int64_t min_versions, max_versions;  // ssp and async apply every push: 400 versions
  };
  for (const Bound b : {Bound{train::Consistency::backup, 0.25, 0.15, 200, 410},
                        Bound{train::Consistency::ssp, 0.15, 0.10, 400, 400},
                        Bound{train::Consistency::async, 0.20, 0.10, 400, 400}}) {
    const Outcome o = run(b.mode);
    INFO(train::consistency_name(b.mode) << ": epoch loss " << o.loss << ", validation accuracy " << o.accuracy
                                         << ", " << o.versions << " versions; sync: " << sync.loss << ", "
                                         << sync.accuracy);
    CHECK(o.versions >= b.min_versions);
    CHECK(o.versions <= b.max_versions);
    CHECK(o.samples == 6400);  // every sample of the epoch, once
    CHECK(o.loss <= sync.loss + b.loss_above_sync);
    CHECK(o.accuracy >= sync.accuracy - b.accuracy_below_sync);
  }
}

TEST_CASE("across loaders every training sample is served exactly once per epoch") {
  auto job = small_job(3, 2, 1, 1000, 64);
  job.val_fraction = 0.1;
  train::finalize(job, 10000);
  auto cluster = small_cluster();
  std::vector<ActorHandle<train::ShardLoader>> loaders;
  for (int l = 0; l < 2; ++l) loaders.push_back(cluster.spawn<train::ShardLoader>({.cpus = 0.1}, job, l));
  const auto split = train::split_samples(job, 10000);
  REQUIRE(static_cast<int64_t>(split.train.size()) == job.train_samples);
  for (int64_t epoch = 0; epoch < 2; ++epoch) {
    std::multiset<int64_t> seen;
    for (int t = 0; t < job.trainers; ++t)
      for (int64_t b = 0; b < job.steps_per_epoch; ++b) {
        auto batch = loaders[static_cast<std::size_t>(t % 2)]
                         .call(&train::ShardLoader::batch, t, epoch * job.steps_per_epoch + b)
                         .get(30s);
        CHECK(batch.samples == static_cast<int64_t>(batch.index.size()));
        CHECK(batch.x.shape() == Tensor::Shape{batch.samples, 784});
        seen.insert(batch.index.begin(), batch.index.end());
      }
    CHECK(seen.size() == split.train.size());
    CHECK(std::set<int64_t>(seen.begin(), seen.end()) == std::set<int64_t>(split.train.begin(), split.train.end()));
  }
  // A trainer slot served by the other loader is refused.
  CHECK_FALSE(loaders[1].call(&train::ShardLoader::batch, 0, 0).result(10s).ok());
}

TEST_CASE("a loader given a bad file fails once with the file's line, and is not restarted into it again") {
  // The file changed after the driver checked it (or lives on another host):
  // the loader's constructor refuses it; restarting would refuse it again.
  const auto dir = std::filesystem::temp_directory_path() / ("troupe-badfile-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string fifo = (dir / "labels.fifo").string();
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  auto job = small_job(1, 1, 1, 1000, 64);
  job.train_labels = fifo;  // not a regular file: refused before it is opened (issue 10, hostile files)
  auto cluster = small_cluster();
  auto loader = cluster.spawn<train::ShardLoader>({.name = "bad-loader", .cpus = 0.1, .max_restarts = 3}, job, 0);
  auto dead = cluster.wait_alive(loader.id(), 30s);
  REQUIRE_FALSE(dead.ok());
  CHECK(dead.error().code == Errc::actor_died);
  auto info = cluster.lookup("bad-loader");  // DEAD: not found by name
  CHECK_FALSE(info.ok());
  auto state = cluster.state();
  REQUIRE(state.ok());
  const ActorInfo* a = nullptr;
  for (const auto& x : state->actors)
    if (x.id == loader.id()) a = &x;
  REQUIRE(a != nullptr);
  CHECK(a->state == ActorState::dead);
  CHECK(a->restarts == 0);  // with max_restarts 3: not restarted into the same file
  REQUIRE(a->deaths.size() == 1);
  MESSAGE(a->deaths.front().reason);
  CHECK(a->deaths.front().reason.find(fifo) != std::string::npos);
  CHECK(a->deaths.front().reason.find("regular file") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("a shard killed with SIGKILL after a checkpoint resumes from it and reaches the uninterrupted result") {
  char tmpl[] = "/tmp/troupe-ckpt-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  auto job = small_job(2, 2, 1, 9000, 8);  // 563 steps
  job.checkpoint_dir = tmpl;
  job.checkpoint_every = 10;
  auto cluster = small_cluster();
  auto plain = job;
  plain.checkpoint_dir.clear();
  plain.checkpoint_every = 0;
  Job reference(cluster, plain, "ref");
  const auto expected = reference.final_weights();

  Job j(cluster, job, "ckpt");
  // Wait until a checkpoint exists and training has moved past it.
  REQUIRE(eventually(
      [&] {
        auto p = j.shards[0].call(&train::Aggregator::progress).result(5s);
        return p.ok() && p->checkpoints >= 2 && p->version % 10 > 3;
      },
      30s));
  auto info = cluster.lookup(j.shard_names[0]);
  REQUIRE(info.ok());
  REQUIRE(::kill(info->pid, SIGKILL) == 0);
  const auto got = j.final_weights();
  auto p = j.shards[0].call(&train::Aggregator::progress).get(10s);
  MESSAGE("restored from version " << p.restored_version << " of " << job.total_steps);
  CHECK(p.restored_version >= 20);
  CHECK(p.restored_version % 10 == 0);
  const double d = rel_diff(got, expected);
  INFO("relative difference " << d << ", restored from version " << p.restored_version);
  CHECK(d <= 1e-6);
  std::filesystem::remove_all(tmpl);
}

TEST_CASE("gradients pushed one bucket per layer give bit for bit the weights of one push per shard") {
  auto per_layer = small_job(2, 1, 2, 640, 32);  // 10 steps per trainer
  per_layer.bucket_bytes = 0;
  auto whole = per_layer;
  whole.bucket_bytes = int64_t{1} << 30;
  // 784-32-10 on 2 shards: shard 1 gets layer 1 and the top of layer 0 (2 buckets), shard 0 the rest (1).
  REQUIRE(train::grad_buckets(per_layer).size() == 3);
  REQUIRE(train::grad_buckets(whole).size() == 2);
  auto cluster = small_cluster();
  Job a(cluster, per_layer, "layers");
  Job b(cluster, whole, "whole");
  const auto wa = a.final_weights(), wb = b.final_weights();
  INFO("relative difference " << rel_diff(wa, wb));
  CHECK(wa == wb);
  // Every bucket was a push of its own.
  const auto pa = a.shards[1].call(&train::Aggregator::progress).get(10s);
  const auto pb = b.shards[1].call(&train::Aggregator::progress).get(10s);
  CHECK(pa.pushes == 2 * per_layer.trainers * per_layer.total_steps);
  CHECK(pb.pushes == per_layer.trainers * per_layer.total_steps);
  CHECK(pa.duplicates == 0);
  CHECK(pa.stale == 0);
}

TEST_CASE("a malformed gradient bucket gets an error reply and the shard keeps serving") {
  auto job = small_job(1, 1, 1, 640, 32);
  auto cluster = small_cluster();
  auto shard = cluster.spawn<train::Aggregator>({.name = "bucket-shard", .cpus = 0.1}, job, 0);
  const int64_t n = kernels::ParamLayout(train::mlp_spec(job)).num_params();
  auto push = [&](int64_t offset, int64_t count, bool last) {
    train::PushRequest p{0, 900001, 0, 0, 0, 32, 1.0, 3, Tensor::zeros(DType::f32, {count}), -1, offset, last};
    return shard.call(&train::Aggregator::push, p).result(10s);
  };
  auto out = push(n - 10, 20, false);
  REQUIRE_FALSE(out.ok());
  CHECK(out.error().code == Errc::invalid_argument);
  CHECK(out.error().message.find("out of range") != std::string::npos);
  REQUIRE(push(100, 50, false).ok());
  auto overlap = push(120, 50, false);
  REQUIRE_FALSE(overlap.ok());
  CHECK(overlap.error().code == Errc::invalid_argument);
  CHECK(overlap.error().message.find("overlaps the bucket [100, 150)") != std::string::npos);
  // The shard is still there and still assembling the push.
  CHECK(shard.call(&train::Aggregator::progress).get(10s).version == 0);
  REQUIRE(push(0, 100, true).ok());
  auto done = push(150, n - 150, false);
  REQUIRE(done.ok());
  CHECK(done->status == train::PushReply::accepted);
  CHECK(done->version == 1);
}
