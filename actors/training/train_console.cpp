#include "actors/training/train_console.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace troupe::train {

std::string format_epoch(const JobEpoch& e, int64_t epochs_total) {
  char b[512];
  std::string s;
  std::snprintf(b, sizeof b, "epoch %lld/%lld: train loss %.4f acc %.4f", static_cast<long long>(e.epoch),
                static_cast<long long>(epochs_total), e.train_loss, e.train_accuracy);
  s += b;
  if (std::isfinite(e.val_loss)) {
    std::snprintf(b, sizeof b, " | val loss %.4f acc %.4f", e.val_loss, e.val_accuracy);
    s += b;
  }
  if (std::isfinite(e.test_loss)) {
    std::snprintf(b, sizeof b, " | test loss %.4f acc %.4f", e.test_loss, e.test_accuracy);
    s += b;
  }
  std::snprintf(b, sizeof b, " | %.1f s, %.0f samples/s | best %s %.4f (epoch %lld)", e.seconds, e.samples_per_s,
                e.best_metric.c_str(), e.best_value, static_cast<long long>(e.best_epoch));
  return s + b;
}

TrainConsole::TrainConsole(const std::string& progress) {
  tty_ = progress == "bar" || (progress == "auto" && ::isatty(STDOUT_FILENO));
  off_ = progress == "none";
}

void TrainConsole::on_progress(const TrainProgress& p) {
  if (off_) return;
  const double frac =
      p.steps > 0 ? std::clamp(static_cast<double>(p.step) / static_cast<double>(p.steps), 0.0, 1.0) : 0;
  if (tty_) {
    const int width = 30, full = static_cast<int>(frac * width);
    std::string bar(static_cast<std::size_t>(full), '#');
    bar.resize(width, '.');
    std::printf("\repoch %lld/%lld [%s] %lld/%lld  %.0f steps/s  %.0f samples/s  loss %.4f\x1b[K",
                static_cast<long long>(p.epoch), static_cast<long long>(p.epochs_total), bar.c_str(),
                static_cast<long long>(p.step), static_cast<long long>(p.steps), p.steps_per_s, p.samples_per_s,
                p.loss);
    std::fflush(stdout);
    dirty_ = true;
  } else if (std::chrono::steady_clock::now() - last_ >= std::chrono::seconds(5)) {
    last_ = std::chrono::steady_clock::now();
    std::printf("epoch %lld/%lld: %lld/%lld steps (%.0f%%), %.0f steps/s, %.0f samples/s, loss %.4f\n",
                static_cast<long long>(p.epoch), static_cast<long long>(p.epochs_total),
                static_cast<long long>(p.step), static_cast<long long>(p.steps), 100 * frac, p.steps_per_s,
                p.samples_per_s, p.loss);
    std::fflush(stdout);
  }
}

void TrainConsole::on_epoch(const JobEpoch& e, int64_t epochs_total) { on_line(format_epoch(e, epochs_total)); }

void TrainConsole::on_line(const std::string& line) {
  clear();
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

void TrainConsole::on_error(const std::string& line) {
  clear();
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

void TrainConsole::clear() {
  if (dirty_) std::printf("\r\x1b[K");
  dirty_ = false;
}

}  // namespace troupe::train
