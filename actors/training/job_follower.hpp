#pragma once
// Following a running job from the scheduler's job reports, wherever its
// driver runs (`troupe train --attach NAME`, as `ray job logs --follow`): the
// progress of the current epoch, each epoch's results (those reported before
// following began too, up to the scheduler's last 1000), and at the end the
// driver's summary (final accuracy, files written) or why it failed.
#include <chrono>
#include <functional>
#include <string>

#include "actors/training/train_console.hpp"
#include "runtime/cluster.hpp"

namespace troupe::train {

/// Follows job `name` until it ends (returns it as it ended) or `stop`
/// returns true (returns it as last seen, still RUNNING). Asks the scheduler
/// every `poll`. Errors: not_found (no such job), connection_lost (the
/// scheduler did not answer for 30 s). Blocks; `out` is called from the
/// calling thread only. Following does not change the job: stopping to
/// follow leaves it running.
Result<JobInfo> follow_train_job(const Cluster& cluster, const std::string& name, TrainObserver& out,
                                 const std::function<bool()>& stop,
                                 std::chrono::milliseconds poll = std::chrono::milliseconds(250));

}  // namespace troupe::train
