// Every CUDA kernel against its CPU twin (the reference), llm.c style.
// Exits 77 (skip) when no CUDA device is usable.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "kernels/cpu/activation.hpp"
#include "kernels/cpu/adam.hpp"
#include "kernels/cpu/bias.hpp"
#include "kernels/cpu/blas1.hpp"
#include "kernels/cpu/convert.hpp"
#include "kernels/cpu/gemm.hpp"
#include "kernels/cpu/loss.hpp"
#include "kernels/cuda/activation.hpp"
#include "kernels/cuda/adam.hpp"
#include "kernels/cuda/bias.hpp"
#include "kernels/cuda/blas1.hpp"
#include "kernels/cuda/convert.hpp"
#include "kernels/cuda/gemm.hpp"
#include "kernels/cuda/handles.hpp"
#include "kernels/cuda/loss.hpp"
#include "kernels/device.hpp"
#include "kernels/mlp.hpp"
#include "kernels/testing.hpp"

using namespace troupe::kernels;
namespace kc = troupe::kernels::cuda;

namespace {

template <class T>
kc::DeviceBuffer<T> to_device(const std::vector<T>& h, cudaStream_t s) {
  kc::DeviceBuffer<T> d(h.size());
  TROUPE_CUDA_CHECK(cudaMemcpyAsync(d.get(), h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice, s));
  return d;
}

template <class T>
std::vector<T> to_host(const kc::DeviceBuffer<T>& d, cudaStream_t s) {
  std::vector<T> h(d.size());
  TROUPE_CUDA_CHECK(cudaMemcpyAsync(h.data(), d.get(), d.bytes(), cudaMemcpyDeviceToHost, s));
  TROUPE_CUDA_CHECK(cudaStreamSynchronize(s));
  return h;
}

struct Fixture {
  kc::Stream stream;
  kc::CublasHandle cublas{stream.get()};
  cudaStream_t s() const { return stream.get(); }
};

}  // namespace

TEST_CASE("cuda gemm matches the CPU gemm for every transpose in fp32, TF32 and bf16") {
  Fixture f;
  const int64_t shapes[][3] = {{64, 256, 784}, {33, 10, 128}, {256, 784, 64}, {7, 5, 3}};
  uint64_t seed = 1;
  for (const auto& sh : shapes)
    for (Trans ta : {Trans::no, Trans::yes})
      for (Trans tb : {Trans::no, Trans::yes}) {
        const int64_t M = sh[0], N = sh[1], K = sh[2];
        const int64_t lda = ta == Trans::yes ? M : K, ldb = tb == Trans::yes ? K : N;
        auto A = testing::random_floats(M * K, seed++), B = testing::random_floats(K * N, seed++);
        auto C = testing::random_floats(M * N, seed++);
        std::vector<float> ref = C;
        cpu::gemm(ta, tb, M, N, K, 0.5f, A.data(), lda, B.data(), ldb, 0.25f, ref.data(), N);
        auto dA = to_device(A, f.s()), dB = to_device(B, f.s());
        // Tolerances relative to sqrt(K) (rounding grows like sqrt(K) for random signs):
        // fp32 1e-6 * sqrt(K); TF32 (10-bit mantissa) 2e-3 * sqrt(K).
        for (auto math : {kc::GemmMath::fp32, kc::GemmMath::tf32}) {
          auto dC = to_device(C, f.s());
          kc::gemm(f.cublas.get(), ta, tb, M, N, K, 0.5f, dA.get(), lda, dB.get(), ldb, 0.25f, dC.get(), N, math);
          const double tol = (math == kc::GemmMath::fp32 ? 1e-6 : 2e-3) * std::sqrt(static_cast<double>(K));
          CAPTURE(M);
          CAPTURE(N);
          CAPTURE(K);
          CHECK(testing::max_rel_error(to_host(dC, f.s()), ref) <= tol);
        }
        // bf16 inputs: compare with the CPU gemm of the same bf16-rounded inputs.
        std::vector<uint16_t> Ab(A.size()), Bb(B.size());
        cpu::f32_to_bf16(A.data(), Ab.data(), static_cast<int64_t>(A.size()));
        cpu::f32_to_bf16(B.data(), Bb.data(), static_cast<int64_t>(B.size()));
        std::vector<float> Ar(A.size()), Br(B.size());
        cpu::bf16_to_f32(Ab.data(), Ar.data(), static_cast<int64_t>(A.size()));
        cpu::bf16_to_f32(Bb.data(), Br.data(), static_cast<int64_t>(B.size()));
        std::vector<float> ref16 = C;
        cpu::gemm(ta, tb, M, N, K, 0.5f, Ar.data(), lda, Br.data(), ldb, 0.25f, ref16.data(), N);
        auto dAb = to_device(Ab, f.s()), dBb = to_device(Bb, f.s());
        auto dC = to_device(C, f.s());
        kc::gemm_bf16(f.cublas.get(), ta, tb, M, N, K, 0.5f, dAb.get(), lda, dBb.get(), ldb, 0.25f, dC.get(), N);
        CHECK(testing::max_rel_error(to_host(dC, f.s()), ref16) <= 1e-6 * std::sqrt(static_cast<double>(K)));
      }
}

TEST_CASE("cuda bias, activations, losses, axpy and scale match their CPU twins") {
  // Tolerance: 2e-6 relative (floor 1): libm vs CUDA expf/tanhf differ by an ulp or two.
  Fixture f;
  const int64_t n = 97, d = 130, c = 10;
  const auto y0 = testing::random_floats(n * d, 11, -4.0f, 4.0f);
  const auto b = testing::random_floats(d, 12);
  const auto dy = testing::random_floats(n * d, 13);
  for (Activation a : {Activation::identity, Activation::relu, Activation::sigmoid, Activation::tanh}) {
    CAPTURE(activation_name(a));
    std::vector<float> ref = y0;
    cpu::bias_act_forward(ref.data(), b.data(), n, d, a);
    auto dyv = to_device(y0, f.s()), db = to_device(b, f.s());
    kc::bias_act_forward(dyv.get(), db.get(), n, d, a, f.s());
    const auto got = to_host(dyv, f.s());
    CHECK(testing::max_rel_error(got, ref) <= 2e-6);
    std::vector<float> dx_ref(n * d);
    cpu::activation_backward(a, ref.data(), dy.data(), dx_ref.data(), n * d);
    auto dref = to_device(ref, f.s()), ddy = to_device(dy, f.s());
    kc::DeviceBuffer<float> ddx(n * d);
    kc::activation_backward(a, dref.get(), ddy.get(), ddx.get(), n * d, f.s());
    CHECK(testing::max_rel_error(to_host(ddx, f.s()), dx_ref) <= 2e-6);
    std::vector<float> fwd_ref(n * d);
    cpu::activation_forward(a, y0.data(), fwd_ref.data(), n * d);
    auto din = to_device(y0, f.s());
    kc::activation_forward(a, din.get(), din.get(), n * d, f.s());
    CHECK(testing::max_rel_error(to_host(din, f.s()), fwd_ref) <= 2e-6);
  }
  {
    std::vector<float> db_ref(d);
    cpu::bias_backward(db_ref.data(), dy.data(), n, d);
    auto ddy = to_device(dy, f.s());
    kc::DeviceBuffer<float> ddb(d);
    kc::bias_backward(ddb.get(), ddy.get(), n, d, f.s());
    CHECK(testing::max_rel_error(to_host(ddb, f.s()), db_ref) <= 1e-6 * n);
  }
  {
    const auto z = testing::random_floats(n * c, 21, -30.0f, 30.0f);
    const auto labels = testing::random_labels(n, static_cast<int32_t>(c), 22);
    std::vector<float> loss_ref(n), dz_ref(n * c);
    cpu::softmax_ce_forward(z.data(), labels.data(), n, c, loss_ref.data());
    cpu::softmax_ce_backward(z.data(), labels.data(), n, c, 0.3f, dz_ref.data());
    auto dz = to_device(z, f.s());
    auto dl = to_device(labels, f.s());
    kc::DeviceBuffer<float> dloss(n), ddz(n * c);
    kc::DeviceBuffer<int32_t> dcorrect(n);
    kc::softmax_ce_forward(dz.get(), dl.get(), n, c, dloss.get(), f.s());
    kc::softmax_ce_backward(dz.get(), dl.get(), n, c, 0.3f, ddz.get(), f.s());
    kc::count_correct(dz.get(), dl.get(), n, c, dcorrect.get(), f.s());
    CHECK(testing::max_rel_error(to_host(dloss, f.s()), loss_ref) <= 1e-5);
    CHECK(testing::max_rel_error(to_host(ddz, f.s()), dz_ref) <= 1e-5);
    int64_t correct = 0;
    for (int32_t v : to_host(dcorrect, f.s())) correct += v;
    CHECK(correct == cpu::count_correct(z.data(), labels.data(), n, c));

    const auto t = testing::random_floats(n * c, 23, 0.0f, 1.0f);
    std::vector<float> bl_ref(n * c), bd_ref(n * c);
    cpu::bce_logits_forward(z.data(), t.data(), n * c, bl_ref.data());
    cpu::bce_logits_backward(z.data(), t.data(), n * c, 0.7f, bd_ref.data());
    auto dt = to_device(t, f.s());
    kc::DeviceBuffer<float> dbl(n * c), dbd(n * c);
    kc::bce_logits_forward(dz.get(), dt.get(), n * c, dbl.get(), f.s());
    kc::bce_logits_backward(dz.get(), dt.get(), n * c, 0.7f, dbd.get(), f.s());
    CHECK(testing::max_rel_error(to_host(dbl, f.s()), bl_ref) <= 1e-5);
    CHECK(testing::max_rel_error(to_host(dbd, f.s()), bd_ref) <= 1e-5);
  }
  {
    const int64_t m = 300001;
    const auto x = testing::random_floats(m, 31), y = testing::random_floats(m, 32);
    std::vector<float> ref = y;
    cpu::axpy(m, -0.3f, x.data(), ref.data());
    cpu::scale(ref.data(), m, 1.5f);
    auto dx = to_device(x, f.s()), dyv = to_device(y, f.s());
    kc::axpy(m, -0.3f, dx.get(), dyv.get(), f.s());
    kc::scale(dyv.get(), m, 1.5f, f.s());
    CHECK(testing::max_rel_error(to_host(dyv, f.s()), ref) <= 1e-6);
  }
}

TEST_CASE("cuda adam and conversions match their CPU twins") {
  Fixture f;
  const int64_t n = 100003;
  AdamHyper h;
  h.weight_decay = 0.01f;
  std::vector<float> p = testing::random_floats(n, 41), m(n, 0.0f), v(n, 0.0f);
  auto dp = to_device(p, f.s()), dm = to_device(m, f.s()), dv = to_device(v, f.s());
  for (int t = 1; t <= 10; ++t) {
    const auto g = testing::random_floats(n, 50 + t);
    cpu::adam_update(p.data(), g.data(), m.data(), v.data(), n, h, t);
    auto dg = to_device(g, f.s());
    kc::adam_update(dp.get(), dg.get(), dm.get(), dv.get(), n, h, t, f.s());
    TROUPE_CUDA_CHECK(cudaStreamSynchronize(f.s()));
  }
  // Tolerance: 1e-6 relative (floor 1e-3): same operation order, correctly
  // rounded sqrt and division on both sides.
  CHECK(testing::max_rel_error(to_host(dp, f.s()), p, 1e-3) <= 1e-6);
  CHECK(testing::max_rel_error(to_host(dm, f.s()), m, 1e-3) <= 1e-6);

  // conversions: bit-exact
  auto x = testing::random_floats(n, 61, -70000.0f, 70000.0f);
  x[0] = NAN;
  x[1] = INFINITY;
  x[2] = 1e-6f;
  std::vector<uint16_t> h16(n), hb(n);
  cpu::f32_to_f16(x.data(), h16.data(), n);
  cpu::f32_to_bf16(x.data(), hb.data(), n);
  auto dx = to_device(x, f.s());
  kc::DeviceBuffer<uint16_t> d16(n), db16(n);
  kc::f32_to_f16(dx.get(), d16.get(), n, f.s());
  kc::f32_to_bf16(dx.get(), db16.get(), n, f.s());
  CHECK(to_host(d16, f.s()) == h16);
  CHECK(to_host(db16, f.s()) == hb);
  std::vector<uint16_t> all(65536);
  for (uint32_t k = 0; k < 65536; ++k) all[k] = static_cast<uint16_t>(k);
  std::vector<float> f16(65536), fb(65536);
  cpu::f16_to_f32(all.data(), f16.data(), 65536);
  cpu::bf16_to_f32(all.data(), fb.data(), 65536);
  auto dall = to_device(all, f.s());
  kc::DeviceBuffer<float> o16(65536), ob(65536);
  kc::f16_to_f32(dall.get(), o16.get(), 65536, f.s());
  kc::bf16_to_f32(dall.get(), ob.get(), 65536, f.s());
  const auto g16 = to_host(o16, f.s()), gb = to_host(ob, f.s());
  int bad = 0;
  for (int k = 0; k < 65536; ++k) {
    if (!(g16[k] == f16[k] || (std::isnan(g16[k]) && std::isnan(f16[k])))) ++bad;
    if (!(gb[k] == fb[k] || (std::isnan(gb[k]) && std::isnan(fb[k])))) ++bad;
  }
  CHECK(bad == 0);
}

TEST_CASE("the CUDA MLP matches the CPU MLP: loss, accuracy, gradient and the order of ready layers") {
  for (LossKind loss : {LossKind::softmax_ce, LossKind::sigmoid_bce}) {
    const MlpSpec spec = MlpSpec::make({784, 256, 128, 10}, Activation::relu, loss);
    MlpOptions co;
    co.backend = Backend::cuda;
    auto gpu = make_mlp(spec, co);
    REQUIRE(gpu->backend() == Backend::cuda);
    auto cpu_mlp = make_mlp(spec);
    std::vector<float> params(gpu->num_params());
    init_params(spec, params, 3);
    for (int64_t n : {1, 64, 512, 5000}) {
      CAPTURE(n);
      const auto x = testing::random_floats(n * 784, 70 + n, 0.0f, 1.0f);
      const auto labels = testing::random_labels(n, 10, 80 + n);
      std::vector<float> g_cpu(params.size()), g_gpu(params.size());
      std::vector<int64_t> order;
      const auto sc = cpu_mlp->forward_backward(params, x.data(), labels.data(), n, g_cpu);
      const auto sg = gpu->forward_backward(params, x.data(), labels.data(), n, g_gpu,
                                            [&](int64_t off, int64_t) { order.push_back(off); });
      CHECK(std::fabs(sc.loss_sum - sg.loss_sum) <= 1e-5 * std::fabs(sc.loss_sum) + 1e-6);
      CHECK(sc.correct == sg.correct);
      // Tolerance: 1e-4 of the largest gradient entry (different summation orders).
      double gmax = 0;
      for (float g : g_cpu) gmax = std::fmax(gmax, std::fabs(g));
      CHECK(testing::max_rel_error(g_gpu, g_cpu, gmax) <= 1e-4);
      REQUIRE(order.size() == 3);
      CHECK(order[0] == gpu->layout().layer(2).begin());
      CHECK(order[2] == 0);
      const auto ec = cpu_mlp->evaluate(params, x.data(), labels.data(), n);
      const auto eg = gpu->evaluate(params, x.data(), labels.data(), n);
      CHECK(ec.correct == eg.correct);
      CHECK(std::fabs(ec.loss_sum - eg.loss_sum) <= 1e-5 * std::fabs(ec.loss_sum) + 1e-6);
    }
  }
}

int main(int argc, char** argv) {
  if (!cuda_usable()) {
    std::printf("skip: no usable CUDA device (%s)\n", cuda_unusable_reason().c_str());
    return 77;
  }
  doctest::Context ctx(argc, argv);
  return ctx.run();
}
