#include "actors/training/curves_svg.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

namespace troupe::train {

namespace {
std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.4g", v);
  return b;
}

std::string escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '<') o += "&lt;";
    else if (c == '>') o += "&gt;";
    else if (c == '&') o += "&amp;";
    else o += c;
  }
  return o;
}

/// Round tick values covering [lo, hi]: steps of 1, 2 or 5 times a power of
/// ten, about `want` of them (epochs 0, 2, 4 … rather than 0.01919, 2.514 …).
std::vector<double> ticks(double lo, double hi, int want) {
  const double raw = (hi - lo) / want;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  std::vector<double> out;
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step)
    out.push_back(std::fabs(t) < step * 1e-9 ? 0.0 : t);
  return out;
}

std::string panel(double x0, double y0, double w, double h, const std::string& title, const std::vector<Curve>& curves) {
  double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  for (const auto& c : curves)
    for (auto [x, y] : c.points) {
      if (!std::isfinite(y)) continue;
      xmin = std::min(xmin, x), xmax = std::max(xmax, x), ymin = std::min(ymin, y), ymax = std::max(ymax, y);
    }
  if (!(xmin <= xmax)) xmin = 0, xmax = 1, ymin = 0, ymax = 1;
  if (xmax == xmin) xmax = xmin + 1;
  if (ymax == ymin) ymax = ymin + 1;
  const double pad = (ymax - ymin) * 0.05;
  ymin -= pad, ymax += pad;
  const double L = x0 + 55, R = x0 + w - 10, T = y0 + 30, B = y0 + h - 40;
  auto px = [&](double x) { return L + (x - xmin) / (xmax - xmin) * (R - L); };
  auto py = [&](double y) { return B - (y - ymin) / (ymax - ymin) * (B - T); };
  std::string s;
  s += "<text x='" + num((L + R) / 2) + "' y='" + num(y0 + 18) + "' text-anchor='middle' font-size='14'>" +
       escape(title) + "</text>\n";
  s += "<rect x='" + num(L) + "' y='" + num(T) + "' width='" + num(R - L) + "' height='" + num(B - T) +
       "' fill='none' stroke='#888'/>\n";
  for (double y : ticks(ymin, ymax, 4)) {
    s += "<line x1='" + num(L) + "' x2='" + num(R) + "' y1='" + num(py(y)) + "' y2='" + num(py(y)) +
         "' stroke='#eee'/>\n";
    s += "<text x='" + num(L - 4) + "' y='" + num(py(y) + 4) + "' text-anchor='end' font-size='10'>" + num(y) +
         "</text>\n";
  }
  for (double x : ticks(xmin, xmax, 5))
    s += "<text x='" + num(px(x)) + "' y='" + num(B + 14) + "' text-anchor='middle' font-size='10'>" + num(x) +
         "</text>\n";
  s += "<text x='" + num((L + R) / 2) + "' y='" + num(B + 30) + "' text-anchor='middle' font-size='11'>epoch</text>\n";
  int row = 0;
  for (const auto& c : curves) {
    if (c.points.empty()) continue;
    std::string pts;
    for (auto [x, y] : c.points)
      if (std::isfinite(y)) pts += num(px(x)) + "," + num(py(y)) + " ";
    const bool dots = c.points.size() <= 60;
    s += "<polyline fill='none' stroke='" + c.color + "' stroke-width='" + (dots ? "2" : "1") + "' points='" + pts +
         "'/>\n";
    if (dots)
      for (auto [x, y] : c.points)
        if (std::isfinite(y))
          s += "<circle cx='" + num(px(x)) + "' cy='" + num(py(y)) + "' r='2.5' fill='" + c.color + "'/>\n";
    s += "<text x='" + num(R - 6) + "' y='" + num(T + 14 + 14 * row) + "' text-anchor='end' font-size='11' fill='" +
         c.color + "'>" + escape(c.name) + "</text>\n";
    ++row;
  }
  return s;
}
}  // namespace

std::string curves_svg(const std::string& title, const std::vector<Curve>& loss, const std::vector<Curve>& accuracy) {
  const double W = 900, H = 380;
  std::string s = "<svg xmlns='http://www.w3.org/2000/svg' width='" + num(W) + "' height='" + num(H) +
                  "' font-family='sans-serif'>\n<rect width='100%' height='100%' fill='white'/>\n";
  s += "<text x='" + num(W / 2) + "' y='16' text-anchor='middle' font-size='13' fill='#444'>" + escape(title) +
       "</text>\n";
  // The panels start below the title line, so their titles do not run into it.
  s += panel(0, 24, W / 2, H - 24, "loss", loss);
  s += panel(W / 2, 24, W / 2, H - 24, "accuracy", accuracy);
  return s + "</svg>\n";
}

}  // namespace troupe::train
