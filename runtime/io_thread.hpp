#pragma once
// The one thread of a process that owns its ZeroMQ sockets (DESIGN §1): the
// inbound ROUTER, one outbound DEALER per peer endpoint, the SUB socket for the
// scheduler's events and, in the scheduler, the PUB socket. Other threads hand
// it work with post(); it wakes on an eventfd polled beside the sockets.
//
// It sleeps in poll(2) on the sockets' ZMQ_FD descriptors rather than in
// zmq_poll: zmq_poll asks every socket for ZMQ_EVENTS before and after
// sleeping (two syscalls per socket and pass, about 30 per message with a
// handful of peers), where the loop only needs to look at the sockets whose
// descriptor fired or that it touched. ZMQ_FD is edge-like: any operation on
// a socket (a send too) may consume the notification of input already
// queued, so a socket that was sent on is read until EAGAIN before the thread
// sleeps again.
//
// Owning the sockets is a mutex (own_) rather than a thread id: the I/O thread
// holds it except while it sleeps in poll(2). Meanwhile another thread with
// one send to make (a caller submitting, the executor replying) may take it
// with try_run() and send itself instead of waking the I/O thread: on an idle
// machine each wake-up costs about as much as a raw loopback hop, and a call
// crosses four of them. The mutex is the full memory barrier ZeroMQ asks for
// when a socket changes threads. try_run only sends; it leaves the sockets
// as the sleeping thread expects them (ZMQ_EVENTS looked at on each socket it
// touched) and wakes it when there is input, posted work, or its poll set or
// timeout changed.
//
// A thread waiting for a reply (Future::get on a call) also polls the
// sockets' descriptors, beside an eventfd of its own, while the I/O thread
// sleeps (drive()): when the reply arrives, whichever of the two gets own_
// first receives and handles the input; the waiter is then woken by the
// reply itself instead of by the I/O thread, or by its eventfd when the I/O
// thread got there first. So futures are completed, and their callbacks run,
// on the I/O thread or on a thread that waits on a call's future; request
// and event handlers likewise; none of them may block. Methods still run on
// the executor only, and posted work and timers on the I/O thread only.
//
// Liveness of outbound peers (runtime/io_peers.cpp, docs/FAULTS.md "Fail
// fast"): every DEALER sends ZeroMQ heartbeats and has a monitor that says
// when its connection is up. A peer is lost when its connection closes (the
// process died: the kernel closes it at once; or it missed heartbeats: within
// 2 x heartbeat), or when it has not come up within 2 x heartbeat of a send.
// A lost peer's DEALER is closed with whatever it still queued, so a message
// whose call was failed never goes out later, and on_peer_lost is told.
//
// Security (runtime/security.hpp, docs/SECURITY.md): with Options::keys every
// socket it binds is a PLAIN (loopback) or CURVE server checked by a ZAP
// handler of its own context, created before the first bind, and every
// socket it connects is a client of the matching mechanism; a DEALER whose
// handshake the peer refuses is lost at once. Without keys it refuses to
// bind anything but loopback addresses.
//
// Sealed data plane (runtime/io_sealed.cpp, docs/SECURITY.md "Sealed data
// plane"): libzmq's CURVE moves bulk data at about 0.3 GB/s, so between
// hosts CURVE only carries the set-up of a session. A server whose ROUTER
// speaks CURVE binds a second, NULL-mechanism ROUTER (the bulk socket) on the
// same host. A DEALER to a CURVE endpoint asks for a session over CURVE as
// its first message and holds what it is given to send until the answer (a
// fresh random key, a session id, the AEAD and the bulk port) arrives; from
// then on every message of that DEALER and every reply to it goes sealed
// (runtime/sealed_channel.hpp) over a second DEALER to the bulk port, so one
// conversation never spans two sockets and its order is kept. A bulk
// message that does not open (unknown session, failed tag, replayed
// counter) is dropped and counted (IoStats::sealed_rejected), never handed
// on. Loopback (PLAIN) and NULL peers are untouched.
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <poll.h>

#include <zmq.hpp>

#include "runtime/codec.hpp"
#include "runtime/keys.hpp"
#include "runtime/mpsc_queue.hpp"
#include "runtime/sealed_channel.hpp"
#include "runtime/zap.hpp"

namespace troupe {

/// Counters of the I/O thread; read with relaxed loads from any thread.
struct IoStats {
  std::atomic<uint64_t> messages_in{0};
  std::atomic<uint64_t> messages_out{0};
  std::atomic<uint64_t> bytes_in{0};
  std::atomic<uint64_t> bytes_out{0};
  std::atomic<uint64_t> send_failures{0};  ///< high-water mark reached or peer gone
  std::atomic<uint64_t> sealed_out{0};       ///< messages sent sealed on a bulk socket
  std::atomic<uint64_t> sealed_in{0};        ///< sealed messages opened and handed on
  std::atomic<uint64_t> sealed_rejected{0};  ///< bulk messages dropped: unknown session, tampered, replayed
  std::atomic<uint64_t> sessions_opened{0};  ///< data-plane sessions granted (server) or set up (client)
};

class IoThread : public std::enable_shared_from_this<IoThread> {
 public:
  struct Options {
    std::string bind;          ///< ROUTER endpoint to bind, e.g. "tcp://127.0.0.1:*"; empty = none
    std::string publish_bind;  ///< PUB endpoint to bind; empty = none
    int send_hwm = 100000;     ///< messages queued per peer before sends fail
    int recv_hwm = 100000;
    int64_t max_frame_bytes = -1;  ///< ZMQ_MAXMSGSIZE on the ROUTER; -1 = unlimited
    /// Liveness of outbound connections (DEALERs and the SUB): a ZMTP PING
    /// every heartbeat/2, the connection closed when nothing arrives within
    /// 3/2 heartbeat of one, so a silent peer is noticed within 2 x heartbeat;
    /// a DEALER not connected within 2 x heartbeat of a send is lost too.
    /// Zero: no heartbeats and no connect deadline (only closed connections).
    std::chrono::milliseconds heartbeat{500};
    /// The cluster's keys (runtime/keys.hpp); null: no authentication, and
    /// only loopback binds are allowed.
    KeysPtr keys;
    /// Ask CURVE servers for a sealed data-plane session (docs/SECURITY.md,
    /// "Sealed data plane"). Opt-in for now, from $TROUPE_SEALED=1: with it
    /// on, the network-partition test failed 2 of 4 runs (a cut-off copy not
    /// stopped, a call not reaching the restarted actor after the link came
    /// back), so until that is understood a connection between hosts stays
    /// on CURVE (encrypted, slower) unless asked. Servers always grant sessions.
    bool sealed = sealed_plane_requested();
  };
  /// Inbound message on the ROUTER: the routing identity and the frames after it.
  using RequestHandler = std::function<void(std::string routing, Frames&& frames)>;
  /// Inbound message on a DEALER (a reply from `endpoint`).
  using ReplyHandler = std::function<void(const std::string& endpoint, Frames&& frames)>;
  /// Inbound message on the SUB socket.
  using EventHandler = std::function<void(Frames&& frames)>;
  /// The DEALER to `endpoint` was lost (see the top of this file); `why` says
  /// how, as the end of a sentence ("closed its connection"). Runs on the
  /// I/O thread only, after the DEALER is closed; a send to `endpoint` from
  /// it opens a new one.
  using PeerLostHandler = std::function<void(const std::string& endpoint, const std::string& why)>;

  /// Binds the sockets (so endpoint() is known) but does not start the thread.
  /// Throws troupe::Exception(io_error) when a bind fails.
  IoThread(std::shared_ptr<zmq::context_t> context, Options options);
  ~IoThread();
  IoThread(const IoThread&) = delete;
  IoThread& operator=(const IoThread&) = delete;

  /// Set before start(); the handlers run on the I/O thread and must not block.
  void on_request(RequestHandler h) { on_request_ = std::move(h); }
  void on_reply(ReplyHandler h) { on_reply_ = std::move(h); }
  void on_event(EventHandler h) { on_event_ = std::move(h); }
  void on_peer_lost(PeerLostHandler h) { on_peer_lost_ = std::move(h); }
  void start();
  /// Stops and joins the thread; pending posted work is dropped. Idempotent.
  void stop();

  /// Runs fn now on the calling thread and returns true when no other thread
  /// is using the sockets and no posted work is waiting (so the order of
  /// submission is kept); else returns false without calling fn (post it
  /// then). fn may use the I/O-thread-only functions below and must not
  /// block. Thread-safe.
  template <class F>
  bool try_run(F&& fn) {
    if (current_ == this) {
      fn();
      return true;
    }
    // Nested inside another IoThread's try_run (several runtimes in one
    // process): that one is current again afterwards.
    const IoThread* outer = current_;
    if (!enter()) return false;
    struct Leave {
      IoThread* io;
      const IoThread* outer;
      ~Leave() { io->leave(outer); }
    } leave{this, outer};
    fn();
    return true;
  }

  /// Waits until arm(fd) returns true (see SharedState::driver) or `deadline`,
  /// receiving and handling input on this thread while the I/O thread sleeps:
  /// the waiter of a reply is woken by the reply itself rather than by the
  /// I/O thread. False on timeout, or at once on the I/O thread; with `io`
  /// gone or stopped it waits on its eventfd alone (the completing side writes
  /// it). Holds `io` only while polling its sockets; stop() wakes those. Thread-safe.
  static bool drive(const std::weak_ptr<IoThread>& io, std::chrono::steady_clock::time_point deadline,
                    const std::function<bool(int)>& arm);

  /// The bound ROUTER endpoint with its real port ("tcp://127.0.0.1:40123").
  [[nodiscard]] const std::string& endpoint() const { return endpoint_; }
  [[nodiscard]] const std::string& publish_endpoint() const { return publish_endpoint_; }
  /// The bulk ROUTER's endpoint ("" when the ROUTER does not speak CURVE).
  [[nodiscard]] const std::string& bulk_endpoint() const { return bulk_endpoint_; }
  [[nodiscard]] const IoStats& stats() const { return stats_; }
  /// Connections its ZAP handler refused (0 without keys or binds). Thread-safe.
  [[nodiscard]] uint64_t refused_connections() const { return zap_ ? zap_->refused() : 0; }
  /// True on the I/O thread, and inside try_run(): where the I/O-thread-only functions may be called.
  [[nodiscard]] bool in_io_thread() const { return current_ == this; }

  /// Runs fn on the I/O thread. Thread-safe.
  void post(std::function<void()> fn);
  /// Runs fn on the I/O thread after `delay`. Thread-safe.
  void post_after(std::chrono::milliseconds delay, std::function<void()> fn);

  // ---- I/O thread only (inside handlers or posted functions) ----
  /// Sends on the DEALER connected to `endpoint` (created on first use, and
  /// again after the peer was lost). False when the message could not be
  /// queued (high-water mark).
  bool send_to(const std::string& endpoint, Frames& frames);
  /// Sends on the ROUTER to the peer with `routing`; false when it is gone.
  bool reply_to(const std::string& routing, Frames& frames);
  /// Publishes on the PUB socket.
  bool publish(Frames& frames);
  /// Connects the SUB socket to a publisher (subscribes to everything).
  void subscribe(const std::string& endpoint);
  /// Closes the DEALER to `endpoint`, dropping what it still queued.
  void drop_peer(const std::string& endpoint);
  /// Calls fn (on this thread) each time fd is readable, until unwatch_fd.
  void watch_fd(int fd, std::function<void()> fn);
  void unwatch_fd(int fd);

 private:
  struct Timer {
    std::chrono::steady_clock::time_point due;
    uint64_t seq;
    std::function<void()> fn;
  };
  /// A socket the thread receives on, with its ZMQ_FD and whether it may hold
  /// input that its descriptor will not announce (fired, sent on, or left at
  /// the batch limit).
  struct Inbound {
    std::unique_ptr<zmq::socket_t> socket;
    int fd = -1;
    bool check = false;
    explicit operator bool() const { return socket != nullptr; }
  };
  /// An outbound DEALER and the monitor socket that reports its connection's
  /// handshakes and disconnections (runtime/io_peers.cpp).
  struct Peer {
    Inbound dealer;
    Inbound monitor;           // PAIR; none for inproc:// (no connection to lose)
    bool up = false;           // handshake done, not closed since
    bool deadline_armed = false;  // a connect deadline timer is pending
    uint64_t seq = 0;          // tells this DEALER from a later one to the same endpoint
    // The sealed data plane (CURVE endpoints only; see the top of this file).
    enum class Seal : uint8_t { off, pending, on } seal = Seal::off;
    std::vector<Frames> held;               // given to send while the session was pending
    std::unique_ptr<SealedChannel> channel;  // on: the session
    Inbound bulk;                           // on: the DEALER to the bulk port (NULL mechanism)
    Inbound bulk_monitor;                   // on: its connection's events
    bool bulk_up = false;
  };
  /// A session this process granted as a server (runtime/io_sealed.cpp).
  struct Session {
    std::unique_ptr<SealedChannel> channel;
    std::string bulk_routing;  // the client's bulk DEALER, as the bulk ROUTER knows it now
    uint64_t last_used = 0;    // for evicting the least recently used at the cap
  };
  struct Lost {
    std::string endpoint;
    uint64_t seq;
    std::string why;
  };
  void run();
  bool enter();
  void leave(const IoThread* outer);
  void wake();
  void drain_posted();
  int run_due_timers();  // returns ms until the next timer, or -1
  bool send_frames(zmq::socket_t& s, Frames& frames, const std::string* routing);
  void receive_all(Inbound& in, int kind, const std::string& endpoint);
  Peer& open_peer(const std::string& endpoint);
  /// A PAIR told of `s`'s handshakes and disconnections; call before s connects.
  Inbound open_monitor(zmq::socket_t& s, const std::string& endpoint, const std::string& name);
  void receive_monitor(Peer& peer, const std::string& endpoint, bool bulk);
  // The sealed data plane (runtime/io_sealed.cpp).
  void bind_bulk();
  void request_session(Peer& peer);
  static bool is_session_message(const Frames& frames);
  static bool is_session_routing(const std::string& routing);
  void grant_session(const std::string& routing, const Frames& request);
  void accept_session(const std::string& endpoint, Frames&& reply);
  bool send_sealed(Peer& peer, Frames& frames);
  bool reply_sealed(const std::string& routing, Frames& frames);
  void receive_bulk(std::string routing, Frames&& sealed);
  void receive_bulk_reply(const std::string& endpoint, Frames&& sealed);
  void reject_sealed(const std::string& who, const Error& why);
  void arm_connect_deadline(Peer& peer, const std::string& endpoint);
  void settle_peers();  // closes dropped and lost DEALERs; tells on_peer_lost_ (a safe point only)
  void configure(zmq::socket_t& s) const;           // linger, high-water marks
  void configure_liveness(zmq::socket_t& s) const;  // heartbeats
  bool receive_checked();  // true when some socket still needs a look
  // The sockets' fds; the DEALERs' monitors too when `monitors`.
  void poll_set(std::vector<pollfd>& items, std::vector<Inbound*>& sockets, bool monitors);
  static void set_fd(Inbound& in);

  std::shared_ptr<zmq::context_t> context_;
  Options options_;
  std::unique_ptr<ZapHandler> zap_;  // before the sockets it guards; closed after them
  Inbound router_;
  Inbound bulk_;  // the NULL ROUTER beside a CURVE router_; sealed messages only
  std::string bulk_endpoint_;
  std::map<uint64_t, Session> sessions_;  // granted by this server; I/O thread only
  uint64_t session_clock_ = 0;
  std::set<std::string> reject_logged_;  // peers whose rejected bulk message was logged (bounded)
  std::unique_ptr<zmq::socket_t> pub_;
  Inbound sub_;
  std::map<std::string, Peer> peers_;
  std::vector<std::string> dropped_;
  std::vector<Lost> lost_;  // noticed while reading a monitor; closed at the next safe point
  uint64_t peer_seq_ = 0;
  std::map<int, std::function<void()>> fds_;
  std::string endpoint_;
  std::string publish_endpoint_;
  RequestHandler on_request_;
  ReplyHandler on_reply_;
  EventHandler on_event_;
  PeerLostHandler on_peer_lost_;

  int wake_fd_ = -1;
  MpscQueue posted_;
  std::vector<Timer> timers_;  // a heap ordered by due time; I/O thread only
  uint64_t timer_seq_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> started_{false};
  std::atomic<bool> wake_pending_{false};
  std::mutex own_;  // held by whoever uses the sockets now (see the top of this file)
  std::mutex drivers_mutex_;
  std::vector<int> driver_fds_;  // eventfds of the threads polling the sockets in drive(); stop() writes them
  static inline thread_local const IoThread* current_ = nullptr;  // what this thread owns now
  bool rebuild_ = false;  // the poll set changed (a socket or fd added or removed)
  std::chrono::steady_clock::time_point sleep_due_;  // the first timer when the thread went to sleep
  std::thread thread_;
  IoStats stats_;
};

}  // namespace troupe
