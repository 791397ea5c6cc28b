#include "tools/troupe/commands.hpp"

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>

#include "runtime/runtime.hpp"
#include "scheduler/state_json.hpp"

namespace troupe::cli {
namespace {

struct Args {
  std::string address;
  bool json = false;
  std::vector<std::string> filters;
  std::string what;   // list: actors|nodes
  std::string name;   // get/kill/logs
  bool restart = false;
  int64_t lines = 100;
  int64_t timeout_ms = 5000;
} args;

std::string default_address() {
  const char* env = std::getenv("TROUPE_ADDRESS");
  return env != nullptr && *env != '\0' ? env : "tcp://127.0.0.1:7400";
}

/// One call to an endpoint with a timeout; the error is a value.
template <class T>
Result<T> ask(Runtime& rt, const std::string& endpoint, const std::string& method, const auto& body) {
  Header h;
  h.method = method;
  auto timeout = std::chrono::milliseconds(args.timeout_ms);
  auto st = rt.client().call(endpoint, method, encode(h, body), CallOptions{timeout, false});
  st->wait(timeout + std::chrono::milliseconds(200));
  if (!st->ready()) return Error(Errc::connection_lost, "no answer from " + endpoint);
  const auto& r = st->result();
  if (!r.ok()) {
    if (r.error().code == Errc::timeout)
      return Error(Errc::connection_lost, "the scheduler at " + endpoint + " did not answer within " +
                                              std::to_string(args.timeout_ms) + " ms");
    return r.error();
  }
  if constexpr (std::is_void_v<T>)
    return Result<void>();
  else
    return r.value().template body_as<T>();
}

void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& r : rows)
    for (std::size_t i = 0; i < r.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], r[i].size());
    }
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    std::printf("%s\n", line.c_str());
  }
}

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, v == static_cast<long long>(v) ? "%.0f" : "%.2f", v);
  return b;
}

/// key=value filters against the JSON form (so every documented field works).
Result<bool> matches(const nlohmann::json& row) {
  for (const auto& f : args.filters) {
    auto eq = f.find('=');
    if (eq == std::string::npos || eq == 0)
      return Error(Errc::invalid_argument, "bad filter '" + f + "': expected key=value");
    const std::string key = f.substr(0, eq), value = f.substr(eq + 1);
    if (!row.contains(key)) return Error(Errc::invalid_argument, "bad filter '" + f + "': no field '" + key + "'");
    const auto& v = row[key];
    const std::string have = v.is_string() ? v.get<std::string>() : v.dump();
    if (have != value) return false;
  }
  return true;
}

int fail(const Error& e) {
  std::fprintf(stderr, "troupe: %s\n", e.to_string().c_str());
  return 1;
}

int cmd_status(Runtime& rt) {
  auto s = ask<ClusterState>(rt, args.address, "state", msgpack::type::nil_t());
  if (!s.ok()) return fail(s.error());
  if (args.json) {
    std::cout << to_json(s.value()).dump(2) << "\n";
    return 0;
  }
  double cpus = 0, used = 0, gpus = 0, gused = 0;
  int alive = 0;
  for (const auto& n : s->nodes)
    if (n.alive) {
      ++alive;
      cpus += n.total.cpus;
      used += n.used.cpus;
      gpus += n.total.gpus;
      gused += n.used.gpus;
    }
  std::map<std::string, int> states;
  for (const auto& a : s->actors) ++states[std::string(state_name(a.state))];
  std::printf("scheduler  %s\n", args.address.c_str());
  std::printf("nodes      %d alive, %zu dead\n", alive, s->nodes.size() - alive);
  std::printf("resources  %s/%s CPU used, %s/%s GPU used\n", num(used).c_str(), num(cpus).c_str(), num(gused).c_str(),
              num(gpus).c_str());
  std::string st;
  for (const auto& [k, v] : states) st += (st.empty() ? "" : ", ") + std::to_string(v) + " " + k;
  std::printf("actors     %s\n", st.empty() ? "none" : st.c_str());
  return 0;
}

int cmd_list(Runtime& rt) {
  if (args.what != "actors" && args.what != "nodes")
    return fail(Error(Errc::invalid_argument, "list what? expected 'actors' or 'nodes', got '" + args.what + "'"));
  auto s = ask<ClusterState>(rt, args.address, "state", msgpack::type::nil_t());
  if (!s.ok()) return fail(s.error());
  auto all = to_json(s.value());
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& row : all[args.what]) {
    auto m = matches(row);
    if (!m.ok()) return fail(m.error());
    if (m.value()) rows.push_back(row);
  }
  if (args.json) {
    std::cout << rows.dump(2) << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> table;
  if (args.what == "actors") {
    table.push_back({"ID", "NAME", "CLASS", "STATE", "INC", "NODE", "PID", "RESTARTS", "ENDPOINT"});
    for (const auto& a : rows)
      table.push_back({a["id"].dump(), a["name"].get<std::string>(), a["class"].get<std::string>(),
                       a["state"].get<std::string>(), a["incarnation"].dump(), a["node"].dump(), a["pid"].dump(),
                       a["restarts"].dump(), a["endpoint"].get<std::string>()});
  } else {
    table.push_back({"ID", "HOST", "STATE", "CPU", "GPU", "ENDPOINT"});
    for (const auto& n : rows)
      table.push_back({n["id"].dump(), n["host"].get<std::string>(), n["state"].get<std::string>(),
                       num(n["used"]["cpus"].get<double>()) + "/" + num(n["total"]["cpus"].get<double>()),
                       num(n["used"]["gpus"].get<double>()) + "/" + num(n["total"]["gpus"].get<double>()),
                       n["endpoint"].get<std::string>()});
  }
  print_table(table);
  return 0;
}

ActorRef ref_of(const std::string& name) {
  ActorRef r;
  // All digits: an id; anything else: a name.
  if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos)
    r.actor = std::stoull(name);
  else
    r.name = name;
  return r;
}

int cmd_get(Runtime& rt) {
  auto a = ask<ActorInfo>(rt, args.address, "resolve", ref_of(args.name));
  if (!a.ok()) return fail(a.error());
  auto j = to_json(a.value());
  if (args.json) {
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  for (auto& [k, v] : j.items())
    if (k != "deaths") std::printf("%-15s %s\n", k.c_str(), v.is_string() ? v.get<std::string>().c_str() : v.dump().c_str());
  for (const auto& d : a->deaths)
    std::printf("death          incarnation %u: %s (exit code %d, signal %d)\n", d.incarnation, d.reason.c_str(),
                d.exit_code, d.signal);
  return 0;
}

int cmd_kill(Runtime& rt) {
  auto ref = ref_of(args.name);
  ref.restart = args.restart;
  auto r = ask<void>(rt, args.address, "kill", ref);
  if (!r.ok()) return fail(r.error());
  std::printf("%s %s\n", args.restart ? "restarting" : "killed", args.name.c_str());
  return 0;
}

int cmd_logs(Runtime& rt) {
  auto a = ask<ActorInfo>(rt, args.address, "resolve", ref_of(args.name));
  if (!a.ok()) return fail(a.error());
  auto s = ask<ClusterState>(rt, args.address, "state", msgpack::type::nil_t());
  if (!s.ok()) return fail(s.error());
  std::string endpoint;
  for (const auto& n : s->nodes)
    if (n.id == a->node) endpoint = n.endpoint;
  if (endpoint.empty()) return fail(Error(Errc::not_found, "actor '" + args.name + "' has no node yet"));
  auto text = ask<std::string>(rt, endpoint, "logs", LogRequest{a->id, args.lines});
  if (!text.ok()) return fail(text.error());
  std::fwrite(text->data(), 1, text->size(), stdout);
  return 0;
}

}  // namespace

void add_inspection_commands(CLI::App& app) {
  args.address = default_address();
  auto addr = [](CLI::App* c) {
    c->add_option("--address", args.address, "scheduler endpoint (or $TROUPE_ADDRESS)")->capture_default_str();
    c->add_option("--timeout-ms", args.timeout_ms, "give up after this long")->capture_default_str();
  };
  auto* status = app.add_subcommand("status", "nodes, resources and actors at a glance");
  addr(status);
  status->add_flag("--json", args.json, "print the whole state as JSON");
  auto* list = app.add_subcommand("list", "list actors or nodes");
  addr(list);
  list->add_option("what", args.what, "actors | nodes")->required();
  list->add_option("--filter", args.filters, "key=value (any JSON field; repeatable)");
  list->add_flag("--json", args.json, "JSON for tools (fields: docs/CLI.md)");
  auto* get = app.add_subcommand("get", "one actor in detail: troupe get actor NAME");
  addr(get);
  get->add_option("kind", args.what, "actor")->required()->check(CLI::IsMember({"actor"}));
  get->add_option("name", args.name, "actor name or id")->required();
  get->add_flag("--json", args.json, "JSON output");
  auto* kill = app.add_subcommand("kill", "kill an actor (no restart unless --restart)");
  addr(kill);
  kill->add_option("name", args.name, "actor name or id")->required();
  kill->add_flag("--restart", args.restart, "let it restart");
  auto* logs = app.add_subcommand("logs", "an actor's stdout/stderr");
  addr(logs);
  logs->add_option("name", args.name, "actor name or id")->required();
  logs->add_option("-n,--lines", args.lines, "last N lines (0: all)")->capture_default_str();
}

int run_inspection_command(CLI::App& app) {
  Runtime::Options ro;
  ro.scheduler = args.address;
  Runtime rt(ro);
  rt.start();
  if (app.got_subcommand("status")) return cmd_status(rt);
  if (app.got_subcommand("list")) return cmd_list(rt);
  if (app.got_subcommand("get")) return cmd_get(rt);
  if (app.got_subcommand("kill")) return cmd_kill(rt);
  if (app.got_subcommand("logs")) return cmd_logs(rt);
  return fail(Error(Errc::invalid_argument, "unknown command"));
}

}  // namespace troupe::cli
