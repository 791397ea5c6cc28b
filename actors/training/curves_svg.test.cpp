// curves.svg: round tick values on both axes, and titles that do not overlap.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "actors/training/curves_svg.hpp"

using troupe::train::Curve;
using troupe::train::curves_svg;

namespace {
/// The tick labels of the panel's x axis: text at y = the panel's bottom + 14 (font-size 10, centred).
bool has_label(const std::string& svg, const std::string& text) {
  return svg.find("font-size='10'>" + text + "</text>") != std::string::npos;
}
}  // namespace

TEST_CASE("axes are labelled with round values: epochs 0, 1, 2 … and losses like 0.2, 0.4") {
  // Epoch points as a job reports them (fractions of an epoch), losses in an odd range.
  Curve train{"train loss", "#1f77b4", {}};
  for (int i = 0; i <= 50; ++i) train.points.push_back({0.01919 + i * 0.0998, 0.2913 + 0.5 * std::exp(-i / 10.0)});
  Curve acc{"test accuracy", "#d62728", {{1, 0.8123}, {2, 0.8514}, {3, 0.8632}, {4, 0.8711}, {5, 0.8762}}};
  const std::string svg = curves_svg("a job", {train}, {acc});
  for (const char* x : {"1", "2", "3", "4", "5"}) CHECK(has_label(svg, x));
  CHECK_FALSE(has_label(svg, "0.01919"));
  CHECK_FALSE(has_label(svg, "2.514"));
  CHECK(has_label(svg, "0.4"));   // loss axis: steps of 0.1 or 0.2
  CHECK(has_label(svg, "0.84"));  // accuracy axis (0.81 to 0.88): steps of 0.02
  // The job's title sits above both panel titles.
  const auto title = svg.find(">a job</text>"), loss = svg.find(">loss</text>");
  REQUIRE(title != std::string::npos);
  REQUIRE(loss != std::string::npos);
  auto y_of = [&](std::size_t at) {
    const auto y = svg.rfind(" y='", at);
    return std::stod(svg.substr(y + 4));
  };
  CHECK(y_of(loss) - y_of(title) >= 14);  // at least a line of 13 px apart
}
