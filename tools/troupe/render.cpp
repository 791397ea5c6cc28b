#include "tools/troupe/render.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>

namespace troupe::cli {
namespace {

std::string text(const Json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) return human_number(v.get<double>());
  return v.dump();
}

std::string field(const Json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() ? "-" : text(*it);
}

double number(const Json& obj, const char* key, double otherwise = 0) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_number() ? it->get<double>() : otherwise;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string actor_label(const Json& a) {
  const std::string name = a.value("name", "");
  return name.empty() ? "#" + field(a, "id") : name;
}

std::string resources(const Json& r) {
  std::string s = human_number(number(r, "cpus")) + " CPU";
  if (number(r, "gpus") > 0) s += ", " + human_number(number(r, "gpus")) + " GPU";
  if (number(r, "memory_mb") > 0) s += ", " + human_number(number(r, "memory_mb")) + " MB";
  return s;
}

std::string node_host(const Json& state, const Json& id) {
  for (const auto& n : state.value("nodes", Json::array()))
    if (n.value("id", Json()) == id) return n.value("host", "");
  return "";
}

std::string since(int64_t from_ms, int64_t now_ms) {
  if (from_ms <= 0 || now_ms < from_ms) return "";
  double s = static_cast<double>(now_ms - from_ms) / 1000.0;
  char b[48];
  if (s < 90)
    std::snprintf(b, sizeof b, "%.1f s", s);
  else if (s < 5400)
    std::snprintf(b, sizeof b, "%.0f min", s / 60);
  else
    std::snprintf(b, sizeof b, "%.1f h", s / 3600);
  return b;
}

/// "key          value" lines: keys padded to one column (13 wide, as in `troupe get actor`).
std::string render_fields(const std::vector<std::vector<std::string>>& rows) {
  std::string out;
  for (const auto& r : rows) {
    std::string key = r.at(0);
    key += std::string(key.size() < 13 ? 13 - key.size() : 1, ' ');
    out += key + r.at(1) + "\n";
  }
  return out;
}

}  // namespace

std::string clock_time(int64_t time_ms) {
  std::time_t t = static_cast<std::time_t>(time_ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char b[32];
  std::snprintf(b, sizeof b, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(time_ms % 1000));
  return b;
}

std::string human_number(double v) {
  char b[32];
  if (std::isnan(v)) return "-";
  if (v == std::floor(v) && std::fabs(v) < 1e15)
    std::snprintf(b, sizeof b, "%.0f", v);
  else
    std::snprintf(b, sizeof b, "%.4g", v);
  return b;
}

std::string human_bytes(double bytes) {
  static const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  int u = 0;
  while (bytes >= 1000 && u < 4) {
    bytes /= 1000;
    ++u;
  }
  char b[32];
  std::snprintf(b, sizeof b, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
  return b;
}

std::string render_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& r : rows)
    for (std::size_t i = 0; i < r.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], r[i].size());
    }
  std::string out;
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

Result<Json> filter_rows(const Json& rows, const std::vector<std::string>& filters) {
  struct Filter {
    std::string key, value;
    bool negate;
  };
  std::vector<Filter> parsed;
  for (const auto& f : filters) {
    auto eq = f.find('=');
    const bool negate = eq != std::string::npos && eq > 0 && f[eq - 1] == '!';
    const std::size_t key_end = negate ? eq - 1 : eq;
    if (eq == std::string::npos || key_end == 0)
      return Error(Errc::invalid_argument, "bad filter '" + f + "': expected key=value or key!=value");
    parsed.push_back({f.substr(0, key_end), f.substr(eq + 1), negate});
  }
  Json out = Json::array();
  for (const auto& row : rows) {
    bool keep = true;
    for (const auto& f : parsed) {
      if (!row.contains(f.key)) {
        std::string keys;
        for (auto& [k, v] : row.items())
          if (!v.is_structured()) keys += (keys.empty() ? "" : ", ") + k;
        return Error(Errc::invalid_argument, "bad filter '" + f.key + (f.negate ? "!=" : "=") + f.value +
                                                 "': no field '" + f.key + "' (fields: " + keys + ")");
      }
      const auto& v = row[f.key];
      const bool equal = v.is_string() ? lower(v.get<std::string>()) == lower(f.value) : v.dump() == f.value;
      if (equal == f.negate) keep = false;
    }
    if (keep) out.push_back(row);
  }
  return out;
}

std::string render_status(const Json& s, const std::string& address) {
  double cpus = 0, used = 0, gpus = 0, gused = 0, mem = 0, mused = 0;
  int alive = 0, dead = 0;
  for (const auto& n : s.value("nodes", Json::array())) {
    if (n.value("state", "") != "ALIVE") {
      ++dead;
      continue;
    }
    ++alive;
    cpus += number(n["total"], "cpus");
    used += number(n["used"], "cpus");
    gpus += number(n["total"], "gpus");
    gused += number(n["used"], "gpus");
    mem += number(n["total"], "memory_mb");
    mused += number(n["used"], "memory_mb");
  }
  std::map<std::string, int> states;
  int restarts = 0;
  for (const auto& a : s.value("actors", Json::array())) {
    ++states[a.value("state", "?")];
    restarts += static_cast<int>(number(a, "restarts"));
  }
  std::string st;
  for (const char* k : {"ALIVE", "STARTING", "PENDING", "RESTARTING", "DEAD"})
    if (states.count(k)) st += (st.empty() ? "" : ", ") + std::to_string(states[k]) + " " + k;
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"scheduler", address});
  rows.push_back({"nodes", std::to_string(alive) + " alive, " + std::to_string(dead) + " dead"});
  std::string res = human_number(used) + "/" + human_number(cpus) + " CPU, " + human_number(gused) + "/" +
                    human_number(gpus) + " GPU";
  if (mem > 0) res += ", " + human_number(mused) + "/" + human_number(mem) + " MB";
  rows.push_back({"resources", res + " used"});
  rows.push_back({"actors", st.empty() ? "none" : st});
  rows.push_back({"restarts", std::to_string(restarts)});
  std::string jobs;
  for (const auto& j : s.value("jobs", Json::array()))
    jobs += (jobs.empty() ? "" : "; ") + field(j, "name") + " " + field(j, "state") + " step " + field(j, "step");
  rows.push_back({"jobs", jobs.empty() ? "none" : jobs});
  return render_table(rows);
}

std::string render_actors(const Json& actors) {
  std::vector<std::vector<std::string>> t{{"ID", "NAME", "CLASS", "STATE", "INC", "NODE", "PID", "RESTARTS", "ENDPOINT"}};
  for (const auto& a : actors) {
    std::string endpoint = a.value("endpoint", "");
    const std::string reason = a.value("pending_reason", "");
    if (a.value("state", "") == "PENDING" && !reason.empty()) {
      endpoint = "(";  // built piecewise: GCC 12 warns (-Wrestrict) on "(" + s + ")"
      endpoint += reason;
      endpoint += ")";
    }
    t.push_back({field(a, "id"), a.value("name", "").empty() ? "-" : a.value("name", ""), field(a, "class"),
                 field(a, "state"), field(a, "incarnation"), field(a, "node"), field(a, "pid"), field(a, "restarts"),
                 endpoint.empty() ? "-" : endpoint});
  }
  if (t.size() == 1) return "no actors\n";
  return render_table(t);
}

std::string render_nodes(const Json& nodes) {
  std::vector<std::vector<std::string>> t{{"ID", "HOST", "STATE", "CPU", "GPU", "MEMORY_MB", "PID", "ENDPOINT"}};
  for (const auto& n : nodes) {
    auto pair = [&](const char* r) {
      return human_number(number(n["used"], r)) + "/" + human_number(number(n["total"], r));
    };
    t.push_back({field(n, "id"), field(n, "host"), field(n, "state"), pair("cpus"), pair("gpus"), pair("memory_mb"),
                 field(n, "pid"), field(n, "endpoint")});
  }
  if (t.size() == 1) return "no nodes\n";
  return render_table(t);
}

std::string render_node(const Json& n, const Json& state) {
  std::vector<std::vector<std::string>> rows{
      {"id", field(n, "id")},
      {"host", field(n, "host")},
      {"state", field(n, "state")},
      {"endpoint", field(n, "endpoint")},
      {"pid", field(n, "pid")},
      {"total", resources(n["total"])},
      {"used", resources(n["used"])},
      {"heartbeat", clock_time(static_cast<int64_t>(number(n, "last_heartbeat_ms")))},
      {"log dir", field(n, "log_dir")}};
  if (!n.value("death_reason", "").empty()) rows.push_back({"death", n.value("death_reason", "")});
  std::string out = render_fields(rows);
  Json here = Json::array();
  for (const auto& a : state.value("actors", Json::array()))
    if (a.value("node", Json()) == n.value("id", Json()) && a.value("state", "") != "DEAD") here.push_back(a);
  out += "actors\n";
  out += here.empty() ? "  none\n" : render_actors(here);
  return out;
}

std::string render_jobs(const Json& jobs) {
  if (!jobs.is_array() || jobs.empty()) return "no training jobs\n";
  std::vector<std::vector<std::string>> t{
      {"NAME", "STATE", "EPOCH", "STEP", "LOSS", "ACCURACY", "SAMPLES/S", "TRAINERS", "DRIVER", "REASON"}};
  for (const auto& j : jobs)
    t.push_back({field(j, "name"), field(j, "state"), field(j, "epoch"), field(j, "step"), field(j, "loss"),
                 field(j, "accuracy"), field(j, "samples_per_s"),
                 std::to_string(j.value("trainers", Json::array()).size()),
                 j.value("driver", "").empty() ? "-"
                 : j.value("driver", "") + (j.value("detached", false) ? " (detached)" : ""),
                 j.value("reason", "").empty() ? "-" : j.value("reason", "")});
  return render_table(t);
}

std::string render_actor(const Json& a, const Json& stats, const std::string& stats_error, const Json& state) {
  const int64_t now = static_cast<int64_t>(number(state, "time_ms"));
  std::string st = field(a, "state");
  const std::string age = since(static_cast<int64_t>(number(a, "state_since_ms")), now);
  if (!age.empty()) st += " (for " + age + ")";
  std::vector<std::vector<std::string>> rows{{"name", actor_label(a)}, {"id", field(a, "id")},
                                             {"class", field(a, "class")}, {"state", st}};
  if (a.value("state", "") == "PENDING" && !a.value("pending_reason", "").empty())
    rows.push_back({"pending", a.value("pending_reason", "")});
  std::string node = field(a, "node");
  const std::string host = node_host(state, a.value("node", Json()));
  if (!host.empty()) node += " (" + host + ")";
  rows.push_back({"node", a.value("node", 0) == 0 ? "-" : node});
  rows.push_back({"pid", a.value("pid", 0) == 0 ? "-" : field(a, "pid")});
  rows.push_back({"endpoint", a.value("endpoint", "").empty() ? "-" : a.value("endpoint", "")});
  rows.push_back({"incarnation", field(a, "incarnation")});
  const int max_restarts = a.value("max_restarts", 0);
  rows.push_back({"restarts", field(a, "restarts") + " of " +
                                  (max_restarts < 0 ? std::string("unlimited") : std::to_string(max_restarts))});
  std::string res = resources(a["resources"]);
  if (!a.value("gpu_ids", Json::array()).empty()) res += " (GPU ids " + a["gpu_ids"].dump() + ")";
  rows.push_back({"resources", res});
  if (!a.value("retryable", Json::array()).empty()) {
    std::string r;
    for (const auto& m : a["retryable"]) r += (r.empty() ? "" : ", ") + text(m);
    rows.push_back({"retryable", r});
  }
  if (stats.is_object()) {
    rows.push_back({"calls served", field(stats, "calls_served")});
    rows.push_back({"queue depth", field(stats, "queue_depth")});
    rows.push_back({"bytes", "in " + human_bytes(number(stats, "bytes_in")) + ", out " +
                                 human_bytes(number(stats, "bytes_out"))});
    rows.push_back({"rejected", "malformed " + field(stats, "malformed") + ", stale " + field(stats, "stale_rejected") +
                                    ", unknown method " + field(stats, "unknown_method") + ", overloaded " +
                                    field(stats, "overloaded")});
  } else {
    rows.push_back({"calls served", "- (" + stats_error + ")"});
    rows.push_back({"queue depth", "-"});
  }
  const auto deaths = a.value("deaths", Json::array());
  if (deaths.empty()) rows.push_back({"deaths", "none"});
  std::string out = render_fields(rows);
  if (deaths.empty()) return out;
  out += "deaths\n";
  std::vector<std::vector<std::string>> d{{"  INC", "TIME", "NODE", "EXIT", "SIGNAL", "CAUSE"}};
  for (const auto& x : deaths)
    d.push_back({"  " + field(x, "incarnation"), clock_time(static_cast<int64_t>(number(x, "time_ms"))),
                 field(x, "node"), field(x, "exit_code"), field(x, "signal"), field(x, "reason")});
  return out + render_table(d);
}

std::string format_event(const Json& e) {
  std::string who;
  if (e.value("topic", "") == "node")
    who = "node " + field(e, "node");
  else if (e.value("topic", "") == "job")
    who = "job " + e.value("name", "");
  else
    who = "actor " + (e.value("name", "").empty() ? "#" + field(e, "actor") : e.value("name", "")) + " (id " +
          field(e, "actor") + ", inc " + field(e, "incarnation") + ")";
  // A job's event says its state in the message ("FAILED: driver lost: …").
  std::string line = clock_time(static_cast<int64_t>(number(e, "time_ms"))) + "  #" + field(e, "seq") + "  " + who +
                     (e.value("topic", "") == "job" ? "" : "  " + field(e, "state"));
  if (!e.value("message", "").empty()) line += "  " + e.value("message", "");
  // The scheduler's message usually names the signal or exit code already.
  const std::string message = e.value("message", "");
  if (e.value("signal", 0) != 0 && message.find("signal") == std::string::npos)
    line += " (signal " + field(e, "signal") + ")";
  else if (e.value("exit_code", 0) != 0 && message.find("exit") == std::string::npos)
    line += " (exit code " + field(e, "exit_code") + ")";
  return line;
}

std::string render_events(const Json& events, std::size_t n) {
  if (!events.is_array() || events.empty()) return "no events\n";
  std::string out;
  const std::size_t from = events.size() > n ? events.size() - n : 0;
  for (std::size_t i = from; i < events.size(); ++i) out += format_event(events[i]) + "\n";
  return out;
}

std::string render_train(const Json& jobs) {
  if (!jobs.is_array() || jobs.empty()) return "no training jobs\n";
  std::string out;
  for (const auto& j : jobs) {
    if (!out.empty()) out += "\n";
    std::string acc = "-";
    if (j.contains("accuracy") && j["accuracy"].is_number()) {
      char b[32];
      std::snprintf(b, sizeof b, "%.2f%%", 100 * j["accuracy"].get<double>());
      acc = b;
    }
    std::string loss = "-";
    if (j.contains("loss") && j["loss"].is_number()) {
      char b[32];
      std::snprintf(b, sizeof b, "%.4f", j["loss"].get<double>());
      loss = b;
    }
    std::string state = field(j, "state");
    if (!j.value("reason", "").empty()) state += " (" + j.value("reason", "") + ")";
    out += render_table({{"job", field(j, "name") + "  " + state},
                         {"driver", j.value("driver", "").empty() ? "-"
                                    : j.value("driver", "") + (j.value("detached", false) ? " (detached)" : "")},
                         {"epoch", field(j, "epoch")},
                         {"step", field(j, "step")},
                         {"loss", loss},
                         {"accuracy", acc},
                         {"samples/s", human_number(std::round(number(j, "samples_per_s", NAN)))}});
    const auto trainers = j.value("trainers", Json::array());
    if (!trainers.empty()) {
      std::vector<std::vector<std::string>> t{{"  TRAINER", "STATE", "STEPS", "SAMPLES/S", "LAST STEP"}};
      for (const auto& tr : trainers)
        t.push_back({"  " + field(tr, "name"), field(tr, "state"), field(tr, "steps"),
                     human_number(std::round(number(tr, "samples_per_s", NAN))), field(tr, "last_step")});
      out += "trainers\n" + render_table(t);
    }
    const auto contributors = j.value("contributors", Json::array());
    if (!contributors.empty()) {
      out += "contributors of the last steps\n";
      std::vector<std::vector<std::string>> t;
      for (const auto& c : contributors) {
        std::string names;
        for (const auto& n : c.value("trainers", Json::array())) names += (names.empty() ? "" : ", ") + text(n);
        t.push_back({"  step " + field(c, "step"), names.empty() ? "-" : names});
      }
      out += render_table(t);
    }
  }
  return out;
}

std::string render_metrics(const Json& state, const Json& stats) {
  std::vector<std::vector<std::string>> t{
      {"ACTOR", "ID", "STATE", "RESTARTS", "CALLS", "QUEUE", "BYTES_IN", "BYTES_OUT", "MALFORMED", "STALE", "OVERLOADED"}};
  double calls = 0, in = 0, out_bytes = 0;
  int restarts = 0;
  for (const auto& a : state.value("actors", Json::array())) {
    restarts += a.value("restarts", 0);
    const std::string id = field(a, "id");
    const bool has = stats.is_object() && stats.contains(id);
    const Json s = has ? stats[id] : Json::object();
    if (has) {
      calls += number(s, "calls_served");
      in += number(s, "bytes_in");
      out_bytes += number(s, "bytes_out");
    }
    auto v = [&](const char* k) { return has ? field(s, k) : std::string("-"); };
    t.push_back({actor_label(a), id, field(a, "state"), field(a, "restarts"), v("calls_served"), v("queue_depth"),
                 has ? human_bytes(number(s, "bytes_in")) : "-", has ? human_bytes(number(s, "bytes_out")) : "-",
                 v("malformed"), v("stale_rejected"), v("overloaded")});
  }
  std::string out = t.size() == 1 ? "no actors\n" : render_table(t);
  out += "total: " + human_number(calls) + " calls, " + human_bytes(in) + " in, " + human_bytes(out_bytes) +
         " out, " + std::to_string(restarts) + " restarts (calls and bytes of the current incarnations)\n";
  return out;
}

}  // namespace troupe::cli
