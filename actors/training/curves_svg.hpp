#pragma once
// A self-contained SVG picture of training curves: loss (per step, smoothed,
// and per epoch) on the left, accuracy per epoch on the right.
#include <string>
#include <vector>

namespace troupe::train {

/// One named line of (x, y) points.
struct Curve {
  std::string name;
  std::string color;  ///< CSS colour
  std::vector<std::pair<double, double>> points;
};

/// The SVG text of two panels side by side; x is epochs. Thread-safe.
std::string curves_svg(const std::string& title, const std::vector<Curve>& loss, const std::vector<Curve>& accuracy);

}  // namespace troupe::train
