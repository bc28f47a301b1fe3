// SPDX-License-Identifier: Apache-2.0
/// \file
/// metarm's data and file layer: text preference data (JSONL, plain or gzip), the text featuriser, splitting
/// by prompt group, embeddings (.npy, safetensors) and safetensors checkpoints. It needs zlib and nlohmann-json
/// (CMake target metarm::io); the core library (metarm/metarm.hpp, metarm::metarm) needs neither.
#pragma once

#include "metarm/metarm.hpp"

#include "metarm/core/utf8.hpp"

#include "metarm/data/group_split.hpp"
#include "metarm/data/text_featurizer.hpp"
#include "metarm/data/text_records.hpp"

#include "metarm/io/atomic_file.hpp"
#include "metarm/io/checkpoint.hpp"
#include "metarm/io/embedding_reader.hpp"
#include "metarm/io/json_record.hpp"
#include "metarm/io/line_reader.hpp"
#include "metarm/io/npy.hpp"
#include "metarm/io/safetensors.hpp"
#include "metarm/io/text_reader.hpp"
