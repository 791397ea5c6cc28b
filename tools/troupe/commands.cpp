#include "tools/troupe/commands.hpp"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>

#include "scheduler/state_json.hpp"
#include "tools/troupe/inspector.hpp"
#include "tools/troupe/render.hpp"
#include "tools/troupe/shell.hpp"

namespace troupe::cli {
namespace {

/// The parsed command line of the inspection subcommands.
struct Args {
  std::string address;
  bool json = false;
  std::vector<std::string> filters;
  std::string what;  // list: actors|nodes|jobs; get: actor
  std::string name;  // get/kill/logs
  bool restart = false;
  bool follow = false;
  int64_t lines = 100;
  int64_t timeout_ms = 5000;
};

Args& args() {
  static Args a;
  return a;
}

int fail(const Error& e) {
  std::string m = e.to_string();
  for (auto& c : m)
    if (c == '\n') c = ' ';
  std::fprintf(stderr, "troupe: %s\n", m.c_str());
  return 1;
}

void print(const std::string& s) { std::fwrite(s.data(), 1, s.size(), stdout); }

int cmd_status(Inspector& in) {
  auto s = in.state();
  if (!s.ok()) return fail(s.error());
  print(args().json ? to_json(*s).dump(2) + "\n" : render_status(to_json(*s), in.address()));
  return 0;
}

int cmd_list(Inspector& in) {
  const std::string& what = args().what;
  if (what != "actors" && what != "nodes" && what != "jobs")
    return fail(Error(Errc::invalid_argument, "list what? expected actors, nodes or jobs, got '" + what + "'"));
  auto s = in.state();
  if (!s.ok()) return fail(s.error());
  auto rows = filter_rows(to_json(*s)[what], args().filters);
  if (!rows.ok()) return fail(rows.error());
  if (args().json)
    print(rows->dump(2) + "\n");
  else if (what == "actors")
    print(render_actors(*rows));
  else if (what == "nodes")
    print(render_nodes(*rows));
  else
    print(render_jobs(*rows));
  return 0;
}

int cmd_get(Inspector& in) {
  auto a = in.resolve(args().name);
  if (!a.ok()) return fail(a.error());
  auto s = in.state();
  if (!s.ok()) return fail(s.error());
  auto j = to_json(*a);
  auto st = in.stats(*a);
  if (args().json) {
    j["stats"] = st.ok() ? to_json(*st) : nlohmann::json();
    print(j.dump(2) + "\n");
    return 0;
  }
  std::string why = st.ok() ? "" : st.error().code == Errc::unavailable ? st.error().message : st.error().to_string();
  print(render_actor(j, st.ok() ? to_json(*st) : nlohmann::json(), why, to_json(*s)));
  return 0;
}

int cmd_kill(Inspector& in) {
  auto r = in.kill(args().name, args().restart);
  if (!r.ok()) return fail(r.error());
  print((args().restart ? "restarting " : "killed ") + args().name + "\n");
  return 0;
}

/// Set by SIGINT/SIGTERM while `troupe logs -f` follows a log.
std::atomic<bool> g_stop_following{false};
extern "C" void on_stop_following(int) { g_stop_following = true; }

int cmd_logs(Inspector& in) {
  if (args().lines < 0) return fail(Error(Errc::invalid_argument, "bad line count: must be 0 (all) or more"));
  if (args().follow) {
    std::signal(SIGINT, on_stop_following);
    std::signal(SIGTERM, on_stop_following);
    auto r = in.follow_logs(
        args().name, args().lines,
        [](const std::string& t) {
          print(t);
          std::fflush(stdout);
        },
        [] { return g_stop_following.load(); });
    return r.ok() ? 0 : fail(r.error());
  }
  auto a = in.resolve(args().name);
  if (!a.ok()) return fail(a.error());
  auto text = in.logs(*a, args().lines);
  if (!text.ok()) return fail(text.error());
  print(*text);
  return 0;
}

}  // namespace

void add_inspection_commands(CLI::App& app) {
  Args& a = args();
  a.address = default_address();
  auto common = [&a](CLI::App* c) {
    c->add_option("--address", a.address, "scheduler endpoint (or $TROUPE_ADDRESS)")->capture_default_str();
    c->add_option("--timeout-ms", a.timeout_ms, "give up on the scheduler after this long")
        ->capture_default_str()
        ->check(CLI::Range(int64_t{1}, int64_t{3600000}));
  };
  auto* status = app.add_subcommand("status", "nodes, resources, actors and jobs at a glance");
  common(status);
  status->footer("Example:\n  troupe status --address tcp://10.0.0.1:7400");
  status->add_flag("--json", a.json, "the whole state as JSON (the shape of /api/state)");

  auto* list = app.add_subcommand("list", "list actors, nodes or training jobs");
  common(list);
  list->footer("Example:\n  troupe list actors --filter state=ALIVE --json");
  list->add_option("what", a.what, "actors | nodes | jobs")->required();
  list->add_option("--filter", a.filters, "KEY=VALUE or KEY!=VALUE on any field (repeatable)");
  list->add_flag("--json", a.json, "JSON for tools (fields: docs/CLI.md)");

  auto* get = app.add_subcommand("get", "one actor in detail: troupe get actor NAME");
  common(get);
  get->footer("Example:\n  troupe get actor trainer-0");
  get->add_option("kind", a.what, "actor")->required()->check(CLI::IsMember({"actor"}));
  get->add_option("name", a.name, "actor name or id")->required();
  get->add_flag("--json", a.json, "JSON (the list fields plus \"stats\")");

  auto* kill = app.add_subcommand("kill", "kill an actor (DEAD; --restart lets it restart)");
  common(kill);
  kill->footer("Example:\n  troupe kill trainer-1 --restart");
  kill->add_option("name", a.name, "actor name or id")->required();
  kill->add_flag("--restart", a.restart, "kill the process and let the actor restart");

  auto* logs = app.add_subcommand("logs", "an actor's stdout/stderr");
  common(logs);
  logs->footer("Example:\n  troupe logs trainer-0 -n 50 --follow");
  logs->add_option("name", a.name, "actor name or id")->required();
  logs->add_option("-n,--lines", a.lines, "last N lines (0: all)")->capture_default_str();
  logs->add_flag("-f,--follow", a.follow, "keep printing what the actor writes, across restarts, until Ctrl-C");

  auto* shell = app.add_subcommand("shell", "interactive cluster shell (commands from stdin when not a terminal)");
  common(shell);
  shell->footer("Example:\n  troupe shell tcp://127.0.0.1:7400");
  shell->add_option("addr", a.address, "scheduler endpoint (same as --address)");
}

int run_inspection_command(CLI::App& app) {
  Args& a = args();
  const auto timeout = std::chrono::milliseconds(a.timeout_ms);
  if (app.got_subcommand("shell")) return run_shell(ShellOptions{a.address, timeout});
  auto in = Inspector::open(a.address, timeout);
  if (!in.ok()) return fail(in.error());
  if (app.got_subcommand("status")) return cmd_status(**in);
  if (app.got_subcommand("list")) return cmd_list(**in);
  if (app.got_subcommand("get")) return cmd_get(**in);
  if (app.got_subcommand("kill")) return cmd_kill(**in);
  if (app.got_subcommand("logs")) return cmd_logs(**in);
  return fail(Error(Errc::invalid_argument, "unknown command"));
}

}  // namespace troupe::cli
