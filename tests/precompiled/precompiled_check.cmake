# SPDX-License-Identifier: Apache-2.0
# Runs the learners check built with metarm::precompiled (PRECOMPILED) and from the headers (HEADERS, its Adam
# learners only): every learner the second trains must come out of the first to the last bit, and the
# precompiled program's object (OBJECT) must define none of the learners' training code, which is what makes
# it compile faster.
foreach(program PRECOMPILED HEADERS)
  execute_process(COMMAND ${${program}} RESULT_VARIABLE status OUTPUT_VARIABLE output_${program}
                  ERROR_VARIABLE errors)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "${${program}} failed (${status}): ${errors}")
  endif()
endforeach()
string(REGEX MATCHALL "[^\n]*: [0-9]+ steps" learners "${output_PRECOMPILED}")
list(LENGTH learners count)
if(count LESS 24)
  message(FATAL_ERROR "the precompiled program trained ${count} learners, expected 24:\n${output_PRECOMPILED}")
endif()
# Each of the header-compiled program's blocks (a learner's line, its parameters, a blank line) must appear
# as it is in the precompiled program's output.
string(REGEX MATCHALL "[^\n]*: [0-9]+ steps" compared "${output_HEADERS}")
list(LENGTH compared compared_count)
if(compared_count LESS 8)
  message(FATAL_ERROR "the header-compiled program trained ${compared_count} learners, expected 8:\n${output_HEADERS}")
endif()
foreach(head IN LISTS compared)
  string(FIND "${output_HEADERS}" "${head}" begin)
  string(SUBSTRING "${output_HEADERS}" ${begin} -1 rest)
  string(FIND "${rest}" "\n\n" length)
  string(SUBSTRING "${rest}" 0 ${length} block)
  string(FIND "${output_PRECOMPILED}" "${block}\n\n" found)
  if(found EQUAL -1)
    message(FATAL_ERROR "the precompiled learner differs from the header-compiled one:\n--- headers\n${block}\n"
                        "--- precompiled\n${output_PRECOMPILED}")
  endif()
endforeach()
execute_process(COMMAND ${NM} --defined-only -C ${OBJECT} OUTPUT_VARIABLE symbols RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "${NM} could not read ${OBJECT}")
endif()
# The strategy's part of the listed learners, and for every learner of these models and optimisers (those of the
# program's own strategy too) the core: the fit loop, evaluation and scoring.
set(training_code "[^\n]*metarm::(MetaLearner<[^\n]*, metarm::(Vanilla|MetaRM|DotProductMetaRM), [^\n]*::(run_step|step)|LearnerCore<[^\n]*::(evaluate|score|fit_loop<>)|StepContext<[^\n]*::(preference_loss_and_gradient|meta_objective_and_gradient|preference_hvp|apply_update))\\([^\n]*")
string(REGEX MATCHALL "${training_code}" compiled "${symbols}")
if(compiled)
  message(FATAL_ERROR "the precompiled program compiled learner code itself:\n${compiled}")
endif()
execute_process(COMMAND ${NM} --defined-only -C ${HEADERS_OBJECT} OUTPUT_VARIABLE symbols)
string(REGEX MATCHALL "${training_code}" compiled "${symbols}")
list(LENGTH compiled count)
if(count EQUAL 0)
  message(FATAL_ERROR "the header-compiled program's object defines no learner code: the check cannot see it")
endif()
message(STATUS "${count} learners trained from the library, ${compared_count} of them the same to the bit as from the headers; the precompiled object compiles none of their code")
