#pragma once
// The files a training job writes into its output directory: steps.jsonl
// (one line per applied step), epochs.jsonl (one per epoch, with the batch
// ledger's account), and at the end best.safetensors, final.safetensors and
// curves.svg. Not thread-safe: the driver's loop owns it.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "actors/training/messages.hpp"
#include "kernels/mlp_spec.hpp"
#include "runtime/codec.hpp"  // msgpack for the Tensors inside messages.hpp
#include "runtime/control.hpp"

namespace troupe::train {

class TrainOutputs {
 public:
  /// Opens (truncates) dir/steps.jsonl and dir/epochs.jsonl.
  explicit TrainOutputs(std::filesystem::path dir);
  /// An applied step; `loss` its mean loss, `smoothed` the running mean kept
  /// for the curve (every `curve_every` versions a point).
  void step(const StepMetric& m, double epoch, double loss, double smoothed, int64_t curve_every);
  /// An epoch's line, flushed with the steps so far.
  void epoch(const JobEpoch& e, const EpochLedger& ledger);
  /// best.safetensors, final.safetensors and curves.svg. io_error on failure.
  Result<void> finish(const std::string& title, const kernels::MlpSpec& spec, const std::vector<float>& best,
                      const std::vector<float>& last);
  [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  std::ofstream steps_, epochs_;
  std::vector<std::pair<double, double>> step_loss_;  // (epoch, smoothed loss)
  std::vector<JobEpoch> rows_;
};

/// One JSON number, "null" when not finite.
std::string json_number(double v);

}  // namespace troupe::train
