// SPDX-License-Identifier: Apache-2.0
// io/: safetensors reading and writing, validation of hostile files (every malformed header, offsets out of
// range, overlaps, holes, a checkpoint truncated at every byte, every header byte flipped), checkpoints of
// learners, and resuming a fit from a checkpoint file bit for bit.
#include "test_support.hpp"

#include <cstring>
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include <metarm/io.hpp>

using namespace metarm;
using test::index_t;

namespace io_test {

namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    static int counter = 0;
    path = std::filesystem::temp_directory_path() /
           ("metarm_io_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string at(const std::string& name) const { return (path / name).string(); }
};

// A safetensors file from a header written by hand and `data_bytes` bytes of data.
std::vector<unsigned char> handmade(const std::string& header, std::size_t data_bytes) {
  std::vector<unsigned char> out(8 + header.size() + data_bytes, 0);
  const std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<unsigned char>(n >> (8 * i));
  std::memcpy(out.data() + 8, header.data(), header.size());
  return out;
}

void expect_refused(const std::vector<unsigned char>& bytes, std::initializer_list<const char*> fragments) {
  test::require_error_naming([&] { SafetensorsFile::parse("bad.safetensors", bytes); }, fragments);
}

bool same_bits(const auto& a, const auto& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(a[0])) == 0;
}

}  // namespace

TEST_CASE("safetensors: written files read back with dtypes, shapes, metadata and aligned data", "[io][safetensors]") {
  SafetensorsWriter w;
  const std::vector<float> f{1.5f, -2.0f, 3.25f, 0.0f, 5.0f, 6.0f};
  const std::vector<double> d{1e-300, -7.0};
  const std::vector<std::int64_t> i{-1, 0, 1LL << 40};
  const std::vector<std::uint64_t> u{~0ULL};
  w.add<float>("weight", {2, 3}, f);
  w.add<double>("bias", {2}, d);
  w.add<std::int64_t>("order", {3}, i);
  w.add<std::uint64_t>("state", {1}, u);
  w.add<float>("empty", {0, 4}, std::vector<float>{});
  w.set_metadata("format", "test");
  w.set_metadata("note", "ünïcödé \"quoted\"");
  const auto bytes = w.serialize();
  std::uint64_t header = 0;
  for (int k = 7; k >= 0; --k) header = (header << 8) | bytes[static_cast<std::size_t>(k)];
  CHECK((8 + header) % 8 == 0);  // the data section starts 8-byte aligned

  const SafetensorsFile file = SafetensorsFile::parse("round.safetensors", bytes);
  CHECK(file.tensors().size() == 5);
  CHECK(file.metadata().at("note") == "ünïcödé \"quoted\"");
  const std::vector<std::int64_t> shape{2, 3};
  CHECK(file.values<float>("weight", &shape) == f);
  CHECK(file.values<double>("bias") == d);
  CHECK(file.values<std::int64_t>("order") == i);
  CHECK(file.values<std::uint64_t>("state") == u);
  CHECK(file.values<float>("empty").empty());
  CHECK(file.tensor("weight").dtype == Dtype::F32);
  test::require_error_naming([&] { file.values<double>("weight"); }, {"round.safetensors", "\"weight\"", "F32", "expected F64"});
  const std::vector<std::int64_t> wrong{3, 2};
  test::require_error_naming([&] { file.values<float>("weight", &wrong); }, {"\"weight\"", "[2, 3]", "expected [3, 2]"});
  test::require_error_naming([&] { file.tensor("missing"); }, {"no tensor named \"missing\""});

  // A file laid out by hand as the format's documentation shows it.
  const auto doc = handmade(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"k":"v"}})", 8);
  CHECK(SafetensorsFile::parse("doc.safetensors", doc).tensor("a").shape == std::vector<std::int64_t>{2});

  TempDir dir;
  w.write(dir.at("file.safetensors"));
  CHECK(SafetensorsFile::read(dir.at("file.safetensors")).values<float>("weight") == f);
  // The temporary file was renamed away; only the target is left.
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path), std::filesystem::directory_iterator{}) == 1);
  test::require_error_naming([&] { w.write(dir.at("no/such/dir/file.safetensors")); },
                             {"no/such/dir/file.safetensors", "temporary file"});
  test::require_error_naming([&] { w.add<float>("weight", {1}, std::vector<float>{1}); }, {"added twice"});
  test::require_error_naming([&] { w.add<float>("x", {2, 2}, std::vector<float>{1}); }, {"\"x\"", "needs 4 values"});
}

TEST_CASE("safetensors: malformed files are refused with the reason", "[io][safetensors][errors]") {
  const std::string tensor = R"("t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  expect_refused({1, 2, 3}, {"bad.safetensors", "too short"});
  auto beyond = handmade("{" + tensor + "}", 8);
  beyond[0] = 0xFF;  // header length far beyond the file
  expect_refused(beyond, {"header length", "exceeds"});
  auto huge = handmade("{}", 0);
  huge[7] = 0x7F;
  expect_refused(huge, {"exceeds"});
  expect_refused(handmade("not json at all", 0), {"does not start with '{'"});
  expect_refused(handmade("{\"t\": [1, 2", 0), {"not valid JSON"});
  expect_refused(handmade("{\"a\": \"\xC3\x28\"}", 0), {"not valid UTF-8"});
  expect_refused(handmade(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,80]}})", 8), {"\"t\"", "outside the data section"});
  expect_refused(handmade(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8), {"\"t\"", "outside"});
  expect_refused(handmade(R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8), {"\"t\"", "need 12"});
  expect_refused(handmade(R"({"t":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}})", 8), {"dtype F64", "need 16"});
  expect_refused(handmade(R"({"t":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}})", 8), {"unknown dtype \"Q7\""});
  expect_refused(handmade(R"({"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8), {"non-negative integers"});
  expect_refused(handmade(R"({"t":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}})", 8),
                 {"too large"});
  expect_refused(handmade(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", 8), {"data_offsets"});
  expect_refused(handmade(R"({"t":{"dtype":"F32","shape":[2]}})", 8), {"data_offsets"});
  expect_refused(handmade(R"({"t":{"shape":[2],"data_offsets":[0,8]}})", 8), {"\"dtype\" is missing"});
  expect_refused(handmade(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":1}})", 8), {"unknown field \"extra\""});
  expect_refused(handmade(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12),
                 {"overlaps"});
  expect_refused(handmade(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8), {"unused bytes [0, 4)"});
  expect_refused(handmade("{" + tensor + "}", 12), {"4 bytes after its last tensor"});
  expect_refused(handmade("{" + tensor + "," + tensor + "}", 8), {"names \"t\" twice"});
  expect_refused(handmade(R"({"__metadata__":{"k":1}})", 0), {"\"__metadata__\"", "not a string"});
  expect_refused(handmade(R"({"__metadata__":[1]})", 0), {"\"__metadata__\" must be an object"});
  expect_refused(handmade("[1]", 0), {"does not start with '{'"});
  expect_refused(handmade(R"({"t":5})", 0), {"\"t\"", "not an object"});
  test::require_error_naming([] { SafetensorsFile::read("/nonexistent/x.safetensors"); }, {"/nonexistent/x.safetensors", "cannot open"});
}

namespace {

// A small trained checkpoint's bytes.
std::vector<unsigned char> small_checkpoint_bytes(const std::string& path) {
  Rng rng(40);
  const auto w = test::random_vector<double>(rng, 3);
  const auto pairs = test::separable_pairs<float>(rng, 3, 40, w);
  const auto meta = test::random_meta<float>(rng, 3, 6, {2, 3});
  MetaLearner learner(Mlp<ReLU, float>(3, {2}), MetaRM(0.1), Adam{}, LearnerOptions{.seed = 1});
  learner.fit(pairs, &meta, FitOptions<float>{.epochs = 1, .batch_size = 8, .meta_batch_size = 2, .max_steps = 3});
  save_checkpoint(path, learner, {{"featurizer", "none"}});
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("safetensors: a checkpoint truncated at every byte, or with any header byte changed, never crashes",
          "[io][safetensors][errors]") {
  TempDir dir;
  const auto bytes = small_checkpoint_bytes(dir.at("small.safetensors"));
  REQUIRE(bytes.size() > 1000);
  CHECK_NOTHROW(Checkpoint(SafetensorsFile::parse("small.safetensors", bytes)));
  // Every proper prefix is refused (shorter than the header, or its tensors no longer fit the data).
  std::size_t refused = 0;
  for (std::size_t length = 0; length < bytes.size(); ++length) {
    std::vector<unsigned char> cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(length));
    try {
      SafetensorsFile::parse("cut.safetensors", std::move(cut));
    } catch (const Error& e) {
      ++refused;
      continue;
    }
    FAIL("a checkpoint cut to " << length << " of " << bytes.size() << " bytes was accepted");
  }
  CHECK(refused == bytes.size());
  // Through the file path too, for a few lengths.
  for (std::size_t length : {std::size_t{0}, std::size_t{7}, std::size_t{8}, bytes.size() / 2, bytes.size() - 1}) {
    std::ofstream(dir.at("cut.safetensors"), std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                                     static_cast<std::streamsize>(length));
    test::require_error_naming([&] { Checkpoint::read(dir.at("cut.safetensors")); }, {"cut.safetensors"});
  }
  // Changing any byte of the length or the header either leaves a valid file or is refused with an Error.
  std::uint64_t header = 0;
  for (int k = 7; k >= 0; --k) header = (header << 8) | bytes[static_cast<std::size_t>(k)];
  for (std::size_t at = 0; at < 8 + header; ++at) {
    for (unsigned char flip : {0x01, 0x80, 0xFF}) {
      auto changed = bytes;
      changed[at] ^= flip;
      try {
        SafetensorsFile::parse("changed.safetensors", std::move(changed));
      } catch (const Error&) {
      }
    }
  }
}

// A write killed between mkstemp and rename leaves "<target>.tmp-XXXXXX"; the next save to that target removes
// such files, and only those: not another target's, not a near miss of the pattern, not a link.
TEST_CASE("a save removes the temporary files that interrupted saves to the same path left", "[io][checkpoint]") {
  TempDir dir;
  Rng rng(44);
  const index_t d = 3;
  const auto w = test::random_vector<double>(rng, d);
  MetaLearner learner(Mlp<Tanh, double>(d, {2}), Vanilla{}, Sgd{}, LearnerOptions{.seed = 1});
  learner.fit(test::separable_pairs<double>(rng, d, 20, w), nullptr, FitOptions<double>{.epochs = 1, .batch_size = 10});
  const std::string target = dir.at("c.safetensors");
  save_checkpoint(target, learner);
  const auto touch = [&](const std::string& name) { std::ofstream(dir.at(name)) << "partial"; };
  touch("c.safetensors.tmp-aB3xY9");  // stale, twice
  touch("c.safetensors.tmp-000000");
  const std::vector<std::string> kept = {"d.safetensors.tmp-aB3xY9", "c.safetensors.tmp-aB3xY",
                                         "c.safetensors.tmp-aB3xY9z", "c.safetensors.tmp-aB3x.9", "xc.safetensors.tmp-aB3xY9"};
  for (const auto& name : kept) touch(name);
  std::filesystem::create_symlink(dir.at("d.safetensors.tmp-aB3xY9"), dir.at("c.safetensors.tmp-link00"));
  std::filesystem::create_directory(dir.at("c.safetensors.tmp-dir000"));

  save_checkpoint(target, learner);
  CHECK_FALSE(std::filesystem::exists(dir.at("c.safetensors.tmp-aB3xY9")));
  CHECK_FALSE(std::filesystem::exists(dir.at("c.safetensors.tmp-000000")));
  for (const auto& name : kept) {
    INFO(name);
    CHECK(std::filesystem::exists(dir.at(name)));
  }
  CHECK(std::filesystem::is_symlink(dir.at("c.safetensors.tmp-link00")));
  CHECK(std::filesystem::is_directory(dir.at("c.safetensors.tmp-dir000")));
  // The checkpoint itself is whole, and no temporary file of this save remains.
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path)) ++entries;
  CHECK(entries == 1 + kept.size() + 2);
  CHECK(Checkpoint::read(target).model_description() == "mlp<tanh>(3,2,1)");
}

TEST_CASE("non-finite parameters or optimiser state are not written over a good checkpoint", "[io][checkpoint]") {
  TempDir dir;
  Rng rng(45);
  const index_t d = 3;
  const auto w = test::random_vector<double>(rng, d);
  MetaLearner learner(Mlp<Tanh, double>(d, {2}), Vanilla{}, Adam{}, LearnerOptions{.seed = 1});
  learner.fit(test::separable_pairs<double>(rng, d, 20, w), nullptr, FitOptions<double>{.epochs = 1, .batch_size = 10});
  const std::string target = dir.at("c.safetensors");
  save_checkpoint(target, learner);
  const auto read_bytes = [&] {
    std::ifstream in(target, std::ios::binary);
    return std::vector<char>(std::istreambuf_iterator<char>(in), {});
  };
  const auto good = read_bytes();
  const auto saved = learner.parameters();

  for (const double bad : {std::nan(""), double(INFINITY)}) {
    auto values = saved;
    values[values.size() - 2] = bad;  // head.weight's last value (head.bias is last)
    learner.set_parameters(values);
    try {
      save_checkpoint(target, learner);
      FAIL("a checkpoint with a non-finite parameter was written");
    } catch (const Error& e) {
      const std::string what = e.what();
      INFO(what);
      CHECK(what.find(target) != std::string::npos);
      CHECK(what.find("not written") != std::string::npos);
      CHECK(what.find("'head.weight'") != std::string::npos);
    }
    CHECK(read_bytes() == good);
  }
  // The optimiser's state is checked too.
  learner.set_parameters(saved);
  auto& state = learner.training_state();
  bool poisoned = false;
  state.for_each_saved_vector([&](const std::string& prefix, auto& vector) {
    if (!poisoned && !prefix.empty()) {
      std::vector<double> nan(1, std::nan(""));
      cpu::context ctx;
      cpu::copy_from_host(ctx, nan.data(), VectorView<double>{vector.view().data, 1});
      poisoned = true;
    }
  });
  REQUIRE(poisoned);
  CHECK_THROWS_WITH(save_checkpoint(target, learner), Catch::Contains("optimizer."));
  CHECK(read_bytes() == good);
  learner.set_parameters(saved);
}

TEST_CASE("checkpoints restore parameters, optimiser state, update count and metadata", "[io][checkpoint]") {
  TempDir dir;
  Rng rng(41);
  const index_t d = 6;
  const auto w = test::random_vector<double>(rng, d);
  const auto pairs = test::separable_pairs<double>(rng, d, 100, w);
  MetaLearner trained(Mlp<Tanh, double>(d, {4, 3}), Vanilla{}, AdamW{.learning_rate = 1e-2}, LearnerOptions{.seed = 2});
  trained.fit(pairs, nullptr, FitOptions<double>{.epochs = 2, .batch_size = 10});
  save_checkpoint(dir.at("c.safetensors"), trained, {{"featurizer", "hash:10"}, {"reward_mean", "0.25"}});

  const Checkpoint c = Checkpoint::read(dir.at("c.safetensors"));
  CHECK(c.model_description() == "mlp<tanh>(6,4,3,1)");
  CHECK(c.value("library_version") == std::string(metarm::version));
  CHECK(c.value("featurizer") == "hash:10");
  CHECK(c.number("reward_mean") == 0.25);
  CHECK(c.integer("updates") == 20);
  CHECK(c.value("optimizer") == "adamw");
  CHECK(c.value("strategy") == "vanilla");
  CHECK(c.has_fit_state());
  // Blocks are row-major with the layout's shape: hidden.0.weight is [outputs, inputs] like nn.Linear.
  const auto params = trained.parameters();
  const TensorInfo& w0 = c.file().tensor("hidden.0.weight");
  CHECK(w0.shape == std::vector<std::int64_t>{4, 6});
  const auto w0_values = c.file().values<double>("hidden.0.weight");
  CHECK(w0_values[1] == params[4]);  // W(0, 1) is column-major element 0 + 1 * 4
  CHECK(c.file().tensor("head.bias").shape == std::vector<std::int64_t>{1});

  MetaLearner restored(Mlp<Tanh, double>(d, {4, 3}), Vanilla{}, AdamW{.learning_rate = 1e-2}, LearnerOptions{.seed = 99});
  c.restore_training_state(restored);
  CHECK(same_bits(restored.parameters(), params));
  CHECK(restored.updates() == 20);
  for (std::size_t s = 0; s < 2; ++s) {
    const auto& a = trained.training_state().optimizer_state(s).storage();
    const auto& b = restored.training_state().optimizer_state(s).storage();
    CHECK(std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.size()) * sizeof(double)) == 0);
  }

  MetaLearner other_model(Mlp<Tanh, double>(d, {5, 3}), Vanilla{}, AdamW{}, LearnerOptions{});
  test::require_error_naming([&] { c.restore_parameters(other_model); }, {"c.safetensors", "mlp<tanh>(6,4,3,1)", "mlp<tanh>(6,5,3,1)"});
  MetaLearner other_scalar(Mlp<Tanh, float>(d, {4, 3}), Vanilla{}, AdamW{}, LearnerOptions{});
  test::require_error_naming([&] { c.restore_parameters(other_scalar); }, {"F64", "uses F32"});
  MetaLearner other_optimizer(Mlp<Tanh, double>(d, {4, 3}), Vanilla{}, Momentum{}, LearnerOptions{});
  test::require_error_naming([&] { c.restore_training_state(other_optimizer); }, {"optimizer adamw", "momentum"});

  // A safetensors file that is not a checkpoint, and checkpoints with a tensor too few or too many.
  SafetensorsWriter plain;
  plain.add<float>("x", {1}, std::vector<float>{1});
  plain.write(dir.at("plain.safetensors"));
  test::require_error_naming([&] { Checkpoint::read(dir.at("plain.safetensors")); }, {"not a metarm checkpoint"});
  SafetensorsWriter partial;
  for (const auto& [key, value] : c.metadata()) partial.set_metadata(key, value);
  partial.add<double>("hidden.0.weight", {4, 6}, w0_values);
  test::require_error_naming([&] { Checkpoint(SafetensorsFile::parse("p", partial.serialize())).restore_parameters(restored); },
                             {"no tensor named \"hidden.0.bias\""});
  partial.add<double>("stray", {1}, std::vector<double>{1});
  test::require_error_naming([&] { Checkpoint(SafetensorsFile::parse("p", partial.serialize())).restore_parameters(restored); },
                             {"\"stray\" is not a block"});
}

namespace {

// Stops the fit after `at` steps, as a crash would, right after SaveCheckpoints wrote its file.
struct StopAfter {
  std::int64_t at;
  std::string_view name() const { return "StopAfter"; }
  bool on_step(const StepEvent& e) { return e.step >= at; }
};

template <class Make, class PairSet, class MetaSetT, class Options>
void check_file_resume(Make make, const PairSet& train, const MetaSetT& meta, const Options& fit, std::int64_t cut,
                       const std::string& path) {
  auto whole = make();
  whole.fit(train, &meta, fit);

  auto first = make();
  using Learner = decltype(first);
  SaveCheckpoints<Learner> saver(first, path, /*every_steps=*/1);
  first.fit(train, &meta, fit, saver, StopAfter{cut});
  REQUIRE(first.fit_state().steps == cut);

  auto second = make();
  const Checkpoint checkpoint = Checkpoint::read(path);
  checkpoint.restore_training_state(second);
  const FitState state = checkpoint.fit_state();
  Options rest = fit;
  rest.resume = &state;
  second.fit(train, &meta, rest);
  CHECK(same_bits(second.parameters(), whole.parameters()));
  CHECK(second.updates() == whole.updates());
}

}  // namespace

TEST_CASE("a fit resumed from a checkpoint file continues bit for bit", "[io][checkpoint][resume]") {
  TempDir dir;
  Rng rng(42);
  const index_t d = 8;
  const auto w = test::random_vector<double>(rng, d);
  const auto train = test::separable_pairs<float>(rng, d, 90, w);
  const auto meta = test::random_meta<float>(rng, d, 17, {2, 3, 4});
  for (std::int64_t cut : {1, 6, 7, 12, 17}) {  // 6 batches per epoch: epoch ends and mid-epoch
    INFO("interrupted after step " << cut);
    check_file_resume([&] { return MetaLearner(Mlp<GELU, float>(d, {5}), MetaRM(0.3), Adam{.learning_rate = 1e-2},
                                               LearnerOptions{.seed = 5, .step = {.clip_norm = 1.0}}); },
                      train, meta, FitOptions<float>{.epochs = 3, .batch_size = 16, .meta_batch_size = 4}, cut,
                      dir.at("dense.safetensors"));
  }
  // Sparse features, as the command-line program trains them.
  std::vector<TextPair> text;
  for (int i = 0; i < 60; ++i) {
    text.push_back({"\n\nHuman: q" + std::to_string(i) + "\n\nAssistant:", "good answer " + std::to_string(i % 7),
                    "bad reply " + std::to_string(i % 5)});
  }
  const TextFeaturizer featurizer(FeaturizerSettings{.bits = 10});
  const auto sparse_train = featurize_pairs(featurizer, text);
  const auto sparse_meta = featurize_prompts(featurizer, prompts_from_pairs(text));
  check_file_resume(
      [&] {
        return SparseMetaLearner<LinearModel<float>, MetaRM, AdamW>(LinearModel<float>(featurizer.dim()), MetaRM(1.0),
                                                                    AdamW{}, LearnerOptions{.seed = 6});
      },
      sparse_train, sparse_meta, FitOptions<float, SparseInput<float>>{.epochs = 4, .batch_size = 8, .meta_batch_size = 3}, 11,
      dir.at("sparse.safetensors"));
  // A checkpoint saved before any fit holds no fit state.
  MetaLearner fresh(LinearModel<float>(d), Vanilla{}, Sgd{}, LearnerOptions{});
  save_checkpoint(dir.at("fresh.safetensors"), fresh);
  const Checkpoint c = Checkpoint::read(dir.at("fresh.safetensors"));
  CHECK_FALSE(c.has_fit_state());
  test::require_error_naming([&] { c.fit_state(); }, {"no fit state"});
}

}  // namespace io_test
