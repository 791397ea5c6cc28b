// netns_watch: calls a Tally's `incarnation` (tests/actors) over and over and
// says which incarnation answered when, to show that two incarnations of one
// actor never serve at the same time (issue 12, item 2).
//   netns_watch ADDR NAME SECONDS
// Prints "ready" once a first call was answered, then, at the end, one line
// per incarnation that answered: "incarnation I first_ms F last_ms L answers N"
// (F: when the first call it answered was sent; L: when its last answer came),
// "refused N first_ms F last_ms L" for calls refused for the lease, and
// "stale_answers N": answers from an incarnation older than one that had
// already answered (a replaced incarnation still serving: the target is 0).
// Times are CLOCK_MONOTONIC milliseconds: comparable between watchers on one
// machine, whatever network namespace each runs in.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <map>
#include <string>

#include "runtime/cluster.hpp"
#include "tests/actors/test_actors.hpp"

namespace {
int64_t mono_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
/// When an incarnation served: from the sending of the first call it answered
/// (it served no earlier than that) to the receipt of the last answer (no later).
struct Span {
  int64_t first = -1, last = -1, count = 0;
  void add(int64_t sent, int64_t received) {
    if (first < 0) first = sent;
    last = received;
    ++count;
  }
};
}  // namespace

int main(int argc, char** argv) {
  using namespace std::chrono_literals;
  if (argc != 4) {
    std::fprintf(stderr, "usage: netns_watch ADDR NAME SECONDS\n");
    return 2;
  }
  try {
    auto cluster = troupe::Cluster::connect(argv[1]);
    auto t = cluster.actor<Tally>(argv[2]);
    std::map<unsigned, Span> by_incarnation;
    Span refused;
    bool ready = false;
    int64_t stale = 0;
    unsigned newest = 0;
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(std::atoi(argv[3]));
    while (std::chrono::steady_clock::now() < end) {
      const int64_t sent = mono_ms();
      auto r = t.call(&Tally::incarnation).result(1s);
      if (r.ok()) {
        by_incarnation[r.value()].add(sent, mono_ms());
        if (r.value() < newest) ++stale;
        newest = std::max(newest, r.value());
        if (!ready) {
          std::printf("ready\n");
          std::fflush(stdout);
          ready = true;
        }
      } else if (r.error().message.find("lease") != std::string::npos) {
        refused.add(sent, sent);
      }
    }
    for (const auto& [inc, s] : by_incarnation)
      std::printf("incarnation %u first_ms %lld last_ms %lld answers %lld\n", inc, static_cast<long long>(s.first),
                  static_cast<long long>(s.last), static_cast<long long>(s.count));
    std::printf("refused %lld first_ms %lld last_ms %lld\n", static_cast<long long>(refused.count),
                static_cast<long long>(refused.first), static_cast<long long>(refused.last));
    std::printf("stale_answers %lld\n", static_cast<long long>(stale));
    std::fflush(stdout);
    cluster.shutdown();
    return 0;
  } catch (const troupe::Exception& e) {
    std::fprintf(stderr, "netns_watch: %s\n", e.error().to_string().c_str());
    return 1;
  }
}
