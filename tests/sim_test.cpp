// SPDX-License-Identifier: Apache-2.0
// sim/: the simulated RLHF environment. Labels follow the stated noise model, the policy's KL and gradients
// are exact, policy optimisation climbs the reward model, statistics match tables, and the loop is seeded,
// paired and reproducible; arms written as text parse into the strategies, losses and objectives they name.
#include "test_support.hpp"

#include <metarm/sim.hpp>

#include <cstring>

using namespace metarm;
using test::index_t;

namespace {

sim::SimulationOptions tiny_options() {
  sim::SimulationOptions o;
  o.context_dim = 3;
  o.response_dim = 3;
  o.gold_hidden = 6;
  o.preference_pairs = 120;
  o.meta_prompts = 24;
  o.k = 3;
  o.eval_prompts = 60;
  o.rm_hidden = {8};
  o.rm_epochs = 2;
  o.rm_batch = 16;
  o.meta_batch = 8;
  o.rounds = 2;
  o.policy_steps = 15;
  o.policy_learning_rate = 0.02;
  o.policy_batch = 32;
  return o;
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// Every number of two round records, compared bit for bit; `training` includes the training statistics
// (which differ between strategies even when the trained parameters do not).
void require_same_record(const sim::RoundRecord& a, const sim::RoundRecord& b, bool training) {
  const std::pair<const char*, double sim::RoundRecord::*> fields[] = {
      {"shifted_accuracy", &sim::RoundRecord::shifted_accuracy},
      {"shifted_gold_accuracy", &sim::RoundRecord::shifted_gold_accuracy},
      {"shifted_label_agreement", &sim::RoundRecord::shifted_label_agreement},
      {"difference_objective", &sim::RoundRecord::difference_objective},
      {"reward_gap", &sim::RoundRecord::reward_gap},
      {"sft_accuracy", &sim::RoundRecord::sft_accuracy},
      {"sft_gold_accuracy", &sim::RoundRecord::sft_gold_accuracy},
      {"meta_accuracy", &sim::RoundRecord::meta_accuracy},
      {"gold_reward", &sim::RoundRecord::gold_reward},
      {"proxy_reward", &sim::RoundRecord::proxy_reward},
      {"kl_to_sft", &sim::RoundRecord::kl_to_sft},
      {"policy_std", &sim::RoundRecord::policy_std},
      {"meta_objective", &sim::RoundRecord::meta_objective},
      {"reward_scale", &sim::RoundRecord::reward_scale},
      {"train_loss", &sim::RoundRecord::train_loss},
      {"train_objective", &sim::RoundRecord::train_objective},
      {"ascent_norm", &sim::RoundRecord::ascent_norm}};
  for (const auto& [name, field] : fields) {
    const bool training_field = std::string_view(name).starts_with("train_") || std::string_view(name) == "ascent_norm";
    if (training_field && !training) continue;
    INFO("round " << a.round << " field " << name << ": " << a.*field << " vs " << b.*field);
    REQUIRE(same_bits(a.*field, b.*field));
  }
  REQUIRE(a.reward_gaps == b.reward_gaps);
}

}  // namespace

TEST_CASE("labels agree with the gold order at the rate the label model states", "[sim]") {
  sim::SimulationOptions o;
  const sim::World world = sim::World::create(o, 11);
  Rng rng(12);
  // The gold reward is normalised so that within-prompt differences on SFT responses have sd 1.
  const auto fresh = sim::sample_responses(world.sft, 20000, 2, rng);
  const auto gold = world.gold.score(fresh);
  double squares = 0.0;
  for (index_t p = 0; p < fresh.prompts; ++p) squares += std::pow(gold[2 * p] - gold[2 * p + 1], 2);
  CHECK(std::sqrt(squares / fresh.prompts) == Approx(1.0).epsilon(0.03));

  for (double beta : {0.0, 0.5, 2.0, 8.0}) {
    Rng label_rng(13);
    const auto pairs = sim::label_pairs(fresh, gold, beta, label_rng);
    REQUIRE(pairs.size() == 20000);
    const double expected = pairs.expected_agreement();
    // Binomial standard error of the observed share; 4.5 of them is a false alarm once in ~150000 runs.
    const double tolerance = 4.5 * std::sqrt(expected * (1.0 - expected) / pairs.size()) + 1e-9;
    INFO("beta " << beta << ": observed agreement " << pairs.agreement() << ", expected " << expected);
    CHECK(std::fabs(pairs.agreement() - expected) < tolerance);
    if (beta == 0.0) CHECK(expected == 0.5);
  }
  Rng strict_rng(14);
  const auto strict = sim::label_pairs(fresh, gold, 1e4, strict_rng);
  CHECK(strict.agreement() > 0.995);
  // With beta = 2 (the default), agreement lands in the range reported for human annotators.
  Rng default_rng(15);
  const double agreement = sim::label_pairs(fresh, gold, 2.0, default_rng).agreement();
  CHECK(agreement > 0.70);
  CHECK(agreement < 0.85);
}

TEST_CASE("labelled pairs become preference data with the preferred response as chosen", "[sim]") {
  Rng rng(20);
  const auto policy = sim::GaussianPolicy::random_sft(2, 3, 1.0, 1.0, rng);
  const auto set = sim::sample_responses(policy, 5, 3, rng);
  std::vector<double> gold(static_cast<std::size_t>(set.size()));
  for (index_t q = 0; q < set.size(); ++q) gold[q] = set.response(q)[0];  // prefer a larger first feature
  const auto pairs = sim::label_pairs(set, gold, 1e6, rng);
  REQUIRE(pairs.size() == 5 * 3);
  const auto preference = sim::to_preference_set(set, pairs);
  REQUIRE(preference.size() == pairs.size());
  REQUIRE(preference.dim() == 5);
  for (index_t i = 0; i < preference.size(); ++i) {
    // Same prompt on both sides, and the chosen response has the larger first response feature.
    CHECK(std::equal(preference.chosen(i), preference.chosen(i) + 2, preference.rejected(i)));
    CHECK(preference.chosen(i)[2] > preference.rejected(i)[2]);
  }
}

TEST_CASE("KL of the SFT policy to itself is 0 and grows as the policy moves", "[sim]") {
  Rng rng(30);
  const auto sft = sim::GaussianPolicy::random_sft(4, 3, 1.0, 0.7, rng);
  const auto contexts = test::random_vector<double>(rng, 4 * 50);
  const MatrixView<const double> c{contexts.data(), 4, 50, 4};
  CHECK(sft.mean_kl_to(sft, c) == 0.0);

  // Moving the mean by t * delta costs exactly t^2 |delta / sigma|^2 / 2, whatever the prompt.
  const std::vector<double> delta{0.3, -0.2, 0.5};
  double previous = 0.0;
  for (double t : {0.25, 0.5, 1.0, 2.0}) {
    auto moved = sft;
    for (index_t i = 0; i < 3; ++i) moved.parameters()[sft.bias_offset() + i] += t * delta[i];
    const double expected = 0.5 * t * t * (0.09 + 0.04 + 0.25) / 0.49;
    CHECK(moved.mean_kl_to(sft, c) == Approx(expected).epsilon(1e-12));
    CHECK(moved.mean_kl_to(sft, c) > previous);
    previous = moved.mean_kl_to(sft, c);
  }

  // A Monte Carlo estimate of E_y[log p(y) - log p_sft(y)] agrees with the closed form.
  auto moved = sft;
  for (auto& w : moved.parameters()) w += 0.2 * rng.normal();
  const double* context = contexts.data();
  auto log_density = [&](const sim::GaussianPolicy& p, const std::vector<double>& y) {
    std::vector<double> mu(3);
    p.mean(context, mu.data());
    double value = 0.0;
    for (index_t i = 0; i < 3; ++i) {
      const double z = (y[i] - mu[i]) / p.std_of(i);
      value += -0.5 * z * z - std::log(p.std_of(i)) - 0.5 * std::log(2.0 * std::numbers::pi);
    }
    return value;
  };
  double total = 0.0, squares = 0.0;
  const int samples = 200000;
  std::vector<double> noise(3), y(3);
  for (int s = 0; s < samples; ++s) {
    for (auto& e : noise) e = rng.normal();
    moved.respond(context, noise.data(), y.data());
    const double ratio = log_density(moved, y) - log_density(sft, y);
    total += ratio;
    squares += ratio * ratio;
  }
  const double mean = total / samples;
  const double standard_error = std::sqrt((squares / samples - mean * mean) / samples);
  INFO("Monte Carlo " << mean << " +- " << standard_error << ", closed form " << moved.kl_to(sft, context));
  CHECK(std::fabs(mean - moved.kl_to(sft, context)) < 5.0 * standard_error);
  CHECK(moved.kl_to(sft, context) > 0.0);
}

TEST_CASE("the policy objective's gradient matches central finite differences", "[sim][gradient]") {
  Rng rng(40);
  const index_t dc = 3, dr = 2, n = 7;
  const auto sft = sim::GaussianPolicy::random_sft(dc, dr, 1.0, 0.8, rng);
  auto policy = sft;
  for (auto& w : policy.parameters()) w += 0.3 * rng.normal();  // away from SFT, so the KL term has a gradient
  const Mlp<Tanh, double> model(dc + dr, {6, 5});
  std::vector<double> rm_params(static_cast<std::size_t>(model.parameter_count()));
  model.initialize(rm_params, rng);
  sim::RewardScorer<Mlp<Tanh, double>> rm(model, rm_params);
  rm.set_normalization(0.3, 1.7);
  const auto contexts = test::random_vector<double>(rng, dc * n);
  const auto noise = test::random_vector<double>(rng, dr * n);
  const MatrixView<const double> c{contexts.data(), dc, n, dc}, e{noise.data(), dr, n, dr};
  sim::PolicyTrainer<Mlp<Tanh, double>> trainer(sft, {.batch = n, .learning_rate = 0.01, .kl_weight = 0.4});

  std::vector<double> analytic(static_cast<std::size_t>(policy.parameter_count()));
  trainer.objective_and_gradient(policy, rm, c, e, analytic);
  std::vector<double> x(policy.parameters().begin(), policy.parameters().end());
  std::vector<double> scratch(analytic.size());
  const auto check = check_gradient(
      [&](std::span<const double> at) {
        auto probe = policy;
        std::copy(at.begin(), at.end(), probe.parameters().begin());
        return trainer.objective_and_gradient(probe, rm, c, e, scratch).objective;
      },
      x, analytic);
  INFO("worst coordinate " << check.worst_index << ": analytic " << check.analytic_at_worst << ", numeric "
                           << check.numeric_at_worst);
  CHECK(check.max_error < test::gradient_tolerance);
}

TEST_CASE("policy optimisation raises the proxy reward, and the KL weight holds it near SFT", "[sim]") {
  Rng rng(50);
  const index_t dc = 4, dr = 3;
  const auto sft = sim::GaussianPolicy::random_sft(dc, dr, 1.0, 1.0, rng);
  const Mlp<ReLU, double> model(dc + dr, {16});
  std::vector<double> rm_params(static_cast<std::size_t>(model.parameter_count()));
  model.initialize(rm_params, rng);
  // A fixed evaluation batch, apart from the training batches.
  const auto contexts = test::random_vector<double>(rng, dc * 500);
  const auto noise = test::random_vector<double>(rng, dr * 500);
  const MatrixView<const double> c{contexts.data(), dc, 500, dc}, e{noise.data(), dr, 500, dr};

  auto optimise = [&](double kl_weight) {
    sim::RewardScorer<Mlp<ReLU, double>> rm(model, rm_params);
    sim::PolicyTrainer<Mlp<ReLU, double>> trainer(sft, {.batch = 128, .learning_rate = 0.02, .kl_weight = kl_weight});
    std::vector<double> unused(static_cast<std::size_t>(sft.parameter_count()));
    auto policy = sft;
    const auto before = trainer.objective_and_gradient(policy, rm, c, e, unused);
    Rng steps_rng(51);
    for (int s = 0; s < 150; ++s) trainer.step(policy, rm, steps_rng);
    const auto after = trainer.objective_and_gradient(policy, rm, c, e, unused);
    CHECK(before.kl == 0.0);
    return std::pair{before, after};
  };
  const auto [loose_before, loose_after] = optimise(0.01);
  const auto [tight_before, tight_after] = optimise(1.0);
  INFO("proxy reward " << loose_before.proxy_reward << " -> " << loose_after.proxy_reward << " (KL weight 0.01), -> "
                       << tight_after.proxy_reward << " (KL weight 1)");
  CHECK(loose_after.proxy_reward > loose_before.proxy_reward + 0.5);
  CHECK(tight_after.proxy_reward > tight_before.proxy_reward);
  CHECK(tight_after.objective > tight_before.objective);
  CHECK(loose_after.kl > tight_after.kl);
  CHECK(tight_after.kl > 0.0);
}

TEST_CASE("Student t quantiles and confidence intervals match tables", "[sim][statistics]") {
  // Two-sided 95% and 99% critical values (to 10 significant digits, as R's qt gives them).
  CHECK(sim::student_t_quantile(0.975, 1) == Approx(12.70620474).epsilon(1e-9));
  CHECK(sim::student_t_quantile(0.975, 9) == Approx(2.262157163).epsilon(1e-9));
  CHECK(sim::student_t_quantile(0.975, 29) == Approx(2.045229642).epsilon(1e-9));
  CHECK(sim::student_t_quantile(0.995, 4) == Approx(4.604094871).epsilon(1e-9));
  CHECK(sim::student_t_quantile(0.975, 1e7) == Approx(1.959964).epsilon(1e-6));
  CHECK(sim::student_t_quantile(0.025, 9) == Approx(-2.262157163).epsilon(1e-9));
  CHECK(sim::student_t_cdf(0.0, 3) == Approx(0.5));

  const std::vector<double> values{1, 2, 3, 4, 5};
  const auto e = sim::estimate_mean(values);
  CHECK(e.n == 5);
  CHECK(e.mean == 3.0);
  CHECK(e.sd == Approx(std::sqrt(2.5)));
  CHECK(e.half_width == Approx(2.776445105 * std::sqrt(2.5) / std::sqrt(5.0)).epsilon(1e-9));
  const std::vector<double> shifted{1.5, 2.4, 3.6, 4.4, 5.6};
  const auto d = sim::estimate_paired_difference(shifted, values);
  CHECK(d.mean == Approx(0.5));
  CHECK(d.half_width < e.half_width);  // pairing removes what both share
  CHECK(std::isnan(sim::estimate_mean(std::vector<double>{4.0}).half_width));

  // Coverage: the 95% interval of 5 normal draws covers the true mean about 95% of the time.
  Rng rng(60);
  int covered = 0;
  const int trials = 4000;
  for (int t = 0; t < trials; ++t) {
    const auto draws = test::random_vector<double>(rng, 5);
    const auto estimate = sim::estimate_mean(draws);
    covered += estimate.low() <= 0.0 && 0.0 <= estimate.high();
  }
  CHECK(covered / double(trials) == Approx(0.95).margin(0.015));

  test::require_error_naming([] { sim::estimate_mean(std::vector<double>{}); }, {"estimate_mean", "empty"});
  test::require_error_naming([] { sim::estimate_paired_difference(std::vector<double>{1, 2}, std::vector<double>{1}); },
                             {"estimate_paired_difference", "differ in size"});
  test::require_error_naming([] { sim::student_t_quantile(1.0, 3); }, {"student_t_quantile", "'q'"});
}

TEST_CASE("the loop is seeded: the same seed repeats every number, another seed does not", "[sim][loop]") {
  const auto o = tiny_options();
  const auto a = sim::simulate_rlhf(o, 5, "metarm", MetaRM(0.5));
  const auto b = sim::simulate_rlhf(o, 5, "metarm", MetaRM(0.5));
  const auto c = sim::simulate_rlhf(o, 6, "metarm", MetaRM(0.5));
  REQUIRE(a.rounds.size() == 2);
  for (std::size_t r = 0; r < a.rounds.size(); ++r) require_same_record(a.rounds[r], b.rounds[r], true);
  CHECK_FALSE(same_bits(a.rounds[1].shifted_accuracy + a.rounds[1].gold_reward,
                        c.rounds[1].shifted_accuracy + c.rounds[1].gold_reward));
  // The round's measurements are what they claim to be.
  for (const auto& r : a.rounds) {
    CHECK(r.kl_to_sft > 0.0);
    CHECK(r.reward_gaps.size() == static_cast<std::size_t>(o.eval_prompts * o.k * (o.k - 1) / 2));
    CHECK(r.difference_objective >= (o.k - 1) / (2.0 * o.k));
    CHECK(r.difference_objective < (o.k - 1) / double(o.k));
    CHECK(r.shifted_accuracy >= 0.0);
    CHECK(r.shifted_accuracy <= 1.0);
    CHECK(std::isfinite(r.train_objective));
  }
}

TEST_CASE("arms are paired: MetaRM with eta 0 repeats vanilla exactly, and running arms together changes none",
          "[sim][loop]") {
  auto o = tiny_options();
  const std::vector<sim::RewardModelArm<ReLU>> arms{{"vanilla", Vanilla{}}, {"metarm eta 0", MetaRM(0.0)},
                                                    {"metarm eta 2", MetaRM(2.0)}};
  const auto together = sim::simulate_rlhf(o, 9, std::span<const sim::RewardModelArm<ReLU>>(arms));
  REQUIRE(together.size() == 3);
  CHECK(together[1].arm == "metarm eta 0");
  for (std::size_t r = 0; r < together[0].rounds.size(); ++r) {
    require_same_record(together[0].rounds[r], together[1].rounds[r], false);
    CHECK(std::isnan(together[0].rounds[r].train_objective));   // vanilla does not measure J while training
    CHECK(std::isfinite(together[1].rounds[r].train_objective));
  }
  const auto alone = sim::simulate_rlhf(o, 9, "metarm eta 2", MetaRM(2.0));
  for (std::size_t r = 0; r < alone.rounds.size(); ++r) require_same_record(alone.rounds[r], together[2].rounds[r], true);
  // The ascent step changes the reward model, so the pairing is not vacuous.
  CHECK_FALSE(same_bits(together[2].rounds[0].meta_objective, together[0].rounds[0].meta_objective));

  // A shared policy: every arm is measured on the same samples of the one policy the first arm drives.
  o.shared_policy = true;
  const auto shared = sim::simulate_rlhf(o, 9, std::span<const sim::RewardModelArm<ReLU>>(arms));
  for (std::size_t r = 0; r < shared[0].rounds.size(); ++r) {
    CHECK(same_bits(shared[2].rounds[r].gold_reward, shared[0].rounds[r].gold_reward));
    CHECK(same_bits(shared[2].rounds[r].kl_to_sft, shared[0].rounds[r].kl_to_sft));
    CHECK(same_bits(shared[2].rounds[r].shifted_label_agreement, shared[0].rounds[r].shifted_label_agreement));
  }
  // Round 1 starts from the same SFT policy either way.
  require_same_record(shared[0].rounds[0], together[0].rounds[0], true);
}

TEST_CASE("an adapted arm scores at theta + eta grad J, which raises J on the meta set", "[sim][loop]") {
  const auto o = tiny_options();
  const std::vector<sim::RewardModelArm<ReLU>> arms{{"metarm eta 0.5", MetaRM(0.5)},
                                                    {"metarm-adapted eta 0.5", MetaRM(0.5), 0.5}};
  const auto results = sim::simulate_rlhf(o, 3, std::span<const sim::RewardModelArm<ReLU>>(arms));
  // Round 1: same meta set and same training; only the scored parameters differ.
  const auto& plain = results[0].rounds[0];
  const auto& adapted = results[1].rounds[0];
  CHECK(same_bits(plain.train_loss, adapted.train_loss));
  CHECK(adapted.meta_objective > plain.meta_objective);
  test::require_error_naming([] { sim::RewardModelArm<ReLU>("bad", Vanilla{}, -1.0); }, {"adapt_eta"});
}

TEST_CASE("bad options and inputs are rejected with errors that name the field", "[sim][errors]") {
  auto rejects = [](auto change, const char* field) {
    auto o = tiny_options();
    change(o);
    test::require_error_naming([&] { o.validate(); }, {"SimulationOptions", field});
  };
  rejects([](auto& o) { o.k = 1; }, "'k'");
  rejects([](auto& o) { o.rounds = 0; }, "'rounds'");
  rejects([](auto& o) { o.label_beta = -1.0; }, "'label_beta'");
  rejects([](auto& o) { o.kl_weight = std::nan(""); }, "'kl_weight'");
  rejects([](auto& o) { o.rm_hidden = {8, 0}; }, "'rm_hidden[1]'");
  rejects([](auto& o) { o.sft_std = 0.0; }, "'sft_std'");
  rejects([](auto& o) { o.policy_steps = -1; }, "'policy_steps'");

  Rng rng(70);
  const auto policy = sim::GaussianPolicy::random_sft(2, 2, 1.0, 1.0, rng);
  const auto set = sim::sample_responses(policy, 4, 2, rng);
  test::require_error_naming([&] { sim::label_pairs(set, std::vector<double>(3), 1.0, rng); }, {"label_pairs", "'gold'"});
  test::require_error_naming([&] { sim::GaussianPolicy(2, 3).kl_to(policy, set.contexts.data()); },
                             {"GaussianPolicy::kl_to", "shape"});
  test::require_error_naming([] { sim::GaussianPolicy(2, 2, -1.0); }, {"GaussianPolicy", "'std'"});
  const Mlp<ReLU, double> model(4, {3});
  test::require_error_naming([&] { sim::RewardScorer<Mlp<ReLU, double>>(model, std::vector<double>(2)); },
                             {"RewardScorer", "'params'"});
  sim::RewardScorer<Mlp<ReLU, double>> rm(model, std::vector<double>(static_cast<std::size_t>(model.parameter_count())));
  test::require_error_naming([&] { rm.set_normalization(0.0, 0.0); }, {"set_normalization", "'scale'"});
  test::require_error_naming([&] { rm.score(std::vector<double>(7), 2); }, {"RewardScorer::score", "'features'"});
  test::require_error_naming([&] { sim::simulate_rlhf(tiny_options(), 1, std::span<const sim::RewardModelArm<ReLU>>()); },
                             {"simulate_rlhf", "'arms'"});
}

TEST_CASE("arm specs: kinds, keys, defaults and canonical names", "[sim][arms]") {
  const auto vanilla = sim::parse_arm_spec("vanilla");
  CHECK(vanilla.kind == sim::ArmSpec::Kind::vanilla);
  CHECK(vanilla.is_baseline());
  CHECK(vanilla.name == "vanilla");
  const auto exact = sim::parse_arm_spec("metarm:eta=1,order=exact");
  CHECK(exact.kind == sim::ArmSpec::Kind::metarm);
  CHECK(exact.eta == 1.0);
  CHECK(exact.exact);
  CHECK(exact.inner_steps == 1);
  CHECK(exact.name == "metarm eta=1 order=exact");
  CHECK(exact.text == "metarm:eta=1,order=exact");
  const auto first = sim::parse_arm_spec("metarm: eta = 0.3 , order=first, inner_steps=2");
  CHECK(first.eta == 0.3);
  CHECK_FALSE(first.exact);
  CHECK(first.inner_steps == 2);
  CHECK(first.name == "metarm eta=0.3 inner_steps=2");
  const auto dot = sim::parse_arm_spec("dot:eta=1e-1");
  CHECK(dot.kind == sim::ArmSpec::Kind::dot);
  CHECK(dot.eta == 0.1);
  CHECK(dot.name == "dot eta=0.1");
  const auto joint = sim::parse_arm_spec("joint:lambda=2,objective=variance,loss=smoothed");
  CHECK(joint.kind == sim::ArmSpec::Kind::joint);
  CHECK(joint.lambda == 2.0);
  CHECK(joint.objective == sim::ArmSpec::Objective::variance);
  CHECK(joint.loss == sim::ArmSpec::Loss::smoothed);
  CHECK(joint.name == "joint lambda=2 loss=smoothed objective=variance");
  CHECK(sim::parse_arm_spec("joint").lambda == 0.5);
  const auto adapted = sim::parse_arm_spec("vanilla:adapt=3,name=vanilla-adapted eta 3,loss=margin");
  CHECK(adapted.adapt == 3.0);
  CHECK(adapted.loss == sim::ArmSpec::Loss::margin);
  CHECK(adapted.name == "vanilla-adapted eta 3");
  CHECK_FALSE(adapted.is_baseline());
  CHECK_FALSE(sim::parse_arm_spec("vanilla:loss=margin").is_baseline());
  CHECK(sim::parse_arm_spec("vanilla:objective=variance").is_baseline());  // J is not read without adapt
}

TEST_CASE("arm specs: each wrong spec names its bad part in one line", "[sim][arms][errors]") {
  auto message_of = [](const std::string& text) -> std::string {
    try {
      sim::parse_arm_spec(text);
    } catch (const sim::ArmSpecError& e) {
      return e.what();
    }
    return "(accepted)";
  };
  CHECK(message_of("metarm:eta=x") == "eta: \"x\" is not a number");
  CHECK(message_of("metarm:eta=1x") == "eta: \"1x\" is not a number");
  CHECK(message_of("metarm:eta=") == "eta: \"\" is not a number");
  CHECK(message_of("metarm:eta=-1") == "eta: must be >= 0, got -1");
  CHECK(message_of("joint:lambda=nan") == "lambda: \"nan\" is not a finite number");
  CHECK(message_of("metarm:inner_steps=0") == "inner_steps: must be in [1, 1000], got 0");
  CHECK(message_of("metarm:inner_steps=1.5") == "inner_steps: \"1.5\" is not an integer in [1, 1000]");
  CHECK(message_of("metarm:order=second") == "order: \"second\" is not one of first, exact");
  CHECK(message_of("dot:loss=hinge") == "loss: \"hinge\" is not one of bt, margin, smoothed");
  CHECK(message_of("joint:objective=j") == "objective: \"j\" is not one of difference, variance");
  CHECK(message_of("maml") == "unknown kind \"maml\" (valid: vanilla, metarm, dot, joint)");
  CHECK(message_of(":eta=1") == "empty arm kind (valid: vanilla, metarm, dot, joint)");
  CHECK(message_of("metarm:lamda=1") ==
        "metarm: unknown key \"lamda\" (valid: eta, order, inner_steps, loss, objective, adapt, name)");
  CHECK(message_of("vanilla:eta=1") == "vanilla: unknown key \"eta\" (valid: loss, objective, adapt, name)");
  CHECK(message_of("joint:eta=1") == "joint: unknown key \"eta\" (valid: lambda, loss, objective, adapt, name)");
  CHECK(message_of("metarm:eta=1,eta=2") == "eta: given twice");
  CHECK(message_of("metarm:eta") == "\"eta\": expected key=value");
  CHECK(message_of("metarm:") == "metarm: nothing after ':' (write key=value)");
  CHECK(message_of("metarm:eta=1,") == "metarm: empty key=value (a comma too many?)");
  CHECK(message_of("vanilla:name=") == "name: empty");
  CHECK(message_of("vanilla:name=a\"b") == "name: \"a\"b\" holds a quote, backslash or control character");
}

TEST_CASE("arm lists: the vanilla baseline comes first, added when missing, and names are unique",
          "[sim][arms][errors]") {
  const std::vector<std::string> without{"metarm:eta=1", "joint:lambda=1"};
  const auto added = sim::parse_arm_specs(without);
  REQUIRE(added.size() == 3);
  CHECK(added[0].name == "vanilla");
  CHECK(added[0].is_baseline());
  CHECK(added[1].name == "metarm eta=1");
  const std::vector<std::string> later{"metarm:eta=1", "vanilla:name=base"};
  const auto moved = sim::parse_arm_specs(later);
  REQUIRE(moved.size() == 2);
  CHECK(moved[0].name == "base");
  CHECK(moved[1].name == "metarm eta=1");
  auto message_of = [](std::vector<std::string> texts) -> std::string {
    try {
      sim::parse_arm_specs(texts);
    } catch (const sim::ArmSpecError& e) {
      return e.what();
    }
    return "(accepted)";
  };
  CHECK(message_of({"metarm:eta=x"}) == "metarm:eta=x: eta: \"x\" is not a number");
  CHECK(message_of({"metarm:eta=1,name=a", "dot:name=a"}) ==
        "dot:name=a: arm name \"a\" given twice (also by metarm:eta=1,name=a)");
  CHECK(message_of({"metarm:eta=1", "metarm:eta=1.0"}) ==
        "metarm:eta=1.0: arm name \"metarm eta=1\" given twice (also by metarm:eta=1)");
}

TEST_CASE("arms built from specs: metarm:eta=0 repeats vanilla bit for bit, the exact order differs from the first",
          "[sim][arms][loop]") {
  const auto o = tiny_options();
  std::vector<sim::RewardModelArm<ReLU>> arms;
  for (const auto& spec : sim::parse_arm_specs(std::vector<std::string>{
           "metarm:eta=0", "metarm:eta=2", "metarm:eta=2,order=exact", "joint:lambda=0", "vanilla:loss=margin",
           "metarm:eta=2,objective=variance", "dot:eta=0.5"})) {
    arms.push_back(sim::make_arm<ReLU>(spec));
  }
  const auto results = sim::simulate_rlhf(o, 11, std::span<const sim::RewardModelArm<ReLU>>(arms));
  REQUIRE(results.size() == 8);
  CHECK(results[0].arm == "vanilla");
  // The spec path builds the same learner as the library's own arms.
  const std::vector<sim::RewardModelArm<ReLU>> direct{{"vanilla", Vanilla{}}, {"metarm eta 2", MetaRM(2.0)}};
  const auto reference = sim::simulate_rlhf(o, 11, std::span<const sim::RewardModelArm<ReLU>>(direct));
  for (std::size_t r = 0; r < results[0].rounds.size(); ++r) {
    require_same_record(results[0].rounds[r], reference[0].rounds[r], true);
    require_same_record(results[2].rounds[r], reference[1].rounds[r], true);
    require_same_record(results[0].rounds[r], results[1].rounds[r], false);  // metarm:eta=0 is vanilla
    require_same_record(results[0].rounds[r], results[4].rounds[r], false);  // joint:lambda=0 is vanilla
  }
  auto differs = [&](std::size_t a, std::size_t b) {
    return !same_bits(results[a].rounds[0].meta_objective, results[b].rounds[0].meta_objective);
  };
  CHECK(differs(2, 3));  // exact meta-gradient against first order, same eta
  CHECK(differs(0, 5));  // the margin loss
  CHECK(differs(2, 6));  // the variance objective against J, same eta
  CHECK(differs(0, 7));  // dot
  // Same data, so the first round's training loss of the exact arm is measured at the same adapted point.
  CHECK(std::isfinite(results[3].rounds[0].train_loss));
}

TEST_CASE("an adapted arm built from a spec ascends its own meta objective", "[sim][arms][loop]") {
  const auto o = tiny_options();
  std::vector<sim::RewardModelArm<ReLU>> arms;
  for (const char* text : {"vanilla", "vanilla:adapt=0.5", "vanilla:adapt=0.5,objective=variance"}) {
    arms.push_back(sim::make_arm<ReLU>(sim::parse_arm_spec(text)));
  }
  const auto results = sim::simulate_rlhf(o, 3, std::span<const sim::RewardModelArm<ReLU>>(arms));
  const auto& plain = results[0].rounds[0];
  CHECK(same_bits(plain.train_loss, results[1].rounds[0].train_loss));
  CHECK(results[1].rounds[0].meta_objective > plain.meta_objective);  // J reported for every arm
  CHECK(arms[1].adapt_eta() == 0.5);
  CHECK_FALSE(same_bits(results[2].rounds[0].meta_objective, results[1].rounds[0].meta_objective));
}
