#include "actors/training/train_config.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <toml++/toml.h>

#include "runtime/memory_budget.hpp"

namespace troupe::train {

namespace {

/// Thrown inside the parser; becomes the one-line error.
struct Bad {
  std::string line;
};

std::string show(const toml::node& n) {
  std::ostringstream o;
  if (auto s = n.as_string()) {
    o << '"' << s->get() << '"';
  } else if (auto a = n.as_array()) {
    o << '[';
    for (std::size_t i = 0; i < a->size(); ++i) o << (i ? ", " : "") << show(*a->get(i));
    o << ']';
  } else if (auto i = n.as_integer()) {
    o << i->get();
  } else if (auto f = n.as_floating_point()) {
    char b[32];
    std::snprintf(b, sizeof b, "%g", f->get());
    o << b;
    if (std::string(b).find_first_of(".en") == std::string::npos) o << ".0";
  } else if (auto b = n.as_boolean()) {
    o << (b->get() ? "true" : "false");
  } else {
    o << "{...}";
  }
  return o.str();
}

class Reader {
 public:
  Reader(const toml::table& root, std::string source) : root_(root), source_(std::move(source)) {}

  [[noreturn]] void fail(const std::string& section, const std::string& key, const toml::node* n,
                         const std::string& allowed) const {
    throw Bad{source_ + ": [" + section + "] " + key + " = " + (n ? show(*n) : std::string("(missing)")) + ": " +
              allowed};
  }
  const toml::node* get(const std::string& section, const std::string& key) {
    used_[section].insert(key);
    const toml::node* t = root_.get(section);
    if (t == nullptr) return nullptr;
    if (!t->is_table()) throw Bad{source_ + ": [" + section + "] must be a table"};
    return t->as_table()->get(key);
  }
  int64_t integer(const std::string& sec, const std::string& key, int64_t def, int64_t lo, int64_t hi,
                  bool required = false) {
    const toml::node* n = get(sec, key);
    const std::string allowed = "must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
    if (n == nullptr) {
      if (required) fail(sec, key, n, allowed);
      return def;
    }
    if (!n->is_integer()) fail(sec, key, n, allowed);
    const int64_t v = n->as_integer()->get();
    if (v < lo || v > hi) fail(sec, key, n, allowed);
    return v;
  }
  double number(const std::string& sec, const std::string& key, double def, double lo, double hi, bool lo_open,
                bool hi_open, bool required = false) {
    const toml::node* n = get(sec, key);
    std::ostringstream a;
    a << "must be a number in " << (lo_open ? "(" : "[") << lo << ", " << hi << (hi_open ? ")" : "]");
    if (n == nullptr) {
      if (required) fail(sec, key, n, a.str());
      return def;
    }
    double v;
    if (n->is_integer())
      v = static_cast<double>(n->as_integer()->get());
    else if (n->is_floating_point())
      v = n->as_floating_point()->get();
    else
      fail(sec, key, n, a.str());
    if (!std::isfinite(v) || v < lo || v > hi || (lo_open && v == lo) || (hi_open && v == hi)) fail(sec, key, n, a.str());
    return v;
  }
  std::string string(const std::string& sec, const std::string& key, const std::string& def,
                     const std::vector<std::string>& choices = {}, bool required = false) {
    const toml::node* n = get(sec, key);
    std::string allowed = "must be a string";
    if (!choices.empty()) {
      allowed = "must be one of";
      for (std::size_t i = 0; i < choices.size(); ++i) allowed += (i ? ", " : " ") + choices[i];
    }
    if (n == nullptr) {
      if (required) fail(sec, key, n, allowed);
      return def;
    }
    if (!n->is_string()) fail(sec, key, n, allowed);
    std::string v = n->as_string()->get();
    if (!choices.empty() && std::find(choices.begin(), choices.end(), v) == choices.end()) fail(sec, key, n, allowed);
    return v;
  }
  /// Rejects keys and sections nobody asked for (a typo must not be ignored silently).
  void check_unknown() {
    for (const auto& [sec, node] : root_) {
      const std::string s(sec.str());
      auto it = used_.find(s);
      if (it == used_.end()) {
        std::string known;
        for (const auto& [k, _] : used_) known += (known.empty() ? "" : ", ") + k;
        throw Bad{source_ + ": unknown section [" + s + "] (allowed: " + known + ")"};
      }
      if (!node.is_table()) throw Bad{source_ + ": [" + s + "] must be a table"};
      for (const auto& [key, _] : *node.as_table()) {
        if (it->second.contains(std::string(key.str()))) continue;
        std::string known;
        for (const auto& k : it->second) known += (known.empty() ? "" : ", ") + k;
        throw Bad{source_ + ": unknown key [" + s + "] " + std::string(key.str()) + " (allowed: " + known + ")"};
      }
    }
  }

 private:
  const toml::table& root_;
  std::string source_;
  std::map<std::string, std::set<std::string>> used_;
};

void readable_file(Reader& r, const std::string& sec, const std::string& key, const std::string& path) {
  if (path.empty()) return;
  if (::access(path.c_str(), R_OK) != 0) {
    toml::value<std::string> v(path);
    r.fail(sec, key, &v, "must name a readable file (" + std::string(std::strerror(errno)) + ")");
  }
  // Only regular files: /dev/zero or a FIFO would be read until memory runs out, or forever.
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    toml::value<std::string> v(path);
    r.fail(sec, key, &v, std::string("must name a regular file, not ") +
                             (S_ISCHR(st.st_mode) ? "a character device" : S_ISBLK(st.st_mode) ? "a block device"
                                                : S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISDIR(st.st_mode) ? "a folder"
                                                                                                      : "a special file"));
  }
}

TrainConfig parse(const toml::table& root, const std::string& source) {
  Reader r(root, source);
  TrainConfig c;
  c.source = source;
  JobSpec& j = c.job;

  // [data]
  j.train_images = r.string("data", "train_images", "", {}, true);
  j.train_labels = r.string("data", "train_labels", "", {}, true);
  j.test_images = r.string("data", "test_images", "");
  j.test_labels = r.string("data", "test_labels", "");
  readable_file(r, "data", "train_images", j.train_images);
  readable_file(r, "data", "train_labels", j.train_labels);
  readable_file(r, "data", "test_images", j.test_images);
  readable_file(r, "data", "test_labels", j.test_labels);
  if (j.test_images.empty() != j.test_labels.empty()) {
    const bool img = j.test_images.empty();
    r.fail("data", img ? "test_images" : "test_labels", nullptr, "must be given together with " +
                                                                     std::string(img ? "test_labels" : "test_images"));
  }
  j.val_fraction = r.number("data", "validation_split", 0.0, 0.0, 1.0, false, true);
  j.limit_train = r.integer("data", "limit_train", 0, 0, int64_t{1} << 40);
  if (const toml::node* n = r.get("data", "positive_classes")) {
    const std::string allowed = "must be a non-empty array of distinct integers in [0, 1000000]";
    if (!n->is_array() || n->as_array()->empty()) r.fail("data", "positive_classes", n, allowed);
    for (const auto& e : *n->as_array()) {
      if (!e.is_integer() || e.as_integer()->get() < 0 || e.as_integer()->get() > 1000000)
        r.fail("data", "positive_classes", n, allowed);
      const auto v = static_cast<int32_t>(e.as_integer()->get());
      if (std::find(j.positive_classes.begin(), j.positive_classes.end(), v) != j.positive_classes.end())
        r.fail("data", "positive_classes", n, allowed);
      j.positive_classes.push_back(v);
    }
  }

  // [model]
  {
    const toml::node* n = r.get("model", "layers");
    const std::string allowed = "must be an array of at least 2 integers in [1, 1000000] (inputs, hidden..., outputs)";
    if (n == nullptr || !n->is_array() || n->as_array()->size() < 2) r.fail("model", "layers", n, allowed);
    for (const auto& e : *n->as_array()) {
      if (!e.is_integer() || e.as_integer()->get() < 1 || e.as_integer()->get() > 1000000)
        r.fail("model", "layers", n, allowed);
      j.sizes.push_back(e.as_integer()->get());
    }
  }
  const std::string loss =
      r.string("model", "loss", "cross_entropy", {"cross_entropy", "softmax_ce", "bce", "sigmoid_bce"});
  const bool softmax = loss == "cross_entropy" || loss == "softmax_ce";
  j.loss = softmax ? "softmax_ce" : "sigmoid_bce";
  {
    const std::size_t layers = j.sizes.size() - 1;
    const toml::node* n = r.get("model", "activations");
    const std::string allowed = "must be an array of " + std::to_string(layers) +
                                " names (relu, sigmoid, tanh, identity; the last may be " +
                                (softmax ? "softmax" : "sigmoid") + " for loss \"" + loss + "\")";
    if (n == nullptr) {
      j.activations.assign(layers, "relu");
      j.activations.back() = "identity";
    } else {
      if (!n->is_array() || n->as_array()->size() != layers) r.fail("model", "activations", n, allowed);
      for (std::size_t i = 0; i < layers; ++i) {
        const auto* e = n->as_array()->get(i);
        if (!e->is_string()) r.fail("model", "activations", n, allowed);
        std::string a = e->as_string()->get();
        const bool last = i + 1 == layers;
        if (last && ((softmax && a == "softmax") || (!softmax && a == "sigmoid"))) a = "identity";  // in the loss
        if (a == "linear" || a == "none") a = "identity";
        if (a != "relu" && a != "sigmoid" && a != "tanh" && a != "identity") r.fail("model", "activations", n, allowed);
        if (last && a != "identity") r.fail("model", "activations", n, allowed);
        j.activations.push_back(a);
      }
    }
  }
  if (softmax && j.sizes.back() < 2) {
    const toml::node* n = r.get("model", "layers");
    r.fail("model", "layers", n, "cross_entropy needs at least 2 outputs (use loss = \"bce\" for one)");
  }
  if (!j.positive_classes.empty() && softmax && j.sizes.back() != 2) {
    r.fail("model", "loss", r.get("model", "loss"), "positive_classes makes 2 classes: use \"bce\" with 1 output or cross_entropy with 2");
  }
  j.backend = r.string("model", "backend", "cpu", {"cpu", "cuda"});

  // [optimizer]
  r.string("optimizer", "name", "adam", {"adam"});
  j.adam.lr = static_cast<float>(r.number("optimizer", "lr", 1e-3, 0.0, 10.0, true, false));
  if (const toml::node* n = r.get("optimizer", "betas")) {
    const std::string allowed = "must be an array of 2 numbers in [0, 1)";
    if (!n->is_array() || n->as_array()->size() != 2) r.fail("optimizer", "betas", n, allowed);
    float b[2];
    for (int i = 0; i < 2; ++i) {
      const auto* e = n->as_array()->get(static_cast<std::size_t>(i));
      double v = e->is_integer() ? static_cast<double>(e->as_integer()->get())
                                 : e->is_floating_point() ? e->as_floating_point()->get() : -1.0;
      if (!(v >= 0.0 && v < 1.0)) r.fail("optimizer", "betas", n, allowed);
      b[i] = static_cast<float>(v);
    }
    j.adam.beta1 = b[0];
    j.adam.beta2 = b[1];
  }
  j.adam.eps = static_cast<float>(r.number("optimizer", "eps", 1e-8, 0.0, 1.0, true, false));
  j.adam.weight_decay = static_cast<float>(r.number("optimizer", "weight_decay", 0.0, 0.0, 1.0, false, false));
  j.lr_final = static_cast<float>(r.number("optimizer", "lr_final", 1.0, 0.0, 1.0, true, false));

  // [training]
  j.batch = r.integer("training", "batch", 64, 1, 65536);
  j.epochs = static_cast<int>(r.integer("training", "epochs", 1, 1, 100000));
  j.max_steps = r.integer("training", "max_steps", 0, 0, int64_t{1} << 40);
  j.seed = static_cast<uint64_t>(r.integer("training", "seed", 42, 0, INT64_MAX));
  const std::string mode = r.string("training", "consistency", "sync", {"sync", "backup", "ssp", "async"});
  j.mode = mode == "sync" ? Consistency::sync : mode == "backup" ? Consistency::backup
           : mode == "ssp"  ? Consistency::ssp : Consistency::async;
  j.bucket_bytes = r.integer("training", "bucket_bytes", j.bucket_bytes, 0, int64_t{1} << 30);
  j.shard_timeout_s = r.number("training", "shard_timeout_s", j.shard_timeout_s, 0.0, 86400.0, true, false);

  // [cluster]
  j.trainers = static_cast<int>(r.integer("cluster", "trainers", 1, 1, 256));
  j.loaders = static_cast<int>(r.integer("cluster", "loaders", 1, 1, j.trainers));
  j.trainer_threads = static_cast<int>(r.integer("cluster", "trainer_threads", 1, 1, 256));
  int64_t params = 0;
  for (std::size_t i = 0; i + 1 < j.sizes.size(); ++i) params += j.sizes[i] * j.sizes[i + 1] + j.sizes[i + 1];
  j.shards = static_cast<int>(r.integer("cluster", "shards", 1, 1, std::min<int64_t>(256, params)));
  {
    // Before anything is allocated: a trainer holds the parameters and their
    // gradients, and two activations of the widest layer per sample of a
    // batch (float32). Sizes ≤ 10^6 keep every product within int64.
    int64_t widest = 0;
    for (int64_t s : j.sizes) widest = std::max(widest, s);
    const uint64_t need = uint64_t{8} * static_cast<uint64_t>(params) +
                          uint64_t{8} * static_cast<uint64_t>(j.batch) * static_cast<uint64_t>(widest) *
                              static_cast<uint64_t>(j.sizes.size());
    const uint64_t budget = memory_budget_bytes();
    if (need > budget)
      r.fail("model", "layers", r.get("model", "layers"),
             "has " + std::to_string(params) + " parameters: a trainer needs " + std::to_string(need) +
                 " bytes for them, their gradients and a batch's activations, more than the " +
                 std::to_string(budget) + " this process may allocate");
  }

  // mode parameters, checked against [cluster]
  j.backup = static_cast<int>(r.integer("training", "backup", j.mode == Consistency::backup ? 1 : 0,
                                        j.mode == Consistency::backup ? 1 : 0, j.trainers - 1));
  j.staleness = static_cast<int>(r.integer("training", "staleness", j.mode == Consistency::ssp ? 1 : 0, 0, 1000000));

  // [early_stopping]
  c.stop_metric = r.string("early_stopping", "metric", "",
                           {"val_loss", "val_accuracy", "test_loss", "test_accuracy", "train_loss"});
  c.patience = static_cast<int>(r.integer("early_stopping", "patience", 5, 1, 100000));
  c.min_delta = r.number("early_stopping", "min_delta", 0.0, 0.0, 1e9, false, false);
  if (c.stop_metric.rfind("val_", 0) == 0 && j.val_fraction <= 0.0)
    r.fail("early_stopping", "metric", r.get("early_stopping", "metric"),
           "needs [data] validation_split > 0 (or use test_*/train_loss)");
  if (c.stop_metric.rfind("test_", 0) == 0 && j.test_images.empty())
    r.fail("early_stopping", "metric", r.get("early_stopping", "metric"), "needs [data] test_images and test_labels");

  // [checkpoint]
  j.checkpoint_dir = r.string("checkpoint", "dir", "");
  j.checkpoint_every = r.integer("checkpoint", "interval", 0, 0, int64_t{1} << 40);
  if (j.checkpoint_every > 0 && j.checkpoint_dir.empty())
    r.fail("checkpoint", "dir", nullptr, "must be set when [checkpoint] interval > 0");

  // [output]
  c.output_dir = r.string("output", "dir", "troupe-train-out");
  if (c.output_dir.empty()) r.fail("output", "dir", r.get("output", "dir"), "must be a non-empty path");
  c.progress = r.string("output", "progress", "auto", {"auto", "bar", "lines", "none"});
  c.name = r.string("output", "name", "");
  if (r.get("output", "name") != nullptr && c.name.empty())
    r.fail("output", "name", r.get("output", "name"), "must be a non-empty string");

  r.check_unknown();
  (void)mlp_spec(j);  // the kernels agree (throws Exception(invalid_argument) otherwise)
  return c;
}

}  // namespace

bool metric_lower_is_better(const std::string& metric) { return metric.find("loss") != std::string::npos; }

Result<TrainConfig> parse_train_config(std::string_view text, const std::string& source) {
  try {
    toml::table root = toml::parse(text, source);
    return parse(root, source);
  } catch (const toml::parse_error& e) {
    std::ostringstream o;
    o << source << ":" << e.source().begin.line << ":" << e.source().begin.column << ": " << e.description();
    return Error(Errc::invalid_argument, o.str());
  } catch (const Bad& b) {
    return Error(Errc::invalid_argument, b.line);
  } catch (const Exception& e) {  // mlp_spec: the message alone, as for any other bad value
    return Error(Errc::invalid_argument, source + ": " + e.error().message);
  } catch (const std::exception& e) {
    return Error(Errc::invalid_argument, source + ": " + e.what());
  }
}

Result<TrainConfig> load_train_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error(Errc::invalid_argument, path + ": cannot read the config file (" + std::strerror(errno) + ")");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_train_config(ss.str(), path);
}

}  // namespace troupe::train
