// SPDX-License-Identifier: Apache-2.0
// learner/, callback/, metrics/ and data/: training end to end, reproducibility, evaluation metrics,
// callbacks and stop reasons, batching, and errors on bad input.
#include "test_support.hpp"

#include <cstdio>
#include <cstring>

using namespace metarm;
using test::index_t;

namespace learner_test {

namespace {

bool same_bits(const auto& a, const auto& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(a[0])) == 0;
}

}  // namespace

TEMPLATE_TEST_CASE("training converges on a separable problem", "[learner]", float, double) {
  using T = TestType;
  Rng rng(100);
  const index_t d = 10;
  const auto w = test::random_vector<double>(rng, d);
  const auto train = test::separable_pairs<T>(rng, d, 2000, w);
  const auto test_pairs = test::separable_pairs<T>(rng, d, 1000, w);
  const auto meta = test::random_meta<T>(rng, d, 200, {4});
  const Mlp<ReLU, T> model(d, {16});
  const FitOptions<T> fit{.epochs = 10, .batch_size = 32, .meta_batch_size = 8};

  MetaLearner vanilla(model, Vanilla{}, Adam{.learning_rate = 3e-3}, LearnerOptions{.seed = 1});
  vanilla.fit(train, nullptr, fit);
  const double vanilla_accuracy = vanilla.evaluate(test_pairs).at("accuracy");
  INFO("vanilla held-out accuracy " << vanilla_accuracy);
  CHECK(vanilla_accuracy > 0.95);

  MetaLearner metarm(model, MetaRM(0.5), Adam{.learning_rate = 3e-3}, LearnerOptions{.seed = 1});
  metarm.fit(train, &meta, fit);
  const double metarm_accuracy = metarm.evaluate(test_pairs).at("accuracy");
  INFO("metarm held-out accuracy " << metarm_accuracy);
  CHECK(metarm_accuracy > 0.95);
}

TEST_CASE("a diverging fit stops naming the step and the parameter block that diverged", "[learner]") {
  Rng rng(9);
  const index_t d = 5;
  const auto w = test::random_vector<double>(rng, d);
  const auto pairs = test::separable_pairs<float>(rng, d, 64, w);
  // A learning rate near float's largest value: the first update leaves finite parameters of about 1e38, the
  // rewards of the next step overflow, and its update is not finite.
  MetaLearner learner(Mlp<Tanh, float>(d, {4}), Vanilla{}, Sgd{.learning_rate = 1e38}, LearnerOptions{.seed = 3});
  try {
    learner.fit(pairs, nullptr, FitOptions<float>{.epochs = 5, .batch_size = 16});
    FAIL("the fit did not stop");
  } catch (const Error& e) {
    const std::string what = e.what();
    INFO(what);
    CHECK(what.find("(in step ") != std::string::npos);
    CHECK(what.find("parameter block '") != std::string::npos);
    CHECK(what.find("diverged") != std::string::npos);
    CHECK(what.find("lower the learning rate") != std::string::npos);
  }
  // A fit that stays finite names no block.
  MetaLearner calm(Mlp<Tanh, float>(d, {4}), Vanilla{}, Sgd{.learning_rate = 0.1f}, LearnerOptions{.seed = 3});
  CHECK_NOTHROW(calm.fit(pairs, nullptr, FitOptions<float>{.epochs = 1, .batch_size = 16}));
}

TEST_CASE("the same seed gives identical bits and another seed does not", "[learner]") {
  Rng rng(101);
  const index_t d = 5;
  const auto w = test::random_vector<double>(rng, d);
  const auto train = test::separable_pairs<float>(rng, d, 300, w);
  const auto meta = test::random_meta<float>(rng, d, 50, {2, 4});
  const Mlp<GELU, float> model(d, {8, 8});
  const FitOptions<float> fit{.epochs = 3, .batch_size = 16, .meta_batch_size = 4};
  auto run = [&](std::uint64_t seed) {
    MetaLearner l(model, MetaRM(0.2), AdamW{.learning_rate = 1e-2}, LearnerOptions{.seed = seed});
    l.fit(train, &meta, fit);
    return l.parameters();
  };
  const auto a = run(7), b = run(7), c = run(8);
  CHECK(same_bits(a, b));
  CHECK_FALSE(same_bits(a, c));
}

TEST_CASE("evaluate reports TRL-style metrics computed from the rewards", "[learner][metrics]") {
  // A linear model with weight (1, 0) and bias 0 scores a response by its first feature.
  const LinearModel<double> model(2);
  MetaLearner learner(model, Vanilla{}, Sgd{}, LearnerOptions{});
  learner.set_parameters(std::vector<double>{1.0, 0.0, 0.0});
  PreferenceSet<double> pairs(2);
  pairs.add(std::vector<double>{2.0, 9.0}, std::vector<double>{1.0, 9.0});   // right, margin 1
  pairs.add(std::vector<double>{0.0, 9.0}, std::vector<double>{3.0, 9.0});   // wrong, margin -3
  pairs.add(std::vector<double>{1.0, 9.0}, std::vector<double>{1.0, 9.0});   // tie
  MetaSet<double> meta(2);
  meta.add_prompt(std::vector<double>{0.0, 0.0, 2.0, 0.0});  // rewards 0, 2
  const Metrics m = learner.evaluate(pairs, &meta, "eval_");
  CHECK(m.at("eval_accuracy") == Approx(0.5));  // 1 + 0 + 0.5 of 3
  CHECK(m.at("eval_margin") == Approx((1.0 - 3.0 + 0.0) / 3.0));
  CHECK(m.at("eval_rewards/chosen") == Approx(1.0));
  CHECK(m.at("eval_rewards/rejected") == Approx(5.0 / 3.0));
  CHECK(m.at("eval_rewards/min") == 0.0);
  CHECK(m.at("eval_rewards/max") == 3.0);
  CHECK(m.at("eval_rewards/mean") == Approx(8.0 / 6.0));
  const double expected_loss = (std::log1p(std::exp(-1.0)) + std::log1p(std::exp(3.0)) + std::log(2.0)) / 3.0;
  CHECK(m.at("eval_loss") == Approx(expected_loss));
  CHECK(m.at("eval_difference_objective") == Approx(0.5 / (1.0 + std::exp(-2.0))));
  CHECK(m.at("eval_reward_gap") == Approx(2.0));
  CHECK_FALSE(m.find("accuracy").has_value());
}

TEST_CASE("Metrics and StepStats format with fmt, a spec applying to each value", "[metrics]") {
  Metrics m;
  CHECK(fmt::format("{}", m) == "{}");
  m.set("accuracy", 0.75);
  m.set("rewards/chosen", -1.5);
  m.set("eval_loss", 0.1);
  CHECK(fmt::format("{}", m) == "{accuracy: 0.75, rewards/chosen: -1.5, eval_loss: 0.1}");
  CHECK(fmt::format("{:.3f}", m) == "{accuracy: 0.750, rewards/chosen: -1.500, eval_loss: 0.100}");
  CHECK(fmt::format("{:>6.2f}", m) == "{accuracy:   0.75, rewards/chosen:  -1.50, eval_loss:   0.10}");

  StepStats s;
  CHECK(fmt::format("{}", s) == "{}");
  s.loss = 0.6931;
  s.accuracy = 0.5;
  s.learning_rate = 1e-3;
  s.ascent_norm = std::numeric_limits<double>::infinity();
  CHECK(fmt::format("{}", s) == "{loss: 0.6931, ascent_norm: inf, learning_rate: 0.001, accuracy: 0.5}");
  CHECK(fmt::format("{:.2e}", s) == "{loss: 6.93e-01, ascent_norm: inf, learning_rate: 1.00e-03, accuracy: 5.00e-01}");
}

TEST_CASE("summaries, reward differences and histograms", "[metrics]") {
  const std::vector<double> chosen{1, 2, 3}, rejected{0, 2, 4};
  const auto s = summarize_preferences<double>(chosen, rejected);
  CHECK(s.accuracy == Approx(0.5));
  CHECK(s.reward_std == Approx(std::sqrt((4 + 0 + 0 + 1 + 1 + 4) / 6.0)));
  const std::vector<double> rewards{0, 1, 3, 5, 5};
  const std::vector<index_t> offsets{0, 3, 5};
  const auto gaps = reward_differences<double>(rewards, offsets);
  CHECK(gaps == std::vector<double>{1, 3, 2, 0});
  const auto h = histogram(gaps, 3, 0.0, 3.0);
  CHECK(h.counts == std::vector<std::size_t>{1, 1, 2});
  const auto clipped = histogram(std::vector<double>{-1.0, 0.5, 7.0}, 2, 0.0, 1.0);
  CHECK(clipped.underflow == 1);
  CHECK(clipped.overflow == 1);
  CHECK(clipped.total() == 3);
  test::require_error_naming([&] { summarize_preferences<double>(chosen, std::vector<double>{1.0}); }, {"'chosen'"});
  test::require_error_naming([] { histogram(std::vector<double>{}, 0, 0, 1); }, {"'bins'"});
}

TEST_CASE("batch buffers gather the listed columns, chosen first", "[data]") {
  cpu::context ctx;
  PreferenceSet<double> pairs(2);
  for (int i = 0; i < 4; ++i) pairs.add(std::vector<double>{double(i), 0.5}, std::vector<double>{-double(i), 0.5}, 0.1 * i);
  PreferenceBatchBuffer<double, cpu> pb;
  const std::vector<index_t> idx{3, 1};
  const auto batch = pb.gather(ctx, pairs, idx);
  REQUIRE(batch.features.cols == 4);
  CHECK(batch.features(0, 0) == 3.0);
  CHECK(batch.features(0, 1) == 1.0);
  CHECK(batch.features(0, 2) == -3.0);
  CHECK(batch.features(0, 3) == -1.0);
  REQUIRE(batch.margins.size == 2);
  CHECK(batch.margins[0] == Approx(0.3));

  const auto meta = MetaSet<double>::from_pairs(pairs);
  CHECK(meta.prompts() == 4);
  CHECK(meta.responses_of(2) == 2);
  MetaBatchBuffer<double, cpu> mb;
  const auto mbatch = mb.gather(ctx, meta, idx);
  REQUIRE(mbatch.offsets.size == 3);
  CHECK(mbatch.offsets[2] == 4);
  CHECK(mbatch.features(0, 1) == -3.0);
  test::require_error_naming([&] { pb.gather(ctx, pairs, std::vector<index_t>{9}); }, {"pair index 9"});
}

TEST_CASE("bad input to the public API throws metarm::Error naming the argument", "[learner][errors]") {
  const index_t d = 3;
  const Mlp<ReLU, double> model(d, {4});
  PreferenceSet<double> pairs(d);
  pairs.add(std::vector<double>{1, 2, 3}, std::vector<double>{0, 0, 0});
  MetaSet<double> meta(d);
  meta.add_prompt(std::vector<double>{1, 2, 3, 4, 5, 6});

  SECTION("dimension mismatch") {
    MetaLearner learner(model, Vanilla{}, Sgd{}, LearnerOptions{});
    PreferenceSet<double> wide(4);
    wide.add(std::vector<double>{1, 2, 3, 4}, std::vector<double>{0, 0, 0, 0});
    test::require_error_naming([&] { learner.fit(wide, nullptr, FitOptions<double>{}); },
                               {"'train'", "4 features", "expects 3"});
    test::require_error_naming([&] { learner.evaluate(wide); }, {"'pairs'"});
    test::require_error_naming([&] { pairs.add(std::vector<double>{1, 2}, std::vector<double>{1, 2, 3}); },
                               {"pair 1", "'chosen'", "expected 3"});
  }
  SECTION("k < 2") {
    test::require_error_naming([&] { meta.add_prompt(std::vector<double>{1, 2, 3}); },
                               {"prompt 1", "'responses'", "k = 1", "k >= 2"});
    test::require_error_naming([&] { meta.add_prompt(std::vector<double>{1, 2, 3, 4}); }, {"not a multiple"});
  }
  SECTION("empty sets and batches") {
    MetaLearner learner(model, MetaRM(0.1), Sgd{}, LearnerOptions{});
    test::require_error_naming([&] { learner.fit(PreferenceSet<double>(d), &meta, FitOptions<double>{}); },
                               {"'train'", "no pairs"});
    test::require_error_naming([&] { learner.fit(pairs, &meta, FitOptions<double>{.batch_size = 0}); },
                               {"'batch_size'"});
    test::require_error_naming([&] { learner.fit(pairs, &meta, FitOptions<double>{.epochs = 0}); }, {"'epochs'"});
    test::require_error_naming([&] { learner.step(PreferenceBatch<double>{}); }, {"preference batch is empty"});
    test::require_error_naming([&] { learner.evaluate(PreferenceSet<double>(d)); }, {"'pairs'", "empty"});
  }
  SECTION("NaN features and NaN rewards") {
    const double nan = std::nan("");
    test::require_error_naming([&] { pairs.add(std::vector<double>{1, nan, 3}, std::vector<double>{0, 0, 0}); },
                               {"'chosen'", "feature 1", "not finite"});
    test::require_error_naming([&] { pairs.add(std::vector<double>{1, 1, 3}, std::vector<double>{0, 0, 0}, nan); },
                               {"'margin'"});
    MetaLearner learner(model, Vanilla{}, Sgd{}, LearnerOptions{});
    std::vector<double> broken = learner.parameters();
    broken.back() = nan;  // the head bias
    learner.set_parameters(broken);
    test::require_error_naming([&] { learner.fit(pairs, nullptr, FitOptions<double>{}); },
                               {"BradleyTerryLoss", "'rewards'", "NaN"});
  }
  SECTION("negative centering coefficient") {
    test::require_error_naming(
        [&] {
          MetaLearner learner(model, Vanilla{}, Sgd{}, LearnerOptions{.step = {.centering = -1.0}});
        },
        {"'centering'"});
    test::require_error_naming(
        [&] { MetaLearner learner(model, Vanilla{}, Sgd{}, LearnerOptions{.step = {.clip_norm = -1.0}}); },
        {"'clip_norm'"});
  }
  SECTION("wrong parameter count") {
    MetaLearner learner(model, Vanilla{}, Sgd{}, LearnerOptions{});
    test::require_error_naming([&] { learner.set_parameters(std::vector<double>{1.0}); }, {"'values'"});
  }
}

TEST_CASE("scheduled learning rate and clipping reach the update", "[learner][optim]") {
  Rng rng(102);
  const index_t d = 4;
  const auto w = test::random_vector<double>(rng, d);
  const auto train = test::separable_pairs<double>(rng, d, 40, w);
  const LinearModel<double> model(d);
  History history;
  MetaLearner learner(model, Vanilla{}, Sgd{.learning_rate = 0.5},
                      LearnerOptions{.step = {.clip_norm = 1e-3, .schedule = Schedule::warmup_cosine(2, 10)}});
  std::vector<double> before = learner.parameters();
  learner.fit(train, nullptr, FitOptions<double>{.epochs = 1, .batch_size = 4}, history);
  REQUIRE(history.steps().size() == 10);
  CHECK(history.steps()[0].learning_rate == Approx(0.25));
  CHECK(history.steps()[1].learning_rate == Approx(0.5));
  CHECK(history.steps()[6].learning_rate == Approx(0.5 * 0.5 * (1 + std::cos(M_PI * 4.0 / 8.0))));
  // each update moved the parameters by at most lr * clip_norm
  const auto after = learner.parameters();
  double moved = 0;
  for (std::size_t i = 0; i < after.size(); ++i) moved += (after[i] - before[i]) * (after[i] - before[i]);
  double bound = 0;
  for (const auto& s : history.steps()) {
    CHECK(s.grad_norm > 1e-3);  // reported before clipping
    bound += s.learning_rate * 1e-3;
  }
  CHECK(std::sqrt(moved) <= bound * (1 + 1e-9));
}

namespace {

struct StopAtStep {
  std::int64_t at;
  int epoch_ends = 0;
  std::string_view name() const { return "StopAtStep"; }
  bool on_step(const StepEvent& e) { return e.step == at; }
  void on_epoch_end(const EpochEvent&) { ++epoch_ends; }
  std::string stop_reason() const { return "asked to stop at step " + std::to_string(at); }
};

struct Unnamed {
  bool on_step(const StepEvent&) { return true; }
};

}  // namespace

TEST_CASE("callbacks can stop a fit and the reason is recorded", "[learner][callback]") {
  Rng rng(103);
  const index_t d = 4;
  const auto w = test::random_vector<double>(rng, d);
  const auto train = test::separable_pairs<double>(rng, d, 64, w);
  const auto held_out = test::separable_pairs<double>(rng, d, 64, w);
  const LinearModel<double> model(d);

  SECTION("a named callback with a reason") {
    MetaLearner learner(model, Vanilla{}, Sgd{}, LearnerOptions{});
    StopAtStep stopper{.at = 7};
    History history;
    const auto result = learner.fit(train, nullptr, FitOptions<double>{.epochs = 5, .batch_size = 8}, history, stopper);
    CHECK(result.steps == 7);
    CHECK(result.epochs_completed == 0);
    CHECK(result.stop.kind == StopReason::Kind::callback);
    CHECK(result.stop.source == "StopAtStep");
    CHECK(result.stop.describe() == "stopped by StopAtStep: asked to stop at step 7");
    CHECK(history.steps().size() == 7);
    CHECK(stopper.epoch_ends == 1);
  }
  SECTION("an unnamed callback is named by position") {
    MetaLearner learner(model, Vanilla{}, Sgd{}, LearnerOptions{});
    History history;
    const auto result = learner.fit(train, nullptr, FitOptions<double>{.epochs = 2}, history, Unnamed{});
    CHECK(result.steps == 1);
    CHECK(result.stop.source == "callback #2");
  }
  SECTION("early stopping on an eval metric") {
    MetaLearner learner(model, Vanilla{}, Sgd{.learning_rate = 0.0}, LearnerOptions{});  // nothing improves
    EarlyStopping early("eval_loss", 2, EarlyStopping::Mode::minimize);
    History history;
    const auto result = learner.fit(
        train, nullptr, FitOptions<double>{.epochs = 50, .batch_size = 8, .eval_pairs = &held_out, .eval_every = 4},
        history, early);
    CHECK(result.steps == 12);  // evaluations at steps 4, 8, 12: the first sets the best, two more do not improve
    CHECK(history.evaluations().size() == 3);
    CHECK(result.stop.source == "EarlyStopping");
    CHECK(result.stop.detail.find("eval_loss did not improve for 2") != std::string::npos);
    CHECK(result.last_eval.find("eval_accuracy").has_value());
  }
  SECTION("early stopping names a metric that does not exist") {
    MetaLearner learner(model, Vanilla{}, Sgd{}, LearnerOptions{});
    EarlyStopping early("eval_nonsense");
    test::require_error_naming(
        [&] { learner.fit(train, nullptr, FitOptions<double>{.eval_pairs = &held_out}, early); },
        {"EarlyStopping", "eval_nonsense"});
  }
  SECTION("evaluation at each epoch's end and completion") {
    MetaLearner learner(model, Vanilla{}, Sgd{}, LearnerOptions{});
    History history;
    const auto result =
        learner.fit(train, nullptr, FitOptions<double>{.epochs = 3, .batch_size = 10, .eval_pairs = &held_out}, history);
    CHECK(result.steps == 21);  // 64 pairs in batches of 10: 7 per epoch, the last one smaller
    CHECK(result.epochs_completed == 3);
    CHECK(result.stop.kind == StopReason::Kind::completed);
    REQUIRE(history.evaluations().size() == 3);
    CHECK(history.evaluations()[2].step == 21);
    const auto dropped = learner.fit(train, nullptr, FitOptions<double>{.batch_size = 10, .drop_last = true});
    CHECK(dropped.steps == 6);
  }
}

TEST_CASE("ProgressLine prints plain lines when not on a terminal", "[callback]") {
  Rng rng(104);
  const auto w = test::random_vector<double>(rng, 3);
  const auto train = test::separable_pairs<double>(rng, 3, 40, w);
  const auto meta = test::random_meta<double>(rng, 3, 10, {3});
  std::FILE* file = std::tmpfile();
  REQUIRE(file != nullptr);
  {
    MetaLearner learner(LinearModel<double>(3), MetaRM(0.1), Sgd{}, LearnerOptions{});
    ProgressLine progress(file, 5);
    learner.fit(train, &meta, FitOptions<double>{.epochs = 2, .batch_size = 4, .eval_pairs = &train}, progress);
  }
  std::rewind(file);
  std::string text;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, file) != nullptr) text += buffer;
  std::fclose(file);
  INFO(text);
  CHECK(text.find("fit: strategy metarm, 40 pairs, 10 meta prompts, 2 epoch(s) x 10 batches") != std::string::npos);
  CHECK(text.find("epoch 1/2  step 5/20  loss ") != std::string::npos);
  CHECK(text.find("  J 0.") != std::string::npos);
  CHECK(text.find("epoch 2/2 done  mean loss") != std::string::npos);
  CHECK(text.find("eval_accuracy") != std::string::npos);
  CHECK(text.find("fit: completed all epochs") != std::string::npos);
  CHECK(text.find('\r') == std::string::npos);
}

TEST_CASE("Student-t quantiles and confidence intervals of a mean", "[metrics]") {
  // Reference values of t_{0.975, df} from statistical tables.
  CHECK(student_t_quantile(0.975, 1) == Approx(12.7062).epsilon(1e-5));
  CHECK(student_t_quantile(0.975, 9) == Approx(2.26216).epsilon(1e-5));
  CHECK(student_t_quantile(0.975, 100) == Approx(1.98397).epsilon(1e-5));
  CHECK(student_t_quantile(0.025, 9) == Approx(-2.26216).epsilon(1e-5));
  CHECK(student_t_cdf(0.0, 5) == Approx(0.5));
  const std::vector<double> values{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  const MeanInterval r = mean_confidence_interval(values);
  CHECK(r.mean == Approx(5.5));
  CHECK(r.stddev == Approx(std::sqrt(82.5 / 9.0)));
  CHECK(r.half_width == Approx(2.26216 * r.stddev / std::sqrt(10.0)).epsilon(1e-5));
  CHECK(std::isnan(mean_confidence_interval(std::vector<double>{3.0}).half_width));
  test::require_error_naming([] { mean_confidence_interval(std::vector<double>{}); }, {"'values'", "empty"});
  test::require_error_naming([] { student_t_quantile(1.0, 3); }, {"'q'"});
}

TEST_CASE("progress bar and metrics log write what they promise", "[callback]") {
  Rng rng(103);
  const index_t d = 3;
  const auto w = test::random_vector<double>(rng, d);
  const auto train = test::separable_pairs<float>(rng, d, 40, w);
  MetaLearner learner(LinearModel<float>(d), Vanilla{}, Adam{}, LearnerOptions{});
  std::FILE* bar_out = std::tmpfile();
  std::FILE* log_out = std::tmpfile();
  REQUIRE(bar_out != nullptr);
  REQUIRE(log_out != nullptr);
  ProgressBar bar(bar_out, 100, 0.0);
  bar.force_terminal(true);
  MetricsLog log(log_out, 2);
  learner.fit(train, nullptr, FitOptions<float>{.epochs = 2, .batch_size = 10, .eval_pairs = &train}, bar, log);
  const auto read_all = [](std::FILE* f) {
    std::rewind(f);
    std::string text;
    char buffer[4096];
    std::size_t got;
    while ((got = std::fread(buffer, 1, sizeof buffer, f)) > 0) text.append(buffer, got);
    std::fclose(f);
    return text;
  };
  const std::string bar_text = read_all(bar_out), log_text = read_all(log_out);
  CHECK(bar_text.find("\r[########################] 100%  step 8/8") != std::string::npos);
  CHECK(bar_text.find("step/s  ETA") != std::string::npos);
  CHECK(bar_text.find("epoch 2/2  mean loss") != std::string::npos);
  // 8 steps logged every 2 steps, 2 evaluations, 1 closing line.
  CHECK(std::count(log_text.begin(), log_text.end(), '\n') == 4 + 2 + 1);
  CHECK(log_text.find("{\"step\": 2, \"epoch\": 0.5000, \"loss\": ") == 0);
  for (const char* name : {"\"accuracy\"", "\"margin\"", "\"rewards/chosen\"", "\"rewards/rejected\"", "\"grad_norm\"",
                           "\"learning_rate\"", "\"eval_accuracy\"", "\"eval_rewards/std\"", "\"train_runtime\"",
                           "\"difference_objective\": null"}) {
    INFO(name);
    CHECK(log_text.find(name) != std::string::npos);
  }
}

namespace {

// Keeps what the learner reported, with the step of each report.
struct Reports {
  std::vector<std::int64_t> steps;
  std::vector<StepStats> stats;
  std::vector<double> epoch_loss, epoch_objective;
  void on_step(const StepEvent& e) {
    steps.push_back(e.step);
    stats.push_back(e.stats);
  }
  void on_epoch_end(const EpochEvent& e) {
    epoch_loss.push_back(e.mean_loss);
    epoch_objective.push_back(e.mean_objective);
  }
};

}  // namespace

TEST_CASE("statistics_every reads the statistics every few steps and changes nothing else", "[learner][statistics]") {
  Rng rng(140);
  const index_t d = 5;
  const auto w = test::random_vector<double>(rng, d);
  const auto train = test::separable_pairs<double>(rng, d, 70, w);  // 9 batches of 8, the last of 6
  const auto held_out = test::separable_pairs<double>(rng, d, 40, w);
  const auto meta = test::random_meta<double>(rng, d, 30, {3});
  const Mlp<Tanh, double> model(d, {6});
  FitOptions<double> fit{.epochs = 2, .batch_size = 8, .meta_batch_size = 4, .eval_pairs = &held_out, .eval_every = 7};

  MetaLearner every(model, MetaRM(0.3), Adam{.learning_rate = 0.01}, LearnerOptions{.seed = 2});
  Reports each;
  every.fit(train, &meta, fit, each);
  fit.statistics_every = 4;
  MetaLearner sparse(model, MetaRM(0.3), Adam{.learning_rate = 0.01}, LearnerOptions{.seed = 2});
  Reports few;
  sparse.fit(train, &meta, fit, few);

  CHECK(same_bits(every.parameters(), sparse.parameters()));
  REQUIRE(each.steps.size() == 18);
  // Every 4th step, the steps before each evaluation (7, 14) and the last of each epoch (9, 18).
  CHECK(few.steps == std::vector<std::int64_t>{4, 7, 8, 9, 12, 14, 16, 18});
  for (std::size_t i = 0; i < few.steps.size(); ++i) {
    const StepStats& want = each.stats[static_cast<std::size_t>(few.steps[i] - 1)];
    INFO("step " << few.steps[i]);
    CHECK(few.stats[i].loss == want.loss);
    CHECK(few.stats[i].objective == want.objective);
    CHECK(few.stats[i].grad_norm == want.grad_norm);
    CHECK(few.stats[i].ascent_norm == want.ascent_norm);
    CHECK(few.stats[i].learning_rate == want.learning_rate);
  }
  // The epoch means still cover every step (summed in groups, so equal up to the order of the additions).
  REQUIRE(few.epoch_loss.size() == 2);
  for (std::size_t e = 0; e < 2; ++e) {
    CHECK(few.epoch_loss[e] == Approx(each.epoch_loss[e]).epsilon(1e-14));
    CHECK(few.epoch_objective[e] == Approx(each.epoch_objective[e]).epsilon(1e-14));
  }
  double first_epoch = 0.0;
  for (std::size_t i = 0; i < 9; ++i) first_epoch += each.stats[i].loss;
  CHECK(each.epoch_loss[0] == Approx(first_epoch / 9).epsilon(1e-14));

  fit.statistics_every = 0;
  test::require_error_naming([&] { sparse.fit(train, &meta, fit); },
                             {"argument 'statistics_every' must be >= 1, got 0"});
}

}  // namespace learner_test
