#include "actors/training/train_outputs.hpp"

#include <cmath>
#include <cstdio>

#include "actors/training/curves_svg.hpp"
#include "actors/training/safetensors.hpp"

namespace troupe::train {

std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char b[40];
  std::snprintf(b, sizeof b, "%.9g", v);
  return b;
}

TrainOutputs::TrainOutputs(std::filesystem::path dir)
    : dir_(std::move(dir)), steps_(dir_ / "steps.jsonl"), epochs_(dir_ / "epochs.jsonl") {}

void TrainOutputs::step(const StepMetric& m, double epoch, double loss, double smoothed, int64_t curve_every) {
  steps_ << "{\"version\":" << m.version << ",\"epoch\":" << json_number(epoch)
         << ",\"time_s\":" << json_number(static_cast<double>(m.time_us) * 1e-6) << ",\"samples\":" << m.samples
         << ",\"loss\":" << json_number(loss) << ",\"accuracy\":"
         << json_number(m.samples ? static_cast<double>(m.correct) / static_cast<double>(m.samples) : NAN)
         << ",\"apply_us\":" << m.apply_us << ",\"contributors\":" << m.contributors.size() / 3 << "}\n";
  if (m.version % std::max<int64_t>(1, curve_every) == 0) step_loss_.emplace_back(epoch, smoothed);
}

void TrainOutputs::epoch(const JobEpoch& e, const EpochLedger& l) {
  rows_.push_back(e);
  epochs_ << "{\"epoch\":" << e.epoch << ",\"train_loss\":" << json_number(e.train_loss)
          << ",\"train_accuracy\":" << json_number(e.train_accuracy) << ",\"val_loss\":" << json_number(e.val_loss)
          << ",\"val_accuracy\":" << json_number(e.val_accuracy) << ",\"test_loss\":" << json_number(e.test_loss)
          << ",\"test_accuracy\":" << json_number(e.test_accuracy) << ",\"seconds\":" << json_number(e.seconds)
          << ",\"samples_per_s\":" << json_number(e.samples_per_s) << ",\"best\":" << (e.best ? "true" : "false")
          << ",\"samples_expected\":" << l.samples_expected << ",\"samples_trained\":" << l.samples_trained
          << ",\"samples_duplicated\":" << l.samples_duplicated << ",\"samples_skipped\":" << l.samples_skipped()
          << ",\"batches_redone\":" << l.batches_redone << ",\"batches_stolen\":" << l.batches_stolen
          << ",\"version\":" << e.version << "}\n";
  epochs_.flush();
  steps_.flush();
}

Result<void> TrainOutputs::finish(const std::string& title, const kernels::MlpSpec& spec,
                                  const std::vector<float>& best, const std::vector<float>& last) {
  steps_.flush();
  epochs_.flush();
  const std::map<std::string, std::string> meta{{"model", spec.to_string()}, {"producer", "troupe train"}};
  if (auto r = write_safetensors((dir_ / "best.safetensors").string(), spec, best, meta); !r.ok()) return r;
  if (auto r = write_safetensors((dir_ / "final.safetensors").string(), spec, last, meta); !r.ok()) return r;
  std::vector<Curve> loss{{"train loss (steps, smoothed)", "#9ab", step_loss_}, {"train loss", "#1f77b4", {}},
                          {"validation loss", "#ff7f0e", {}}, {"test loss", "#2ca02c", {}}};
  std::vector<Curve> acc{{"train accuracy", "#1f77b4", {}}, {"validation accuracy", "#ff7f0e", {}},
                         {"test accuracy", "#2ca02c", {}}};
  for (const auto& r : rows_) {
    const double x = static_cast<double>(r.epoch);
    if (std::isfinite(r.train_loss)) loss[1].points.emplace_back(x, r.train_loss);
    if (std::isfinite(r.val_loss)) loss[2].points.emplace_back(x, r.val_loss);
    if (std::isfinite(r.test_loss)) loss[3].points.emplace_back(x, r.test_loss);
    if (std::isfinite(r.train_accuracy)) acc[0].points.emplace_back(x, r.train_accuracy);
    if (std::isfinite(r.val_accuracy)) acc[1].points.emplace_back(x, r.val_accuracy);
    if (std::isfinite(r.test_accuracy)) acc[2].points.emplace_back(x, r.test_accuracy);
  }
  std::ofstream svg(dir_ / "curves.svg");
  svg << curves_svg(title, loss, acc);
  if (!svg) return Error(Errc::io_error, "cannot write " + (dir_ / "curves.svg").string());
  return {};
}

}  // namespace troupe::train
