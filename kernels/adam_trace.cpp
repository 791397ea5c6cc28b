// Prints a trace of AdamState steps on fixed inputs as JSON, for
// adam_vs_torch.py to replay in torch.optim.Adam and compare. Inputs are
// printed with 9 significant digits, which round-trips every float exactly.
#include <cstdio>
#include <vector>

#include "kernels/adam.hpp"
#include "kernels/testing.hpp"

using namespace troupe::kernels;

namespace {

void print_array(const char* name, const std::vector<float>& v, bool comma = true) {
  std::printf("\"%s\": [", name);
  for (std::size_t k = 0; k < v.size(); ++k) std::printf("%s%.9g", k ? ", " : "", static_cast<double>(v[k]));
  std::printf("]%s\n", comma ? "," : "");
}

}  // namespace

int main() {
  const std::size_t n = 4096;
  const int steps = 20;
  std::printf("{\"configs\": [\n");
  const AdamHyper configs[] = {{1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f}, {3e-2f, 0.8f, 0.99f, 1e-6f, 0.05f}};
  for (std::size_t c = 0; c < 2; ++c) {
    const AdamHyper& h = configs[c];
    std::printf("{\"lr\": %.9g, \"beta1\": %.9g, \"beta2\": %.9g, \"eps\": %.9g, \"weight_decay\": %.9g,\n",
                static_cast<double>(h.lr), static_cast<double>(h.beta1), static_cast<double>(h.beta2),
                static_cast<double>(h.eps), static_cast<double>(h.weight_decay));
    std::vector<float> p = testing::random_floats(n, 500 + c);
    print_array("p0", p);
    AdamState state(0, static_cast<int64_t>(n), h);
    std::printf("\"steps\": [\n");
    for (int t = 1; t <= steps; ++t) {
      // gradients of varied scale, including tiny ones where eps matters
      const float scale = t % 4 == 0 ? 1e-7f : 1.0f;
      std::vector<float> g = testing::random_floats(n, 900 + 37 * c + t);
      for (float& x : g) x *= scale;
      std::printf("{");
      print_array("g", g);
      state.step(p, g);
      print_array("p", p, false);
      std::printf("}%s\n", t < steps ? "," : "");
    }
    std::printf("]}%s\n", c == 0 ? "," : "");
  }
  std::printf("]}\n");
  return 0;
}
