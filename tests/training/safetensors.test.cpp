// The .safetensors file loads in Python (safetensors, else a torch-only
// reader of the same format) with torch.nn.Linear's names, shapes and values,
// and gives the same logits as our forward pass. Skips (77) without torch.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "actors/training/safetensors.hpp"
#include "kernels/mlp.hpp"

using namespace troupe;

TEST_CASE("a saved model loads in python with the right names, shapes and values and gives the same outputs") {
  if (::access("/usr/bin/python3", X_OK) != 0 || std::system("/usr/bin/python3 -c 'import torch' 2>/dev/null") != 0) {
    MESSAGE("skipped: /usr/bin/python3 with torch is not available");
    std::exit(77);
  }
  const auto spec = kernels::MlpSpec::make({6, 5, 3});
  const kernels::ParamLayout layout(spec);
  std::vector<float> params(static_cast<std::size_t>(layout.num_params()));
  for (std::size_t i = 0; i < params.size(); ++i) params[i] = 0.01f * static_cast<float>(i) - 0.2f;
  auto model = kernels::make_mlp(spec, {});
  std::vector<float> x(2 * 6), logits(2 * 3);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = 0.1f * static_cast<float>(i);
  model->forward(params, x.data(), 2, logits.data());

  const auto dir = std::filesystem::temp_directory_path() / ("troupe-st-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = (dir / "m.safetensors").string();
  REQUIRE(train::write_safetensors(path, spec, params, {{"note", "test"}}).ok());

  std::ostringstream py;
  py << "import json, struct, sys, torch\n"
     << "p = sys.argv[1]\n"
     << "try:\n"
     << "    from safetensors.torch import load_file\n"
     << "    t = load_file(p); how = 'safetensors'\n"
     << "except ImportError:\n"
     << "    b = open(p, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8+n]); how = 'torch'\n"
     << "    h.pop('__metadata__', None)\n"
     << "    t = {k: torch.frombuffer(bytearray(b[8+n+v['data_offsets'][0]:8+n+v['data_offsets'][1]]), dtype=torch.float32).reshape(v['shape']) for k, v in h.items()}\n"
     << "assert sorted(t) == ['layers.0.bias', 'layers.0.weight', 'layers.1.bias', 'layers.1.weight'], sorted(t)\n"
     << "assert list(t['layers.0.weight'].shape) == [5, 6] and list(t['layers.1.weight'].shape) == [3, 5]\n"
     << "assert list(t['layers.0.bias'].shape) == [5] and t['layers.0.weight'].dtype == torch.float32\n"
     << "flat = torch.cat([t['layers.0.weight'].flatten(), t['layers.0.bias'], t['layers.1.weight'].flatten(), t['layers.1.bias']])\n"
     << "want = torch.arange(" << params.size() << ", dtype=torch.float64) * 0.01 - 0.2\n"
     << "assert torch.allclose(flat.double(), want, atol=1e-6)\n"
     << "m = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))\n"
     << "m.load_state_dict({'0.weight': t['layers.0.weight'], '0.bias': t['layers.0.bias'], '2.weight': t['layers.1.weight'], '2.bias': t['layers.1.bias']})\n"
     << "x = (torch.arange(12, dtype=torch.float32) * 0.1).reshape(2, 6)\n"
     << "print(how, ' '.join('%.6f' % v for v in m(x).detach().flatten().tolist()))\n";
  std::ofstream(dir / "check.py") << py.str();
  const std::string cmd = "/usr/bin/python3 " + (dir / "check.py").string() + " " + path + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  const int rc = ::pclose(p);
  INFO("python said: " << out);
  REQUIRE(rc == 0);
  std::istringstream in(out);
  std::string how;
  in >> how;
  MESSAGE("loaded with " << how);
  for (float want : logits) {
    double got = 0;
    in >> got;
    CHECK(got == doctest::Approx(want).epsilon(1e-5));
  }
  std::filesystem::remove_all(dir);
}
