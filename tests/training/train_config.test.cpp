// `troupe train` configs: every bad value gives one line naming the key, the
// value and what is allowed; a good config parses to the job it describes.
#include <doctest/doctest.h>

#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "actors/training/train_config.hpp"

using namespace troupe::train;

namespace {

/// A readable regular file for the data keys (the config checks that much; not its contents).
std::string regular_file() {
  std::string path = "/tmp/troupe-config-test-XXXXXX";
  const int fd = ::mkstemp(path.data());  // at static initialisation: no doctest assertion yet
  if (fd >= 0) ::close(fd);
  return path;
}

const std::string kData = regular_file();

const std::string kGood = R"(
[data]
train_images = ")" + kData + R"("
train_labels = ")" + kData + R"("
validation_split = 0.2
[model]
layers = [784, 100, 100, 1]
activations = ["relu", "relu", "sigmoid"]
loss = "bce"
[optimizer]
lr = 0.01
betas = [0.9, 0.999]
[training]
batch = 32
epochs = 100
consistency = "sync"
[cluster]
trainers = 2
loaders = 2
shards = 1
[early_stopping]
metric = "val_loss"
patience = 5
[output]
dir = "out"
)";

/// kGood with `line` replacing the line that starts with the same key in `section`
/// (or added to the section when absent).
std::string with(const std::string& section, const std::string& line) {
  const std::string key = line.substr(0, line.find(' '));
  std::string s = kGood;
  const std::size_t sec = s.find("[" + section + "]");
  REQUIRE(sec != std::string::npos);
  const std::size_t end = s.find("\n[", sec + 1);
  const std::size_t at = s.find("\n" + key + " ", sec);
  if (at != std::string::npos && (end == std::string::npos || at < end)) {
    const std::size_t eol = s.find('\n', at + 1);
    s.replace(at + 1, eol - at - 1, line);
  } else {
    s.insert(s.find('\n', sec) + 1, line + "\n");
  }
  return s;
}

}  // namespace

TEST_CASE("a good config parses into the job it describes") {
  auto c = parse_train_config(kGood, "good.toml");
  REQUIRE_MESSAGE(c.ok(), c.error().message);
  CHECK(c->job.sizes == std::vector<int64_t>{784, 100, 100, 1});
  CHECK(c->job.activations == std::vector<std::string>{"relu", "relu", "identity"});  // sigmoid is in the loss
  CHECK(c->job.loss == "sigmoid_bce");
  CHECK(c->job.adam.lr == doctest::Approx(0.01));
  CHECK(c->job.batch == 32);
  CHECK(c->job.trainers == 2);
  CHECK(c->job.bucket_bytes == 65536);  // the default
  auto b = parse_train_config(with("training", "bucket_bytes = 0"), "good.toml");
  REQUIRE_MESSAGE(b.ok(), b.error().message);
  CHECK(b->job.bucket_bytes == 0);
  CHECK(c->job.shard_timeout_s == doctest::Approx(120));  // the default
  auto t = parse_train_config(with("training", "shard_timeout_s = 7.5"), "good.toml");
  REQUIRE_MESSAGE(t.ok(), t.error().message);
  CHECK(t->job.shard_timeout_s == doctest::Approx(7.5));
  CHECK(c->stop_metric == "val_loss");
  CHECK(c->patience == 5);
  CHECK(c->output_dir == "out");
}

TEST_CASE("each bad config value gives its one-line error naming key, value and what is allowed") {
  struct Case {
    std::string section, line, expect;
  };
  const Case cases[] = {
      {"training", "batch = -3", "[training] batch = -3: must be an integer in [1, 65536]"},
      {"training", "batch = \"big\"", "[training] batch = \"big\": must be an integer"},
      {"training", "epochs = 0", "[training] epochs = 0: must be an integer in [1, 100000]"},
      {"training", "consistency = \"eventual\"", "[training] consistency = \"eventual\": must be one of sync, backup, ssp, async"},
      {"training", "consistency = \"backup\"\nbackup = 2", "[training] backup = 2: must be an integer in [1, 1]"},
      {"training", "seed = -1", "[training] seed = -1: must be an integer in [0,"},
      {"training", "bucket_bytes = -1", "[training] bucket_bytes = -1: must be an integer in [0, 1073741824]"},
      {"training", "bucket_bytes = 1.5", "[training] bucket_bytes = 1.5: must be an integer in [0, 1073741824]"},
      {"training", "shard_timeout_s = 0", "[training] shard_timeout_s = 0: must be a number in (0, 86400]"},
      {"training", "shard_timeout_s = \"long\"", "[training] shard_timeout_s = \"long\": must be a number"},
      {"optimizer", "lr = 0", "[optimizer] lr = 0: must be a number in (0, 10]"},
      {"optimizer", "lr = -0.5", "[optimizer] lr = -0.5: must be a number in (0, 10]"},
      {"optimizer", "betas = [0.9, 1.5]", "[optimizer] betas = [0.9, 1.5]: must be an array of 2 numbers in [0, 1)"},
      {"optimizer", "eps = 0", "[optimizer] eps = 0: must be a number in (0, 1]"},
      {"optimizer", "name = \"sgd\"", "[optimizer] name = \"sgd\": must be one of adam"},
      {"model", "layers = [784]", "[model] layers = [784]: must be an array of at least 2 integers"},
      {"model", "layers = [784, 0, 1]", "[model] layers = [784, 0, 1]: must be an array of at least 2 integers"},
      {"model", "activations = [\"relu\", \"gelu\", \"sigmoid\"]", "[model] activations = [\"relu\", \"gelu\", \"sigmoid\"]: must be an array of 3 names"},
      {"model", "activations = [\"relu\", \"relu\"]", "must be an array of 3 names"},
      {"model", "loss = \"hinge\"", "[model] loss = \"hinge\": must be one of cross_entropy, softmax_ce, bce, sigmoid_bce"},
      {"model", "backend = \"tpu\"", "[model] backend = \"tpu\": must be one of cpu, cuda"},
      {"data", "validation_split = 1.0", "[data] validation_split = 1.0: must be a number in [0, 1)"},
      {"data", "train_images = \"/no/such/file\"", "[data] train_images = \"/no/such/file\": must name a readable file"},
      {"data", "train_labels = \"/dev/zero\"", "[data] train_labels = \"/dev/zero\": must name a regular file, not a character device"},
      {"data", "train_images = \"/tmp\"", "[data] train_images = \"/tmp\": must name a regular file, not a folder"},
      {"model", "layers = [784, 1000000, 1000000, 10]",
       "[model] layers = [784, 1000000, 1000000, 10]: has 1000796000010 parameters: a trainer needs"},
      {"data", "positive_classes = []", "[data] positive_classes = []: must be a non-empty array of distinct integers"},
      {"cluster", "trainers = 0", "[cluster] trainers = 0: must be an integer in [1, 256]"},
      {"cluster", "loaders = 3", "[cluster] loaders = 3: must be an integer in [1, 2]"},
      {"cluster", "shards = 0", "[cluster] shards = 0: must be an integer in [1, 256]"},
      {"early_stopping", "metric = \"f1\"", "[early_stopping] metric = \"f1\": must be one of val_loss"},
      {"early_stopping", "patience = 0", "[early_stopping] patience = 0: must be an integer in [1, 100000]"},
      {"checkpoint", "interval = 10", "[checkpoint] dir = (missing): must be set when [checkpoint] interval > 0"},
      {"output", "progress = \"loud\"", "[output] progress = \"loud\": must be one of auto, bar, lines, none"},
      {"output", "name = \"\"", "[output] name = \"\": must be a non-empty string"},
      {"training", "bacth = 32", "unknown key [training] bacth (allowed:"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.line);
    std::string text;
    if (c.section == "checkpoint")
      text = kGood + "[checkpoint]\n" + c.line + "\n";
    else
      text = with(c.section, c.line);
    auto r = parse_train_config(text, "bad.toml");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == troupe::Errc::invalid_argument);
    CHECK(r.error().message.find('\n') == std::string::npos);
    CHECK(r.error().message.rfind("bad.toml: ", 0) == 0);
    CHECK_MESSAGE(r.error().message.find(c.expect) != std::string::npos, r.error().message);
  }
}

TEST_CASE("a section that is not known and TOML syntax errors are one line too") {
  auto r = parse_train_config(kGood + "[trainig]\nbatch = 3\n", "bad.toml");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("unknown section [trainig]") != std::string::npos);
  auto s = parse_train_config("[training\nbatch = 3\n", "bad.toml");
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().message.rfind("bad.toml:1:", 0) == 0);
  CHECK(s.error().message.find('\n') == std::string::npos);
}
