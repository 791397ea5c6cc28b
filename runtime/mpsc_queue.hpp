#pragma once
// A multi-producer, single-consumer queue of tasks without locks: producers
// push onto an atomic stack (one CAS); the consumer takes the whole stack with
// one exchange and reverses it, so tasks run in the order they were pushed.
// Used where a mutex showed up as futex contention under load (the I/O
// thread's posted work, the executor's calls).
#include <atomic>
#include <functional>
#include <utility>

namespace troupe {

/// push() is thread-safe; drain() must be called by one consumer thread only.
class MpscQueue {
 public:
  using Task = std::function<void()>;
  MpscQueue() = default;
  MpscQueue(const MpscQueue&) = delete;
  MpscQueue& operator=(const MpscQueue&) = delete;
  ~MpscQueue() { delete_all(head_.exchange(nullptr)); }

  /// Adds a task. Thread-safe, lock-free.
  void push(Task task) {
    Node* n = new Node{std::move(task), head_.load(std::memory_order_relaxed)};
    while (!head_.compare_exchange_weak(n->next, n, std::memory_order_release, std::memory_order_relaxed)) {
    }
  }
  /// True when nothing is queued (a hint: producers may push right after).
  [[nodiscard]] bool empty() const { return head_.load(std::memory_order_seq_cst) == nullptr; }
  /// Runs fn on every queued task in push order; returns how many. Consumer only.
  template <class F>
  std::size_t drain(F&& fn) {
    Node* stack = head_.exchange(nullptr, std::memory_order_acquire);
    Node* fifo = nullptr;
    while (stack != nullptr) {  // reverse: the stack holds the newest first
      Node* next = stack->next;
      stack->next = fifo;
      fifo = stack;
      stack = next;
    }
    std::size_t n = 0;
    while (fifo != nullptr) {
      Node* next = fifo->next;
      Task t = std::move(fifo->task);
      delete fifo;
      fifo = next;
      ++n;
      fn(t);
    }
    return n;
  }

 private:
  struct Node {
    Task task;
    Node* next;
  };
  static void delete_all(Node* n) {
    while (n != nullptr) {
      Node* next = n->next;
      delete n;
      n = next;
    }
  }
  std::atomic<Node*> head_{nullptr};
};

}  // namespace troupe
