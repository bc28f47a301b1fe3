// SPDX-License-Identifier: Apache-2.0
/// \file
/// Text features for a reward model: hashed word n-grams of the response plus a few named structure features.
///
/// \verbatim
///   rows 0 .. 2^bits - 1     signed hashed word 1..n-grams of the response, sub-linear counts (1 + log c),
///                            the block L2-normalised
///   rows 2^bits ..           named structure features (structure_feature_names()), each on a scale near 1
/// \endverbatim
///
/// Length stays a separate, named feature on purpose: it is the shortcut whose sign flips under the HH-RLHF
/// policy shift ("the longer response wins" on 60% of base pairs, 43% of online ones). The output is a sparse
/// column; a whole set goes into SparsePreferenceSet / SparseMetaSet.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "metarm/core/config.hpp"
#include "metarm/core/error.hpp"
#include "metarm/data/sparse_meta_set.hpp"
#include "metarm/data/sparse_preference_set.hpp"
#include "metarm/data/text_records.hpp"

namespace metarm {

/// The names of the structure features, in the order of their rows after the hash buckets.
inline constexpr std::array<std::string_view, 7> structure_feature_names{
    "log_length",      // log(1 + characters) / 8
    "newlines",        // log(1 + newline characters) / 4
    "list_items",      // log(1 + lines starting "- ", "* ", "• " or "<digits>. ") / 3
    "code_fences",     // log(1 + "```" fences) / 2
    "question_marks",  // log(1 + '?' characters) / 3
    "refusal",         // 1 when the response contains a refusal phrase ("i'm sorry", "as an ai", ...), else 0
    "prompt_overlap",  // share of the response's distinct words that occur in the last human turn
};

/// How text becomes features: the hash buckets, the n-gram lengths, the structure features and the hash seed.
struct FeaturizerSettings {
  int bits = 18;            ///< 2^bits hash buckets
  int ngrams = 2;           ///< word n-grams of lengths 1 .\. ngrams (1 to 3)
  bool structure = true;    ///< append the named structure features
  std::uint64_t seed = 0;   ///< hash seed; another seed gives another, equally good, hashing

  /// Throws unless bits is in [1, 26] and ngrams in [1, 3].
  void validate() const {
    METARM_REQUIRE(bits >= 1 && bits <= 26, "FeaturizerSettings",
                   "argument 'bits' must be in [1, 26], got {}", bits);
    METARM_REQUIRE(ngrams >= 1 && ngrams <= 3, "FeaturizerSettings",
                   "argument 'ngrams' must be 1, 2 or 3, got {}", ngrams);
  }

  /// 2^bits, the number of hash rows.
  index_t buckets() const { return index_t{1} << bits; }
  /// The number of feature rows: the buckets, and the structure features when they are on.
  index_t dim() const { return buckets() + (structure ? static_cast<index_t>(structure_feature_names.size()) : 0); }

  /// The canonical one-line form, e.g.\ "hash:18,ngrams:2,structure:1,seed:0"; parse() reads it back.
  std::string describe() const {
    return fmt::format("hash:{},ngrams:{},structure:{},seed:{}", bits, ngrams, structure ? 1 : 0, seed);
  }

  /// Reads "hash:BITS" optionally followed by ",ngrams:N", ",structure:0|1", ",seed:S" in any order.
  static FeaturizerSettings parse(std::string_view text) {
    FeaturizerSettings s;
    bool saw_hash = false;
    std::size_t start = 0;
    while (start <= text.size()) {
      const std::size_t comma = std::min(text.find(',', start), text.size());
      const std::string_view item = text.substr(start, comma - start);
      const std::size_t colon = item.find(':');
      METARM_REQUIRE(colon != std::string_view::npos, "features",
                     "expected KEY:VALUE items like hash:18,ngrams:2, got '{}'", item);
      const std::string_view key = item.substr(0, colon);
      const std::string value(item.substr(colon + 1));
      const auto number = [&](long long low, long long high) {
        std::size_t used = 0;
        long long v = 0;
        try {
          v = std::stoll(value, &used);
        } catch (...) {
          used = 0;
        }
        METARM_REQUIRE(used == value.size() && !value.empty() && v >= low && v <= high, "features",
                       "'{}' needs an integer in [{}, {}], got '{}'", key, low, high, value);
        return v;
      };
      if (key == "hash") {
        s.bits = static_cast<int>(number(1, 26));
        saw_hash = true;
      } else if (key == "ngrams") {
        s.ngrams = static_cast<int>(number(1, 3));
      } else if (key == "structure") {
        s.structure = number(0, 1) == 1;
      } else if (key == "seed") {
        std::size_t used = 0;
        unsigned long long v = 0;
        try {
          v = std::stoull(value, &used);
        } catch (...) {
          used = 0;
        }
        METARM_REQUIRE(used == value.size() && !value.empty() && value[0] != '-', "features",
                       "'seed' needs a non-negative integer, got '{}'", value);
        s.seed = v;
      } else {
        throw Error("features", fmt::format("unknown item '{}' (known: hash, ngrams, structure, seed)", key));
      }
      start = comma + 1;
    }
    METARM_REQUIRE(saw_hash, "features", "expected hash:BITS, got '{}'", text);
    s.validate();
    return s;
  }

  /// Settings are equal when every field is.
  friend bool operator==(const FeaturizerSettings&, const FeaturizerSettings&) = default;
};

/// Turns a response and its prompt into one sparse feature column; see the file's description.
class TextFeaturizer {
 public:
  /// One response's features: strictly increasing rows and their values.
  struct Column {
    /// The rows that hold a value, strictly increasing.
    std::vector<index_t> rows;
    /// The value of each of those rows.
    std::vector<float> values;
  };

  /// A featuriser with the default settings: 2^18 buckets, words and word pairs, structure features.
  TextFeaturizer() : TextFeaturizer(FeaturizerSettings{}) {}
  /// A featuriser with `settings`, which it validates.
  explicit TextFeaturizer(FeaturizerSettings settings) : settings_(settings) { settings_.validate(); }

  /// The settings.
  const FeaturizerSettings& settings() const { return settings_; }
  /// The number of feature rows (FeaturizerSettings::dim).
  index_t dim() const { return settings_.dim(); }

  /// Name of feature row `row`: "hash[<bucket>]" or a structure feature's name.
  std::string feature_name(index_t row) const {
    METARM_REQUIRE(row >= 0 && row < dim(), "TextFeaturizer::feature_name", "row {} is outside the features", row);
    if (row < settings_.buckets()) return fmt::format("hash[{}]", row);
    return std::string(structure_feature_names[static_cast<std::size_t>(row - settings_.buckets())]);
  }

  /// Features of `response` written to `out` (the prompt only feeds the overlap feature).
  void featurize(std::string_view prompt, std::string_view response, Column& out) const {
    words_.clear();
    tokenize(response, words_);
    hashes_.clear();
    for (std::size_t i = 0; i < words_.size(); ++i) {
      std::uint64_t h = mix(words_[i] ^ settings_.seed);
      hashes_.push_back(h);
      for (int n = 2; n <= settings_.ngrams && i + 1 >= static_cast<std::size_t>(n); ++n) {
        h = mix(h * 0x9E3779B97F4A7C15ULL + words_[i + 1 - static_cast<std::size_t>(n)] + static_cast<std::uint64_t>(n));
        hashes_.push_back(h);
      }
    }
    // Count each distinct n-gram, then place 1 + log(count) in its bucket with its sign.
    std::sort(hashes_.begin(), hashes_.end());
    entries_.clear();
    const std::uint64_t mask = static_cast<std::uint64_t>(settings_.buckets()) - 1;
    for (std::size_t i = 0; i < hashes_.size();) {
      std::size_t j = i;
      while (j < hashes_.size() && hashes_[j] == hashes_[i]) ++j;
      const double value = 1.0 + std::log(static_cast<double>(j - i));
      const double sign = (hashes_[i] >> 63) != 0 ? -1.0 : 1.0;
      entries_.emplace_back(static_cast<index_t>((hashes_[i] >> 20) & mask), sign * value);
      i = j;
    }
    std::sort(entries_.begin(), entries_.end());
    out.rows.clear();
    out.values.clear();
    double squares = 0.0;
    for (std::size_t i = 0; i < entries_.size();) {
      double sum = 0.0;
      std::size_t j = i;
      while (j < entries_.size() && entries_[j].first == entries_[i].first) sum += entries_[j++].second;
      if (sum != 0.0) {  // opposite signs can cancel in one bucket
        out.rows.push_back(entries_[i].first);
        out.values.push_back(static_cast<float>(sum));
        squares += sum * sum;
      }
      i = j;
    }
    if (squares > 0.0) {
      const double inv = 1.0 / std::sqrt(squares);
      for (auto& v : out.values) v = static_cast<float>(v * inv);
    }
    if (settings_.structure) {
      const auto s = structure_features(prompt, response);
      for (std::size_t k = 0; k < s.size(); ++k) {
        if (s[k] != 0.0) {
          out.rows.push_back(settings_.buckets() + static_cast<index_t>(k));
          out.values.push_back(static_cast<float>(s[k]));
        }
      }
    }
  }

  /// The features of `response` as a new column.
  Column featurize(std::string_view prompt, std::string_view response) const {
    Column out;
    featurize(prompt, response, out);
    return out;
  }

  /// The named structure features of a response, in structure_feature_names order.
  std::array<double, structure_feature_names.size()> structure_features(std::string_view prompt,
                                                                       std::string_view response) const {
    std::array<double, structure_feature_names.size()> f{};
    std::size_t newlines = 0, questions = 0, fences = 0, items = 0;
    for (char c : response) {
      newlines += c == '\n';
      questions += c == '?';
    }
    for (std::size_t at = response.find("```"); at != std::string_view::npos; at = response.find("```", at + 3)) {
      ++fences;
    }
    std::size_t line_start = 0;
    while (line_start <= response.size()) {
      const std::size_t end = std::min(response.find('\n', line_start), response.size());
      items += list_item(response.substr(line_start, end - line_start));
      line_start = end + 1;
    }
    f[0] = std::log1p(static_cast<double>(response.size())) / 8.0;
    f[1] = std::log1p(static_cast<double>(newlines)) / 4.0;
    f[2] = std::log1p(static_cast<double>(items)) / 3.0;
    f[3] = std::log1p(static_cast<double>(fences)) / 2.0;
    f[4] = std::log1p(static_cast<double>(questions)) / 3.0;
    f[5] = contains_refusal(response) ? 1.0 : 0.0;
    f[6] = overlap(last_human_turn(prompt), response);
    return f;
  }

  /// Word hashes of a text: runs of letters, digits and apostrophes (bytes >= 0x80 count as letters, so UTF-8
  /// words stay whole), ASCII lower-cased, the typographic apostrophe read as '.
  static void tokenize(std::string_view text, std::vector<std::uint64_t>& words) {
    std::uint64_t h = fnv_offset;
    bool in_word = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
      auto c = static_cast<unsigned char>(text[i]);
      // U+2019 (E2 80 99) is written as ' in many transcripts and as ’ in others.
      if (c == 0xE2 && i + 2 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0x80 &&
          static_cast<unsigned char>(text[i + 2]) == 0x99) {
        c = '\'';
        i += 2;
      }
      const bool letter = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '\'' || c >= 0x80;
      const bool upper = c >= 'A' && c <= 'Z';
      if (letter || upper) {
        h = (h ^ (upper ? c + 32u : c)) * fnv_prime;
        in_word = true;
      } else if (in_word) {
        words.push_back(h);
        h = fnv_offset;
        in_word = false;
      }
    }
    if (in_word) words.push_back(h);
  }

 private:
  static constexpr std::uint64_t fnv_offset = 0xCBF29CE484222325ULL;
  static constexpr std::uint64_t fnv_prime = 0x100000001B3ULL;

  // A strong 64-bit finaliser (splitmix64's), so that bucket bits and sign bit are independent.
  static std::uint64_t mix(std::uint64_t z) {
    z += 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

  static bool list_item(std::string_view line) {
    line = trim(line);
    if (line.size() >= 2 && (line[0] == '-' || line[0] == '*') && line[1] == ' ') return true;
    if (line.substr(0, 4) == "\xE2\x80\xA2 ") return true;  // "• "
    std::size_t digits = 0;
    while (digits < line.size() && line[digits] >= '0' && line[digits] <= '9') ++digits;
    return digits > 0 && digits + 1 < line.size() && (line[digits] == '.' || line[digits] == ')') && line[digits + 1] == ' ';
  }

  static bool contains_refusal(std::string_view response) {
    static constexpr std::array<std::string_view, 14> phrases{
        "i'm sorry",     "i am sorry",  "i apologize", "i cannot",     "i can't",        "i can not",   "i won't",
        "i'm not able",  "i am not able", "i'm unable", "i am unable", "as an ai",       "i don't know", "i do not know"};
    std::string lower;
    lower.reserve(response.size());
    for (std::size_t i = 0; i < response.size(); ++i) {
      auto c = static_cast<unsigned char>(response[i]);
      if (c == 0xE2 && i + 2 < response.size() && static_cast<unsigned char>(response[i + 1]) == 0x80 &&
          static_cast<unsigned char>(response[i + 2]) == 0x99) {
        lower.push_back('\'');
        i += 2;
        continue;
      }
      lower.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : static_cast<char>(c));
    }
    for (std::string_view phrase : phrases) {
      if (lower.find(phrase) != std::string::npos) return true;
    }
    return false;
  }

  static double overlap(std::string_view human, std::string_view response) {
    std::vector<std::uint64_t> asked, said;
    tokenize(human, asked);
    tokenize(response, said);
    if (said.empty()) return 0.0;
    std::sort(asked.begin(), asked.end());
    std::sort(said.begin(), said.end());
    said.erase(std::unique(said.begin(), said.end()), said.end());
    std::size_t shared = 0;
    for (std::uint64_t w : said) shared += std::binary_search(asked.begin(), asked.end(), w);
    return static_cast<double>(shared) / static_cast<double>(said.size());
  }

  FeaturizerSettings settings_;
  // Scratch reused between calls; a featuriser is therefore not shared between threads.
  mutable std::vector<std::uint64_t> words_;
  mutable std::vector<std::uint64_t> hashes_;
  mutable std::vector<std::pair<index_t, double>> entries_;
};

/// Featurised sets from text records.
inline SparsePreferenceSet<float> featurize_pairs(const TextFeaturizer& featurizer, const std::vector<TextPair>& pairs) {
  SparsePreferenceSet<float> set(featurizer.dim());
  TextFeaturizer::Column chosen, rejected;
  for (const TextPair& pair : pairs) {
    featurizer.featurize(pair.prompt, pair.chosen, chosen);
    featurizer.featurize(pair.prompt, pair.rejected, rejected);
    set.add(chosen.rows, chosen.values, rejected.rows, rejected.values, static_cast<float>(pair.margin));
  }
  return set;
}

/// The prompts' responses as a sparse meta set, one column per response.
inline SparseMetaSet<float> featurize_prompts(const TextFeaturizer& featurizer, const std::vector<TextPrompt>& prompts) {
  SparseMetaSet<float> set(featurizer.dim());
  TextFeaturizer::Column column;
  for (const TextPrompt& prompt : prompts) {
    SparseColumns<float> responses(featurizer.dim());
    for (const std::string& response : prompt.responses) {
      featurizer.featurize(prompt.prompt, response, column);
      responses.add(column.rows, column.values);
    }
    set.add_prompt(responses);
  }
  return set;
}

}  // namespace metarm
