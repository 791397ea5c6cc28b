#include "tools/troupe/shell.hpp"

#include <readline/history.h>
#include <readline/readline.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <iostream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "scheduler/prometheus.hpp"
#include "scheduler/state_json.hpp"
#include "tools/troupe/inspector.hpp"
#include "tools/troupe/render.hpp"

namespace troupe::cli {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using Args = std::vector<std::string>;

/// Set by SIGINT: stops `watch` and `logs -f`; at the prompt it clears the line.
std::atomic<bool> g_interrupted{false};
void on_sigint(int) { g_interrupted = true; }

/// What Tab offers after a command's name.
enum class Complete { nothing, command, actor, node, filter, logs };

struct CommandInfo {
  const char* name;
  const char* usage;
  const char* help;
  Complete complete;
};

constexpr CommandInfo kCommands[] = {
    {"status", "status", "nodes, resources used/total, actors by state, running jobs", Complete::nothing},
    {"nodes", "nodes", "every node with its resources", Complete::nothing},
    {"node", "node ID|HOST", "one node in detail with its actors", Complete::node},
    {"actors", "actors [KEY=VALUE|KEY!=VALUE ...]", "actors, filtered by any field (state=ALIVE, class=Counter, node=2)",
     Complete::filter},
    {"actor", "actor NAME|ID", "one actor: state, node, pid, incarnation, restarts, deaths, calls, queue",
     Complete::actor},
    {"events", "events [N]", "the last N (default 20) state changes", Complete::nothing},
    {"watch", "watch [SECONDS]", "live state changes until Ctrl-C (or for SECONDS)", Complete::nothing},
    {"logs", "logs NAME|ID [-n N] [-f]", "the last N (default 50) lines of an actor's output; -f follows it",
     Complete::logs},
    {"kill", "kill NAME|ID", "kill an actor for good (DEAD, no restart)", Complete::actor},
    {"restart", "restart NAME|ID", "kill an actor's process and let it restart (incarnation + 1)", Complete::actor},
    {"train", "train", "per training job: epoch, step, loss, accuracy, samples/s, trainers", Complete::nothing},
    {"metrics", "metrics [--prom]", "calls, queue depth and bytes per actor (--prom: the /metrics text)",
     Complete::nothing},
    {"connect", "connect ADDR", "switch to another scheduler", Complete::nothing},
    {"help", "help [COMMAND]", "this list", Complete::command},
    {"quit", "quit", "leave (also exit, Ctrl-D)", Complete::nothing},
};

const CommandInfo* find_command(const std::string& name) {
  for (const auto& c : kCommands)
    if (name == c.name) return &c;
  if (name == "exit") return find_command("quit");
  return nullptr;
}

/// Words of a line; "double quotes" keep spaces.
Args split_words(const std::string& line) {
  Args out;
  std::string cur;
  bool quoted = false, have = false;
  for (char c : line) {
    if (c == '"') {
      quoted = !quoted;
      have = true;
    } else if (!quoted && std::isspace(static_cast<unsigned char>(c))) {
      if (have) out.push_back(cur);
      cur.clear();
      have = false;
    } else {
      cur += c;
      have = true;
    }
  }
  if (have) out.push_back(cur);
  return out;
}

std::string one_line(std::string s) {
  for (auto& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

Result<long> parse_count(const std::string& what, const std::string& s, long min, long max) {
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || errno != 0 || v < min || v > max)
    return Error(Errc::invalid_argument, "bad " + what + " '" + s + "': expected a number from " +
                                             std::to_string(min) + " to " + std::to_string(max));
  return v;
}

void out(const std::string& s) {
  std::fputs(s.c_str(), stdout);
  std::fflush(stdout);
}

class Shell {
 public:
  Shell(ShellOptions options, bool interactive) : options_(std::move(options)), interactive_(interactive) {}

  int run();
  /// Runs one line; false when it asks to quit. Errors are printed here.
  bool execute(const std::string& line);
  /// Tab candidates for `word`, the words before it being `before`.
  std::vector<std::string> candidates(const Args& before, const std::string& word);

 private:
  Result<void> dispatch(const Args& a, bool& quit);
  Result<void> cmd_status();
  Result<void> cmd_nodes();
  Result<void> cmd_node(const Args& a);
  Result<void> cmd_actors(const Args& a);
  Result<void> cmd_actor(const Args& a);
  Result<void> cmd_events(const Args& a);
  Result<void> cmd_watch(const Args& a);
  Result<void> cmd_logs(const Args& a);
  Result<void> cmd_kill(const Args& a, bool restart);
  Result<void> cmd_train();
  Result<void> cmd_metrics(const Args& a);
  Result<void> cmd_connect(const Args& a);
  void cmd_help(const Args& a);

  Result<Inspector*> inspector();
  Result<Json> state_json();
  void error(const Error& e);
  void banner();

  ShellOptions options_;
  bool interactive_;
  bool failed_ = false;
  std::unique_ptr<Inspector> in_;
  Error open_error_;

  // watch: events from the I/O thread.
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> events_;
  std::atomic<bool> watching_{false};

  // Tab completion: the state, fetched at most once a second.
  Json cached_;
  Clock::time_point cached_at_{};
};

Shell* g_shell = nullptr;

Result<Inspector*> Shell::inspector() {
  if (!in_) {
    auto r = Inspector::open(options_.address, options_.timeout);
    if (!r.ok()) return r.error();
    in_ = std::move(r.value());
  }
  return in_.get();
}

Result<Json> Shell::state_json() {
  auto in = inspector();
  if (!in.ok()) return in.error();
  auto s = (*in)->state();
  if (!s.ok()) return s.error();
  return to_json(s.value());
}

void Shell::error(const Error& e) {
  failed_ = true;
  std::fflush(stdout);
  std::fprintf(stderr, "error: %s\n", one_line(e.to_string()).c_str());
  std::fflush(stderr);
}

void Shell::banner() {
  out("troupe shell: scheduler " + options_.address + "\n");
  auto s = state_json();
  if (!s.ok())
    error(s.error());
  else
    out(std::to_string((*s)["nodes"].size()) + " node(s), " + std::to_string((*s)["actors"].size()) +
        " actor(s). Type 'help' for the commands; Tab completes; Ctrl-D quits.\n");
}

bool Shell::execute(const std::string& line) {
  Args a = split_words(line);
  if (a.empty() || a[0][0] == '#') return true;
  bool quit = false;
  auto r = dispatch(a, quit);
  if (!r.ok()) error(r.error());
  return !quit;
}

Result<void> Shell::dispatch(const Args& a, bool& quit) {
  const CommandInfo* c = find_command(a[0]);
  if (c == nullptr) return Error(Errc::invalid_argument, "unknown command '" + a[0] + "' (type 'help')");
  const std::string name = c->name;
  auto arity = [&](std::size_t min, std::size_t max) -> Result<void> {
    if (a.size() - 1 < min || a.size() - 1 > max)
      return Error(Errc::invalid_argument, "usage: " + std::string(c->usage));
    return {};
  };
  if (name == "quit") {
    quit = true;
    return {};
  }
  if (name == "help") {
    cmd_help(a);
    return {};
  }
  if (name == "status") {
    if (auto r = arity(0, 0); !r.ok()) return r;
    return cmd_status();
  }
  if (name == "nodes") {
    if (auto r = arity(0, 0); !r.ok()) return r;
    return cmd_nodes();
  }
  if (name == "node") {
    if (auto r = arity(1, 1); !r.ok()) return r;
    return cmd_node(a);
  }
  if (name == "actors") return cmd_actors(a);
  if (name == "actor") {
    if (auto r = arity(1, 1); !r.ok()) return r;
    return cmd_actor(a);
  }
  if (name == "events") {
    if (auto r = arity(0, 1); !r.ok()) return r;
    return cmd_events(a);
  }
  if (name == "watch") {
    if (auto r = arity(0, 1); !r.ok()) return r;
    return cmd_watch(a);
  }
  if (name == "logs") return cmd_logs(a);
  if (name == "kill" || name == "restart") {
    if (auto r = arity(1, 1); !r.ok()) return r;
    return cmd_kill(a, name == "restart");
  }
  if (name == "train") {
    if (auto r = arity(0, 0); !r.ok()) return r;
    return cmd_train();
  }
  if (name == "metrics") {
    if (auto r = arity(0, 1); !r.ok()) return r;
    return cmd_metrics(a);
  }
  if (name == "connect") {
    if (auto r = arity(1, 1); !r.ok()) return r;
    return cmd_connect(a);
  }
  return Error(Errc::invalid_argument, "unknown command '" + a[0] + "'");
}

void Shell::cmd_help(const Args& a) {
  if (a.size() > 1) {
    const CommandInfo* c = find_command(a[1]);
    if (c == nullptr) return error(Error(Errc::invalid_argument, "no command '" + a[1] + "' (type 'help')"));
    out(std::string(c->usage) + "\n  " + c->help + "\n");
    return;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : kCommands) rows.push_back({"  " + std::string(c.usage), c.help});
  out("commands (scheduler " + options_.address + "):\n" + render_table(rows));
}

Result<void> Shell::cmd_status() {
  auto s = state_json();
  if (!s.ok()) return s.error();
  out(render_status(*s, options_.address));
  return {};
}

Result<void> Shell::cmd_nodes() {
  auto s = state_json();
  if (!s.ok()) return s.error();
  out(render_nodes((*s)["nodes"]));
  return {};
}

Result<void> Shell::cmd_node(const Args& a) {
  auto s = state_json();
  if (!s.ok()) return s.error();
  bool found = false;
  for (const auto& n : (*s)["nodes"])
    if (n["id"].dump() == a[1] || n.value("host", "") == a[1]) {
      if (found) out("\n");
      out(render_node(n, *s));
      found = true;
    }
  if (!found) return Error(Errc::not_found, "no node '" + a[1] + "'");
  return {};
}

Result<void> Shell::cmd_actors(const Args& a) {
  auto s = state_json();
  if (!s.ok()) return s.error();
  auto rows = filter_rows((*s)["actors"], Args(a.begin() + 1, a.end()));
  if (!rows.ok()) return rows.error();
  out(render_actors(*rows));
  return {};
}

Result<void> Shell::cmd_actor(const Args& a) {
  auto in = inspector();
  if (!in.ok()) return in.error();
  auto info = (*in)->resolve(a[1]);
  if (!info.ok()) return info.error();
  auto s = (*in)->state();
  if (!s.ok()) return s.error();
  Json stats;
  std::string why;
  auto st = (*in)->stats(*info);
  if (st.ok())
    stats = to_json(*st);
  else
    why = st.error().code == Errc::unavailable ? st.error().message : one_line(st.error().to_string());
  out(render_actor(to_json(*info), stats, why, to_json(*s)));
  return {};
}

Result<void> Shell::cmd_events(const Args& a) {
  long n = 20;
  if (a.size() > 1) {
    auto v = parse_count("event count", a[1], 1, 100000);
    if (!v.ok()) return v.error();
    n = *v;
  }
  auto s = state_json();
  if (!s.ok()) return s.error();
  out(render_events((*s)["events"], static_cast<std::size_t>(n)));
  return {};
}

Result<void> Shell::cmd_watch(const Args& a) {
  long seconds = 0;
  if (a.size() > 1) {
    auto v = parse_count("duration", a[1], 1, 86400);
    if (!v.ok()) return v.error();
    seconds = *v;
  }
  auto in = inspector();
  if (!in.ok()) return in.error();
  auto sub = (*in)->follow_events([this](const Event& e) {
    if (!watching_) return;
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(e);
    cv_.notify_one();
  });
  if (!sub.ok()) return sub.error();
  auto s = (*in)->state();
  if (!s.ok()) return s.error();
  uint64_t last = s->events.empty() ? 0 : s->events.back().seq;
  {
    std::lock_guard<std::mutex> lock(mu_);
    events_.clear();
  }
  g_interrupted = false;
  watching_ = true;
  out("watching " + options_.address + " (Ctrl-C stops)\n");
  const auto deadline = seconds > 0 ? Clock::now() + std::chrono::seconds(seconds) : Clock::time_point::max();
  auto next_poll = Clock::now() + 1s;
  bool reported = false;
  // Events come from the PUB socket; a SUB that has just connected, or a slow
  // one, can miss some, so the scheduler's history fills any gap in `seq`.
  auto catch_up = [&](uint64_t before) {
    auto st = (*in)->state();
    if (!st.ok()) {
      if (!reported) error(Error(st.error().code, st.error().message + " (still watching)"));
      reported = true;
      return;
    }
    reported = false;
    for (const auto& e : st->events)
      if (e.seq > last && e.seq < before) {
        out(format_event(to_json(e)) + "\n");
        last = e.seq;
      }
  };
  while (!g_interrupted && Clock::now() < deadline) {
    std::deque<Event> got;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, 200ms, [&] { return !events_.empty(); });
      got.swap(events_);
    }
    for (const auto& e : got) {
      if (e.seq <= last) continue;
      if (e.seq > last + 1) catch_up(e.seq);
      out(format_event(to_json(e)) + "\n");
      last = e.seq;
    }
    if (Clock::now() >= next_poll) {
      catch_up(UINT64_MAX);
      next_poll = Clock::now() + 1s;
    }
  }
  watching_ = false;
  g_interrupted = false;
  out("stopped watching\n");
  return {};
}

Result<void> Shell::cmd_logs(const Args& a) {
  std::string name;
  long lines = 50;
  bool follow = false;
  for (std::size_t i = 1; i < a.size(); ++i) {
    if (a[i] == "-f" || a[i] == "--follow") {
      follow = true;
    } else if (a[i] == "-n" || a[i] == "--lines") {
      if (i + 1 >= a.size()) return Error(Errc::invalid_argument, "-n needs a line count");
      auto v = parse_count("line count", a[++i], 0, 10000000);
      if (!v.ok()) return v.error();
      lines = *v;
    } else if (!a[i].empty() && a[i][0] == '-') {
      return Error(Errc::invalid_argument, "unknown option '" + a[i] + "'; usage: logs NAME|ID [-n N] [-f]");
    } else if (name.empty()) {
      name = a[i];
    } else {
      return Error(Errc::invalid_argument, "usage: logs NAME|ID [-n N] [-f]");
    }
  }
  if (name.empty()) return Error(Errc::invalid_argument, "usage: logs NAME|ID [-n N] [-f]");
  auto in = inspector();
  if (!in.ok()) return in.error();
  if (follow) {
    g_interrupted = false;
    auto r = (*in)->follow_logs(name, lines, [](const std::string& t) { out(t); }, [] { return g_interrupted.load(); });
    g_interrupted = false;
    out("\n");
    return r;
  }
  auto info = (*in)->resolve(name);
  if (!info.ok()) return info.error();
  auto text = (*in)->logs(*info, lines);
  if (!text.ok()) return text.error();
  out(*text);
  return {};
}

Result<void> Shell::cmd_kill(const Args& a, bool restart) {
  auto in = inspector();
  if (!in.ok()) return in.error();
  auto r = (*in)->kill(a[1], restart);
  if (!r.ok()) return r.error();
  out((restart ? "restarting " : "killed ") + a[1] + "\n");
  return {};
}

Result<void> Shell::cmd_train() {
  auto s = state_json();
  if (!s.ok()) return s.error();
  out(render_train((*s)["jobs"]));
  return {};
}

Result<void> Shell::cmd_metrics(const Args& a) {
  const bool prom = a.size() > 1 && a[1] == "--prom";
  if (a.size() > 1 && !prom) return Error(Errc::invalid_argument, "usage: metrics [--prom]");
  auto in = inspector();
  if (!in.ok()) return in.error();
  auto s = (*in)->state();
  if (!s.ok()) return s.error();
  auto stats = (*in)->stats(*s);
  auto j = to_json(*s);
  out(prom ? prometheus_metrics(*s, stats, j["jobs"]) : render_metrics(j, to_json(stats)));
  return {};
}

Result<void> Shell::cmd_connect(const Args& a) {
  auto r = Inspector::open(a[1], options_.timeout);
  if (!r.ok()) return r.error();
  in_ = std::move(r.value());
  options_.address = a[1];
  cached_ = Json();
  auto s = in_->state();
  if (!s.ok()) return s.error();
  out("connected to " + a[1] + ": " + std::to_string(s->nodes.size()) + " node(s), " +
      std::to_string(s->actors.size()) + " actor(s)\n");
  return {};
}

std::vector<std::string> Shell::candidates(const Args& before, const std::string& word) {
  std::vector<std::string> all;
  if (before.empty()) {
    for (const auto& c : kCommands) all.push_back(c.name);
  } else {
    const CommandInfo* c = find_command(before[0]);
    const Complete kind = c == nullptr ? Complete::nothing : c->complete;
    if (kind == Complete::command) {
      for (const auto& x : kCommands) all.push_back(x.name);
    } else if (kind != Complete::nothing) {
      if (cached_.is_null() || Clock::now() - cached_at_ > 1s) {
        auto in = inspector();
        if (in.ok()) {
          auto s = (*in)->state();
          if (s.ok()) {
            cached_ = to_json(*s);
            cached_at_ = Clock::now();
          }
        }
      }
      const Json empty = Json::array();
      const Json& actors = cached_.is_object() ? cached_["actors"] : empty;
      const Json& nodes = cached_.is_object() ? cached_["nodes"] : empty;
      auto add_actors = [&] {
        for (const auto& x : actors)
          all.push_back(x.value("name", "").empty() ? x["id"].dump() : x.value("name", ""));
      };
      if (kind == Complete::actor && before.size() == 1) add_actors();
      if (kind == Complete::logs) {
        if (before.back() != "-n") {
          add_actors();
          all.push_back("-n");
          all.push_back("-f");
        }
      }
      if (kind == Complete::node && before.size() == 1) {
        std::set<std::string> hosts;
        for (const auto& n : nodes) {
          all.push_back(n["id"].dump());
          hosts.insert(n.value("host", ""));
        }
        all.insert(all.end(), hosts.begin(), hosts.end());
      }
      if (kind == Complete::filter) {
        for (const char* k : {"id=", "name=", "class=", "state=", "node=", "incarnation=", "restarts=", "pid="})
          all.push_back(k);
        for (const char* s : {"ALIVE", "PENDING", "STARTING", "RESTARTING", "DEAD"}) all.push_back(std::string("state=") + s);
        std::set<std::string> classes;
        for (const auto& x : actors) classes.insert(x.value("class", ""));
        for (const auto& cl : classes) all.push_back("class=" + cl);
        for (const auto& x : actors)
          if (!x.value("name", "").empty()) all.push_back("name=" + x.value("name", ""));
      }
    }
  }
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (auto& s : all)
    if (!s.empty() && s.rfind(word, 0) == 0 && seen.insert(s).second) out.push_back(s);
  // "state=" and friends: only offer the bare key while nothing follows it.
  if (word.find('=') == std::string::npos) {
    std::vector<std::string> keys;
    for (auto& s : out)
      if (s.find('=') == std::string::npos || s.back() == '=') keys.push_back(s);
    if (!keys.empty()) out = keys;
  }
  return out;
}

// ---- readline glue ----

std::vector<std::string> g_matches;

char* match_generator(const char*, int state) {
  static std::size_t i;
  if (state == 0) i = 0;
  if (i < g_matches.size()) return strdup(g_matches[i++].c_str());
  return nullptr;
}

char** complete(const char* text, int start, int) {
  rl_attempted_completion_over = 1;  // never fall back to file names
  const Args before = split_words(std::string(rl_line_buffer, static_cast<std::size_t>(start)));
  g_matches = g_shell->candidates(before, text);
  rl_completion_append_character = ' ';
  if (g_matches.size() == 1 && g_matches[0].back() == '=') rl_completion_append_character = '\0';
  if (g_matches.empty()) return nullptr;
  return rl_completion_matches(text, match_generator);
}

/// Ctrl-C at the prompt: drop the line and show a fresh prompt, as shells do.
/// Readline calls it when a read is interrupted by the signal, and before
/// reading each key (rl_event_hook): a Ctrl-C that came while readline was
/// busy, not blocked in read(2), is seen there before the next key counts.
int on_signal_event() {
  if (g_interrupted.exchange(false)) {
    rl_replace_line("", 0);
    rl_crlf();
    rl_on_new_line();
    rl_redisplay();
  }
  return 0;
}

std::string history_path() {
  if (const char* h = std::getenv("TROUPE_HISTORY"); h != nullptr && *h != '\0') return h;
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0')
    return std::string(home) + "/.troupe_history";
  return {};
}

int Shell::run() {
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocking read returns and sees the flag
  sigaction(SIGINT, &sa, nullptr);
  if (!interactive_) {
    std::string line;
    while (std::getline(std::cin, line))
      if (!execute(line)) break;
    return failed_ ? 1 : 0;
  }
  g_shell = this;
  rl_readline_name = "troupe";
  rl_attempted_completion_function = complete;
  rl_completer_word_break_characters = const_cast<char*>(" \t");
  rl_signal_event_hook = on_signal_event;
  rl_event_hook = on_signal_event;
  const std::string hist = history_path();
  using_history();
  stifle_history(1000);
  if (!hist.empty()) read_history(hist.c_str());
  banner();
  for (;;) {
    g_interrupted = false;
    char* raw = readline("troupe> ");
    if (raw == nullptr) {
      out("\n");
      break;
    }
    std::string line(raw);
    std::free(raw);
    if (line.find_first_not_of(" \t") != std::string::npos) {
      add_history(line.c_str());
      if (!hist.empty() && append_history(1, hist.c_str()) != 0) write_history(hist.c_str());
    }
    if (!execute(line)) break;
  }
  g_shell = nullptr;
  return 0;
}

}  // namespace

int run_shell(const ShellOptions& options) {
  Shell shell(options, isatty(STDIN_FILENO) != 0);
  return shell.run();
}

}  // namespace troupe::cli
