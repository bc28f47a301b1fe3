// SPDX-License-Identifier: Apache-2.0
/// \file
/// Preference data as text, before featurisation: labelled pairs and unlabelled prompts with k responses,
/// each remembering the file line it came from. HH-RLHF transcripts are split here into prompt and responses.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace metarm {

/// A labelled pair as text, before featurisation.
struct TextPair {
  /// The conversation before the responses; for HH-RLHF, through its last assistant marker.
  std::string prompt;
  /// The preferred response.
  std::string chosen;
  /// The other response.
  std::string rejected;
  /// How strongly the chosen response is preferred; 0 when the data gives none.
  double margin = 0.0;
  std::int64_t line = 0;  ///< 1-based line of its file
};

/// An unlabelled prompt with its k >= 2 responses as text, before featurisation.
struct TextPrompt {
  /// The conversation before the responses.
  std::string prompt;
  std::vector<std::string> responses;  ///< k >= 2
  /// 1-based line of its file.
  std::int64_t line = 0;
};

/// What opens a human turn in an HH-RLHF transcript.
inline constexpr std::string_view human_marker = "\n\nHuman:";
/// What opens an assistant turn in an HH-RLHF transcript.
inline constexpr std::string_view assistant_marker = "\n\nAssistant:";

/// The text of a turn, without the marker's trailing space and without surrounding blank space.
inline std::string_view trim(std::string_view text) {
  const auto blank = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  while (!text.empty() && blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && blank(text.back())) text.remove_suffix(1);
  return text;
}

/// Splits two HH-RLHF transcripts ("\n\nHuman: ...\n\nAssistant: ...") into the shared prompt and the two
/// final assistant responses. The prompt is the longest common prefix cut back to the last "\n\nAssistant:"
/// inside it (marker included), so a response that itself contains "\n\nAssistant:" or "\n\nHuman:" stays
/// whole. Returns false when the transcripts share no assistant turn.
inline bool split_transcripts(std::string_view chosen, std::string_view rejected, std::string& prompt,
                              std::string& chosen_response, std::string& rejected_response) {
  std::size_t common = 0;
  const std::size_t limit = std::min(chosen.size(), rejected.size());
  while (common < limit && chosen[common] == rejected[common]) {
    ++common;
  }
  // The marker must lie wholly inside the common prefix.
  const std::size_t at = chosen.substr(0, common).rfind(assistant_marker);
  if (at == std::string_view::npos) {
    return false;
  }
  const std::size_t cut = at + assistant_marker.size();
  prompt.assign(chosen.substr(0, cut));
  chosen_response.assign(trim(chosen.substr(cut)));
  rejected_response.assign(trim(rejected.substr(cut)));
  return true;
}

/// The first human turn of a prompt (its text, trimmed), or the whole prompt trimmed when it has no
/// "Human:" turns. Conversations opening with the same request belong to one prompt group.
inline std::string_view first_human_turn(std::string_view prompt) {
  std::size_t start = prompt.find(human_marker);
  std::size_t skip = human_marker.size();
  if (start == std::string_view::npos) {
    if (prompt.substr(0, 6) != "Human:") {
      return trim(prompt);
    }
    start = 0;
    skip = 6;
  }
  const std::string_view rest = prompt.substr(start + skip);
  return trim(rest.substr(0, rest.find(assistant_marker)));
}

/// The last human turn of a prompt (trimmed), or the whole prompt trimmed when it has none.
inline std::string_view last_human_turn(std::string_view prompt) {
  const std::size_t start = prompt.rfind(human_marker);
  if (start == std::string_view::npos) {
    return trim(prompt);
  }
  const std::string_view rest = prompt.substr(start + human_marker.size());
  return trim(rest.substr(0, rest.find(assistant_marker)));
}

}  // namespace metarm
