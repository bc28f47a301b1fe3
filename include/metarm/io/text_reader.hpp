// SPDX-License-Identifier: Apache-2.0
/// \file
/// Readers of preference data as text, JSONL plain or gzip-compressed:
///  - pairs: HH-RLHF transcripts {"chosen": T, "rejected": T}, or TRL style {"prompt", "chosen", "rejected"}
///    with an optional numeric "margin";
///  - meta sets: {"prompt": P, "responses": [R1, R2, ...]} with k >= 2, or any pair line with its label
///    dropped (k = 2).
/// Every error names the file and line, and the field when one is at fault.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "metarm/core/error.hpp"
#include "metarm/data/text_records.hpp"
#include "metarm/io/json_record.hpp"
#include "metarm/io/line_reader.hpp"

namespace metarm {

/// How the text readers treat pairs without a preference, and how much of a file they read.
struct TextReadOptions {
  /// Pairs whose chosen and rejected responses are the same text carry no preference. They are dropped and
  /// counted by default (HH-RLHF has a few); with false, such a pair is an error naming its line.
  bool drop_identical = true;
  std::int64_t max_records = 0;  ///< stop after this many records; 0 reads the whole file
};

/// The pairs read from one file.
struct TextPairFile {
  /// The file read.
  std::string path;
  /// Its pairs, in file order.
  std::vector<TextPair> pairs;
  /// Pairs dropped because their two responses were the same text.
  std::int64_t dropped_identical = 0;
};

/// The meta prompts read from one file.
struct TextPromptFile {
  /// The file read.
  std::string path;
  /// Its prompts, in file order.
  std::vector<TextPrompt> prompts;
  std::int64_t dropped_identical = 0;  ///< pair lines whose two responses were the same text
};

namespace detail {

inline bool blank_line(const std::string& line) {
  for (char c : line) {
    if (c != ' ' && c != '\t' && c != '\r') return false;
  }
  return true;
}

// A pair line in either format. Returns false (after counting) for identical responses when dropping.
inline bool parse_pair(const nlohmann::json& object, const std::string& where, const TextReadOptions& options,
                       TextPair& pair, std::int64_t& dropped) {
  const std::string& chosen = require_string(object, "chosen", where);
  const std::string& rejected = require_string(object, "rejected", where);
  if (has_field(object, "prompt")) {
    pair.prompt = require_string(object, "prompt", where);
    pair.chosen.assign(trim(chosen));
    pair.rejected.assign(trim(rejected));
  } else if (!split_transcripts(chosen, rejected, pair.prompt, pair.chosen, pair.rejected)) {
    throw Error(where,
                "fields \"chosen\" and \"rejected\" share no \"\\n\\nAssistant:\" turn (expected HH-RLHF transcripts, "
                "or give a \"prompt\" field)");
  }
  pair.margin = has_field(object, "margin") ? require_number(object, "margin", where) : 0.0;
  // The featurised sets hold margins as float (featurize_pairs); a larger one has no float value.
  if (std::abs(pair.margin) > static_cast<double>(std::numeric_limits<float>::max())) {
    throw Error(where, fmt::format("field \"margin\" is {:g}, beyond the range of float", pair.margin));
  }
  if (pair.chosen == pair.rejected) {
    if (!options.drop_identical) {
      throw Error(where, "the chosen and rejected responses are identical");
    }
    ++dropped;
    return false;
  }
  return true;
}

// Calls visit(object, where, line_number) for each JSON record of the file, up to options.max_records, and
// returns how many records it read (blank lines are not records).
template <class Visit>
std::int64_t for_each_record(const std::string& path, const TextReadOptions& options, Visit&& visit) {
  LineReader reader(path);
  std::string line;
  std::int64_t records = 0;
  while (reader.next(line)) {
    if (blank_line(line)) continue;
    if (options.max_records > 0 && records >= options.max_records) break;
    ++records;
    const std::string where = reader.where();
    visit(parse_json_object(line, where), where, reader.line_number());
  }
  return records;
}

}  // namespace detail

/// Reads labelled pairs from a JSONL file in either format; throws, naming the file and line, on bad data or
/// when no pair is left.
inline TextPairFile read_text_pairs(const std::string& path, const TextReadOptions& options = {}) {
  TextPairFile out{path, {}, 0};
  const std::int64_t records = detail::for_each_record(
      path, options, [&](const nlohmann::json& object, const std::string& where, std::int64_t line) {
        TextPair pair;
        pair.line = line;
        if (detail::parse_pair(object, where, options, pair, out.dropped_identical)) {
          out.pairs.push_back(std::move(pair));
        }
      });
  if (out.pairs.empty()) {
    throw Error(path, records == 0 ? std::string("no preference pairs (the file is empty)")
                                   : fmt::format("no preference pairs left after dropping {} with identical responses",
                                                 out.dropped_identical));
  }
  return out;
}

/// Reads meta prompts from a JSONL file, of prompt lines or pair lines; throws, naming the file and line, on bad data.
inline TextPromptFile read_text_prompts(const std::string& path, const TextReadOptions& options = {}) {
  TextPromptFile out{path, {}, 0};
  const std::int64_t records = detail::for_each_record(path, options, [&](const nlohmann::json& object,
                                                                          const std::string& where, std::int64_t line) {
    TextPrompt prompt;
    prompt.line = line;
    if (has_field(object, "responses")) {
      prompt.prompt = require_string(object, "prompt", where);
      const nlohmann::json& responses = object.at("responses");
      if (!responses.is_array()) {
        throw Error(where, fmt::format("field \"responses\" must be an array of strings, got {}",
                                       responses.type_name()));
      }
      if (responses.size() < 2) {
        throw Error(where, fmt::format("field \"responses\" holds k = {} response(s); a meta prompt needs k >= 2",
                                       responses.size()));
      }
      for (std::size_t i = 0; i < responses.size(); ++i) {
        if (!responses[i].is_string()) {
          throw Error(where, fmt::format("field \"responses\" item {} must be a string, got {}", i,
                                         responses[i].type_name()));
        }
        prompt.responses.emplace_back(trim(responses[i].get_ref<const std::string&>()));
      }
    } else if (has_field(object, "chosen") || has_field(object, "rejected")) {
      TextPair pair;
      if (!detail::parse_pair(object, where, options, pair, out.dropped_identical)) return;
      prompt.prompt = std::move(pair.prompt);
      prompt.responses = {std::move(pair.chosen), std::move(pair.rejected)};
    } else {
      throw Error(where, "missing field \"responses\" (or \"chosen\" and \"rejected\" of a pair)");
    }
    out.prompts.push_back(std::move(prompt));
  });
  if (out.prompts.empty()) {
    throw Error(path, records == 0 ? std::string("no prompts (the file is empty)")
                                   : fmt::format("no prompts left after dropping {} pairs with identical responses",
                                                 out.dropped_identical));
  }
  return out;
}

/// A pair file's pairs as meta prompts with their labels dropped (k = 2).
inline std::vector<TextPrompt> prompts_from_pairs(const std::vector<TextPair>& pairs) {
  std::vector<TextPrompt> out;
  out.reserve(pairs.size());
  for (const auto& pair : pairs) {
    out.push_back({pair.prompt, {pair.chosen, pair.rejected}, pair.line});
  }
  return out;
}

}  // namespace metarm
