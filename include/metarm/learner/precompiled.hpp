// SPDX-License-Identifier: Apache-2.0
/// \file
/// The learners that the `metarm::precompiled` library compiles once: an Mlp of ReLU layers in float or double
/// on the CPU, with dense features, the default loss and meta objective, trained by Vanilla, MetaRM or
/// DotProductMetaRM with Sgd, Adam or AdamW, and their step contexts. A program that links
/// `metarm::precompiled` (which defines METARM_PRECOMPILED) sees them declared `extern template` here and
/// compiles none of their training or evaluation code; a learner with a strategy of the program's own still
/// takes the objectives, Hessian-vector products and updates of its step context from the library. Any other
/// learner is compiled from the headers as before.
///
/// Only the members defined outside the class bodies of MetaLearner and LearnerCore, and the fit loop without
/// callbacks, are taken from the library; a fit with callbacks compiles its loop in the program and still calls
/// the library for each step. A learner of a program's own strategy over one of these models and optimisers
/// takes its fit loop, evaluation and scoring (LearnerCore) from the library and compiles only its strategy.
/// The library and the program must see the same configuration (BLAS, OpenMP, METARM_NO_VECTOR_CLONES): the
/// CMake target carries the library's definitions to its users.
#pragma once

#include "metarm/backend/cpu.hpp"
#include "metarm/learner/learner_core.hpp"
#include "metarm/learner/meta_learner.hpp"
#include "metarm/model/mlp.hpp"
#include "metarm/optim/adam.hpp"
#include "metarm/optim/sgd.hpp"
#include "metarm/strategy/dot_product_metarm.hpp"
#include "metarm/strategy/metarm.hpp"
#include "metarm/strategy/step_context.hpp"
#include "metarm/strategy/vanilla.hpp"

/// Calls X(scalar, strategy, optimizer) for each optimiser the library compiles `strategy` with.
#define METARM_PRECOMPILED_OPTIMIZERS(X, scalar, strategy) \
  X(scalar, strategy, Sgd) X(scalar, strategy, Adam) X(scalar, strategy, AdamW)

/// Calls X(scalar, strategy, optimizer) once for every learner the library compiles.
#define METARM_PRECOMPILED_LEARNERS(X)                                                                         \
  METARM_PRECOMPILED_OPTIMIZERS(X, float, Vanilla) METARM_PRECOMPILED_OPTIMIZERS(X, float, MetaRM)             \
  METARM_PRECOMPILED_OPTIMIZERS(X, float, DotProductMetaRM) METARM_PRECOMPILED_OPTIMIZERS(X, double, Vanilla) \
  METARM_PRECOMPILED_OPTIMIZERS(X, double, MetaRM) METARM_PRECOMPILED_OPTIMIZERS(X, double, DotProductMetaRM)

/// The learner type of one entry of METARM_PRECOMPILED_LEARNERS.
#define METARM_PRECOMPILED_LEARNER_TYPE(scalar, strategy, optimizer) \
  ::metarm::MetaLearner<::metarm::Mlp<::metarm::ReLU, scalar>, ::metarm::strategy, ::metarm::optimizer, ::metarm::cpu>

/// `extern template` (prefix `extern`) or an explicit instantiation (empty prefix) of one learner: the class,
/// whose members defined outside its body run the strategy.
#define METARM_DETAIL_INSTANTIATE_LEARNER(prefix, scalar, strategy, optimizer) \
  prefix template class METARM_PRECOMPILED_LEARNER_TYPE(scalar, strategy, optimizer);

/// The step context of the learners of one scalar and optimiser, which user strategies receive too.
#define METARM_PRECOMPILED_STEP_CONTEXT_TYPE(scalar, optimizer) \
  ::metarm::StepContext<::metarm::Mlp<::metarm::ReLU, scalar>, ::metarm::optimizer, ::metarm::cpu>

/// The learner core of the learners of one scalar and optimiser, whatever their strategy.
#define METARM_PRECOMPILED_LEARNER_CORE_TYPE(scalar, optimizer)                                              \
  ::metarm::LearnerCore<::metarm::Mlp<::metarm::ReLU, scalar>, ::metarm::optimizer, ::metarm::cpu,         \
                        ::metarm::MatrixView<const scalar>, ::metarm::BradleyTerryLoss,                      \
                        ::metarm::DifferenceObjective>

/// `extern template` (prefix `extern`) or an explicit instantiation (empty prefix) of what the learners of one
/// scalar and optimiser share, whatever their strategy, a strategy of the program's own included: the step
/// context, and the learner core with its fit loop without callbacks (the fit loop, evaluation and scoring).
/// The strategy argument is there to fit METARM_PRECOMPILED_OPTIMIZERS and is not used.
#define METARM_DETAIL_INSTANTIATE_STEP_CONTEXT(prefix, scalar, strategy, optimizer)                        \
  prefix template class METARM_PRECOMPILED_STEP_CONTEXT_TYPE(scalar, optimizer);                           \
  prefix template class METARM_PRECOMPILED_LEARNER_CORE_TYPE(scalar, optimizer);                           \
  prefix template ::metarm::FitResult(METARM_PRECOMPILED_LEARNER_CORE_TYPE(scalar, optimizer)::fit_loop<>( \
      METARM_PRECOMPILED_LEARNER_CORE_TYPE(scalar, optimizer)::StepFunction, bool, std::string_view,       \
      const METARM_PRECOMPILED_LEARNER_CORE_TYPE(scalar, optimizer)::preference_set_type&,                 \
      const METARM_PRECOMPILED_LEARNER_CORE_TYPE(scalar, optimizer)::meta_set_type*,                       \
      const METARM_PRECOMPILED_LEARNER_CORE_TYPE(scalar, optimizer)::fit_options_type&));

#if defined(METARM_PRECOMPILED) && !defined(METARM_BUILDING_PRECOMPILED) && !defined(__CUDACC__)
#define METARM_DETAIL_DECLARE_LEARNER(scalar, strategy, optimizer) \
  METARM_DETAIL_INSTANTIATE_LEARNER(extern, scalar, strategy, optimizer)
#define METARM_DETAIL_DECLARE_STEP_CONTEXT(scalar, strategy, optimizer) \
  METARM_DETAIL_INSTANTIATE_STEP_CONTEXT(extern, scalar, strategy, optimizer)
METARM_PRECOMPILED_OPTIMIZERS(METARM_DETAIL_DECLARE_STEP_CONTEXT, float, Vanilla)
METARM_PRECOMPILED_OPTIMIZERS(METARM_DETAIL_DECLARE_STEP_CONTEXT, double, Vanilla)
METARM_PRECOMPILED_LEARNERS(METARM_DETAIL_DECLARE_LEARNER)
#undef METARM_DETAIL_DECLARE_STEP_CONTEXT
#undef METARM_DETAIL_DECLARE_LEARNER
#endif
