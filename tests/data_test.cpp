// SPDX-License-Identifier: Apache-2.0
// data/ readers and featuriser: text pairs and meta prompts from JSONL (plain and gzip) with every malformed
// case, the hashed n-gram featuriser, splitting by prompt group, .npy and safetensors embeddings, and a 2^18-wide
// sparse model trained on featurised text.
#include "test_support.hpp"

#include <filesystem>
#include <fstream>
#include <set>

#include <unistd.h>

#include <zlib.h>

#include <metarm/io.hpp>

using namespace metarm;
using test::index_t;

namespace data_test {

namespace {

// A fresh directory under the system temp dir, removed at scope end.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path = std::filesystem::temp_directory_path() / ("metarm_data_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++));
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string file(const std::string& name, const std::string& content) const {
    const auto p = (path / name).string();
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }
  std::string gzip(const std::string& name, const std::string& content) const {
    const auto p = (path / name).string();
    gzFile f = gzopen(p.c_str(), "wb");
    gzwrite(f, content.data(), static_cast<unsigned>(content.size()));
    gzclose(f);
    return p;
  }
  static int& counter() {
    static int c = 0;
    return c;
  }
};

std::string hh(const std::string& human, const std::string& answer) {
  return "\n\nHuman: " + human + "\n\nAssistant: " + answer;
}

std::string hh_line(const std::string& human, const std::string& chosen, const std::string& rejected) {
  return nlohmann::json{{"chosen", hh(human, chosen)}, {"rejected", hh(human, rejected)}}.dump() + "\n";
}

}  // namespace

TEST_CASE("text pairs: HH-RLHF transcripts and TRL lines, plain and gzip", "[data][reader]") {
  TempDir dir;
  const std::string multi_turn = "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: what is 2+2?\n\nAssistant:";
  std::string content = hh_line("Name a colour.", "Blue.", "I won't.");
  content += nlohmann::json{{"chosen", multi_turn + " 4."}, {"rejected", multi_turn + " 5.\n\nHuman: really?\n\nAssistant: yes"}}.dump() + "\n";
  content += "\n";  // blank lines are skipped
  content += nlohmann::json{{"prompt", "Say hi"}, {"chosen", " Hi!"}, {"rejected", "Go away"}, {"margin", 1.5}}.dump() + "\n";
  content += hh_line("Same?", "Same.", "Same.");  // identical responses
  for (const std::string& path : {dir.file("pairs.jsonl", content), dir.gzip("pairs.jsonl.gz", content)}) {
    INFO(path);
    const TextPairFile file = read_text_pairs(path);
    REQUIRE(file.pairs.size() == 3);
    CHECK(file.dropped_identical == 1);
    CHECK(file.pairs[0].prompt == "\n\nHuman: Name a colour.\n\nAssistant:");
    CHECK(file.pairs[0].chosen == "Blue.");
    CHECK(file.pairs[0].rejected == "I won't.");
    CHECK(file.pairs[0].line == 1);
    // The prompt ends at the last shared "Assistant:"; the rejected response keeps its invented turns.
    CHECK(file.pairs[1].prompt == multi_turn);
    CHECK(file.pairs[1].chosen == "4.");
    CHECK(file.pairs[1].rejected == "5.\n\nHuman: really?\n\nAssistant: yes");
    CHECK(file.pairs[2].prompt == "Say hi");
    CHECK(file.pairs[2].chosen == "Hi!");
    CHECK(file.pairs[2].margin == 1.5);
    CHECK(file.pairs[2].line == 4);
    CHECK(first_human_turn(file.pairs[1].prompt) == "hi");
    CHECK(last_human_turn(file.pairs[1].prompt) == "what is 2+2?");
  }
  TextReadOptions first_two;
  first_two.max_records = 2;
  CHECK(read_text_pairs(dir.file("again.jsonl", content), first_two).pairs.size() == 2);
}

TEST_CASE("text pairs: every malformed input is an error naming the file, line and field", "[data][reader][errors]") {
  TempDir dir;
  const std::string good = hh_line("q", "a", "b");
  const auto expect = [&](const std::string& name, const std::string& content, std::initializer_list<const char*> fragments,
                          TextReadOptions options = {}) {
    const std::string path = dir.file(name, content);
    INFO(name);
    test::require_error_naming([&] { read_text_pairs(path, options); }, fragments);
  };
  expect("bad_json.jsonl", good + good + "{\"chosen\": \"x\", \n", {"bad_json.jsonl:3", "not valid JSON"});
  expect("not_object.jsonl", good + "[1, 2]\n", {"not_object.jsonl:2", "expected a JSON object", "array"});
  expect("missing.jsonl", good + "{\"chosen\": \"\\n\\nHuman: q\\n\\nAssistant: a\"}\n",
         {"missing.jsonl:2", "missing field \"rejected\""});
  expect("wrong_type.jsonl", "{\"prompt\": \"p\", \"chosen\": 3, \"rejected\": \"r\"}\n",
         {"wrong_type.jsonl:1", "\"chosen\"", "must be a string", "number"});
  expect("margin.jsonl", "{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\", \"margin\": \"big\"}\n",
         {"margin.jsonl:1", "\"margin\"", "must be a number"});
  // A finite margin beyond float's range has no value in the featurised sets, which hold floats.
  expect("huge_margin.jsonl", "{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\", \"margin\": -1e300}\n",
         {"huge_margin.jsonl:1", "\"margin\"", "-1e+300", "beyond the range of float"});
  // Valid JSON whose number nlohmann cannot hold (beyond double) is an Error too, not nlohmann's own exception.
  expect("overflow.jsonl", "{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\", \"margin\": 2e370}\n",
         {"overflow.jsonl:1", "number overflow", "2e370"});
  expect("empty.jsonl", "", {"empty.jsonl", "no preference pairs", "empty"});
  expect("blank.jsonl", "\n  \n", {"blank.jsonl", "empty"});
  expect("identical.jsonl", good + hh_line("q", "same", "same"), {"identical.jsonl:2", "identical"},
         TextReadOptions{.drop_identical = false});
  expect("all_identical.jsonl", hh_line("q", "same", "same"), {"all_identical.jsonl", "dropping 1", "identical"});
  expect("utf8.jsonl", good + "{\"prompt\": \"p\xC3\x28\", \"chosen\": \"c\", \"rejected\": \"r\"}\n",
         {"utf8.jsonl:2", "invalid UTF-8", "byte 14"});
  expect("no_turn.jsonl", "{\"chosen\": \"just text\", \"rejected\": \"other text\"}\n",
         {"no_turn.jsonl:1", "Assistant:", "\"prompt\""});
  test::require_error_naming([&] { read_text_pairs((dir.path / "absent.jsonl").string()); }, {"absent.jsonl", "cannot open"});

  // A gzip file cut short: every prefix that ends inside the stream is reported as truncated, never read as
  // a shorter file.
  std::string content;
  for (int i = 0; i < 200; ++i) content += hh_line("question " + std::to_string(i), "answer", "other answer " + std::to_string(i));
  const std::string whole = dir.gzip("whole.jsonl.gz", content);
  std::ifstream in(whole, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (std::size_t cut : {bytes.size() / 4, bytes.size() / 2, bytes.size() - 9, bytes.size() - 1}) {
    const std::string path = dir.file("cut.jsonl.gz", bytes.substr(0, cut));
    INFO("gzip cut to " << cut << " of " << bytes.size() << " bytes");
    test::require_error_naming([&] { read_text_pairs(path); }, {"cut.jsonl.gz", "truncated"});
  }
  CHECK(read_text_pairs(whole).pairs.size() == 200);
}

TEST_CASE("meta prompts: {prompt, responses} lines and pairs with their labels dropped", "[data][reader]") {
  TempDir dir;
  std::string content = nlohmann::json{{"prompt", "p1"}, {"responses", {"a", "b", "c"}}}.dump() + "\n";
  content += hh_line("q", "x", "y");
  const TextPromptFile file = read_text_prompts(dir.gzip("meta.jsonl.gz", content));
  REQUIRE(file.prompts.size() == 2);
  CHECK(file.prompts[0].responses == std::vector<std::string>{"a", "b", "c"});
  CHECK(file.prompts[1].responses == std::vector<std::string>{"x", "y"});
  const auto expect = [&](const std::string& name, const std::string& text, std::initializer_list<const char*> fragments) {
    const std::string path = dir.file(name, text);
    test::require_error_naming([&] { read_text_prompts(path); }, fragments);
  };
  expect("k1.jsonl", "{\"prompt\": \"p\", \"responses\": [\"only\"]}\n", {"k1.jsonl:1", "k = 1", "k >= 2"});
  expect("type.jsonl", "{\"prompt\": \"p\", \"responses\": \"ab\"}\n", {"type.jsonl:1", "\"responses\"", "array"});
  expect("item.jsonl", "{\"prompt\": \"p\", \"responses\": [\"a\", 2]}\n", {"item.jsonl:1", "item 1", "string"});
  expect("neither.jsonl", "{\"prompt\": \"p\"}\n", {"neither.jsonl:1", "missing field \"responses\""});
  expect("empty.jsonl", "", {"empty.jsonl", "no prompts"});
}

TEST_CASE("featuriser: signed hashed n-grams, sub-linear counts, unit norm, named structure features", "[data][features]") {
  const TextFeaturizer f(FeaturizerSettings{.bits = 12, .ngrams = 2, .structure = true, .seed = 0});
  CHECK(f.dim() == 4096 + 7);
  const auto hashed_norm = [&](const TextFeaturizer::Column& c) {
    double s = 0;
    for (std::size_t i = 0; i < c.rows.size(); ++i) if (c.rows[i] < 4096) s += double(c.values[i]) * c.values[i];
    return std::sqrt(s);
  };
  const auto column = f.featurize("\n\nHuman: how do I bake bread?\n\nAssistant:", "To bake bread, knead the dough.");
  CHECK(std::is_sorted(column.rows.begin(), column.rows.end()));
  CHECK(std::adjacent_find(column.rows.begin(), column.rows.end()) == column.rows.end());
  CHECK(hashed_norm(column) == Approx(1.0).epsilon(1e-6));
  // Case and the typographic apostrophe do not change the words.
  const auto a = f.featurize("", "I\xE2\x80\x99m HERE"), b = f.featurize("", "i'm here");
  CHECK(a.rows == b.rows);
  // "word word word": one unigram counted 3 times (1 + log 3) and one bigram counted twice (1 + log 2).
  FeaturizerSettings plain{.bits = 20, .ngrams = 2, .structure = false};
  const auto repeated = TextFeaturizer(plain).featurize("", "word word word");
  REQUIRE(repeated.rows.size() == 2);
  std::vector<double> magnitudes{std::fabs(repeated.values[0]), std::fabs(repeated.values[1])};
  std::sort(magnitudes.begin(), magnitudes.end());
  const double u = 1 + std::log(3.0), g = 1 + std::log(2.0);
  CHECK(magnitudes[0] == Approx(g / std::sqrt(u * u + g * g)));
  CHECK(magnitudes[1] == Approx(u / std::sqrt(u * u + g * g)));
  // Signs are hashed too: over many words both signs occur.
  const auto many = TextFeaturizer(plain).featurize("", "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu");
  CHECK(std::any_of(many.values.begin(), many.values.end(), [](float v) { return v < 0; }));
  CHECK(std::any_of(many.values.begin(), many.values.end(), [](float v) { return v > 0; }));
  // Another seed hashes the same words elsewhere.
  plain.seed = 7;
  CHECK(TextFeaturizer(plain).featurize("", "alpha beta gamma").rows != TextFeaturizer(FeaturizerSettings{.bits = 20, .structure = false}).featurize("", "alpha beta gamma").rows);

  const std::string response = "I'm sorry, I can't.\n- one\n- two\n3. three\n```\ncode\n```\nWhy? Really?";
  const auto s = f.structure_features("\n\nHuman: tell me why\n\nAssistant:", response);
  CHECK(s[0] == Approx(std::log1p(double(response.size())) / 8));
  CHECK(s[1] == Approx(std::log1p(7.0) / 4));   // newlines
  CHECK(s[2] == Approx(std::log1p(3.0) / 3));   // list items
  CHECK(s[3] == Approx(std::log1p(2.0) / 2));   // code fences
  CHECK(s[4] == Approx(std::log1p(2.0) / 3));   // question marks
  CHECK(s[5] == 1.0);                           // refusal
  CHECK(s[6] == Approx(1.0 / 11.0));            // "why" of 11 distinct response words
  CHECK(f.structure_features("", "Sure, here it is.")[5] == 0.0);
  CHECK(f.feature_name(4096) == "log_length");
  CHECK(f.feature_name(3) == "hash[3]");
  const auto with_structure = f.featurize("", response);
  CHECK(with_structure.rows.back() >= 4096);

  CHECK(FeaturizerSettings::parse("hash:18").describe() == "hash:18,ngrams:2,structure:1,seed:0");
  CHECK(FeaturizerSettings::parse("seed:3,hash:10,structure:0,ngrams:1") ==
        FeaturizerSettings{.bits = 10, .ngrams = 1, .structure = false, .seed = 3});
  test::require_error_naming([] { FeaturizerSettings::parse("hash:40"); }, {"'hash'", "[1, 26]"});
  test::require_error_naming([] { FeaturizerSettings::parse("ngrams:2"); }, {"hash:BITS"});
  test::require_error_naming([] { FeaturizerSettings::parse("hash:8,color:red"); }, {"unknown item 'color'"});
  test::require_error_naming([] { FeaturizerSettings::parse("hash:x"); }, {"'hash'", "'x'"});
}

TEST_CASE("splitting by prompt group: deterministic, whole groups, the fraction of groups, order-free", "[data][split]") {
  std::vector<std::string> keys;
  for (int i = 0; i < 1000; ++i) keys.push_back("prompt " + std::to_string(i % 250));  // 250 groups of 4 rows
  const GroupSplit a = split_by_group(keys, 0.8, 42), b = split_by_group(keys, 0.8, 42), c = split_by_group(keys, 0.8, 43);
  CHECK(a.first == b.first);
  CHECK(a.first != c.first);
  CHECK(a.first_groups == 200);
  CHECK(a.second_groups == 50);
  CHECK(a.first.size() == 800);
  std::set<std::string> first_keys, second_keys;
  for (index_t i : a.first) first_keys.insert(keys[static_cast<std::size_t>(i)]);
  for (index_t i : a.second) second_keys.insert(keys[static_cast<std::size_t>(i)]);
  for (const auto& k : second_keys) CHECK(first_keys.count(k) == 0);
  // Reordering the rows moves no group to the other side.
  std::vector<std::string> reversed(keys.rbegin(), keys.rend());
  const GroupSplit r = split_by_group(reversed, 0.8, 42);
  std::set<std::string> first_reversed;
  for (index_t i : r.first) first_reversed.insert(reversed[static_cast<std::size_t>(i)]);
  CHECK(first_reversed == first_keys);
  CHECK(split_by_group(keys, 0.0, 1).first.empty());
  test::require_error_naming([&] { split_by_group(keys, 1.5, 1); }, {"'fraction'"});
}

namespace {

// .npy bytes for a header dict and raw data, in format version `major`.
std::string npy_bytes(const std::string& dict, const std::string& data, int major = 1) {
  std::string header = dict;
  const std::size_t preamble = major == 1 ? 10 : 12;
  header.append(63 - (preamble + header.size()) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  for (std::size_t i = 0; i < (major == 1 ? 2u : 4u); ++i) out += static_cast<char>((header.size() >> (8 * i)) & 0xFF);
  return out + header + data;
}

template <class T>
std::string raw(std::initializer_list<T> values, bool big_endian = false) {
  std::string out;
  for (T v : values) {
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    if (big_endian) std::reverse(b, b + sizeof(T));
    out.append(b, sizeof(T));
  }
  return out;
}

}  // namespace

TEST_CASE(".npy arrays and embedding sets from .npy and safetensors", "[data][embeddings]") {
  TempDir dir;
  // The same 2 x 3 array [[1, 2, 3], [4, 5, 6]] in four encodings.
  const std::string c32 = dir.file("c32.npy", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                                                        raw<float>({1, 2, 3, 4, 5, 6})));
  const std::string f64 = dir.file("f64.npy", npy_bytes("{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }",
                                                        raw<double>({1, 4, 2, 5, 3, 6}), 2));
  const std::string be = dir.file("be.npy", npy_bytes("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }",
                                                      raw<float>({1, 2, 3, 4, 5, 6}, true), 3));
  const std::string ours = (dir.path / "ours.npy").string();
  write_npy<double>(ours, {2, 3}, {1, 2, 3, 4, 5, 6});
  for (const auto& path : {c32, f64, be, ours}) {
    INFO(path);
    const NpyArray a = read_npy(path);
    CHECK(a.shape == std::vector<std::int64_t>{2, 3});
    CHECK(a.values == std::vector<double>{1, 2, 3, 4, 5, 6});
  }
  const auto bad = [&](const std::string& name, const std::string& bytes, std::initializer_list<const char*> fragments) {
    const std::string path = dir.file(name, bytes);
    test::require_error_naming([&] { read_npy(path); }, fragments);
  };
  bad("magic.npy", "PK\x03\x04 not numpy", {"magic.npy", "not a .npy file"});
  bad("int.npy", npy_bytes("{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }", raw<std::int64_t>({1})),
      {"int.npy", "'<i8'", "float32 or float64"});
  bad("short.npy", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", raw<float>({1, 2, 3})),
      {"short.npy", "truncated"});
  bad("header.npy", npy_bytes("{'descr': '<f4', 'shape': (1,), }", raw<float>({1})), {"header.npy", "fortran_order"});
  bad("long.npy", std::string("\x93NUMPY\x01\x00\xff\xff", 10) + "{", {"long.npy", "exceeds the file"});

  // Pairs: chosen.npy and rejected.npy, [n, d]; the chosen side scores higher under w = (1, 0, 0).
  write_npy<float>((dir.path / "chosen.npy").string(), {2, 3}, {1, 0, 0, 2, 0, 1});
  write_npy<float>((dir.path / "rejected.npy").string(), {2, 3}, {0, 1, 0, 0, 0, 1});
  const PreferenceSet<double> pairs =
      read_embedding_pairs<double>((dir.path / "chosen.npy").string(), (dir.path / "rejected.npy").string());
  CHECK(pairs.size() == 2);
  CHECK(pairs.dim() == 3);
  CHECK(pairs.chosen(1)[0] == 2.0);
  CHECK(pairs.rejected(0)[1] == 1.0);
  write_npy<float>((dir.path / "wide.npy").string(), {3, 2}, {0, 1, 0, 0, 0, 1});
  test::require_error_naming(
      [&] { read_embedding_pairs<float>((dir.path / "chosen.npy").string(), (dir.path / "wide.npy").string()); },
      {"chosen.npy and", "wide.npy", "[2, 3]", "[3, 2]"});
  write_npy<double>((dir.path / "meta.npy").string(), {1, 2, 3}, {1, 2, 3, 4, 5, 6});
  const MetaSet<float> meta = read_embedding_meta<float>((dir.path / "meta.npy").string());
  CHECK(meta.prompts() == 1);
  CHECK(meta.responses_of(0) == 2);
  test::require_error_naming([&] { read_embedding_meta<float>((dir.path / "chosen.npy").string()); }, {"chosen.npy", "[m, k, d]"});
}

TEST_CASE("embedding sets from safetensors tensors, with margins and meta responses", "[data][embeddings]") {
  SafetensorsWriter w;
  const std::vector<float> chosen{1, 0, 2, 0}, rejected{0, 1, 0, 2};
  const std::vector<double> margins{0.5, 1.0};
  std::vector<float> responses(2 * 3 * 2);
  for (std::size_t i = 0; i < responses.size(); ++i) responses[i] = static_cast<float>(i);
  w.add<float>("chosen", {2, 2}, chosen);
  w.add<float>("rejected", {2, 2}, rejected);
  w.add<double>("margin", {2}, margins);
  w.add<float>("responses", {2, 3, 2}, responses);
  const SafetensorsFile file = SafetensorsFile::parse("embeddings.safetensors", w.serialize());
  const auto pairs = read_embedding_pairs<float>(file);
  CHECK(pairs.size() == 2);
  CHECK(pairs.margin(1) == 1.0f);
  CHECK(pairs.chosen(1)[0] == 2.0f);
  const auto meta = read_embedding_meta<float>(file);
  CHECK(meta.prompts() == 2);
  CHECK(meta.responses_of(0) == 3);
  CHECK(meta.prompt_features(1)[0] == 6.0f);

  SafetensorsWriter mismatched;
  mismatched.add<float>("chosen", {2, 2}, chosen);
  mismatched.add<float>("rejected", {1, 4}, rejected);
  test::require_error_naming([&] { read_embedding_pairs<float>(SafetensorsFile::parse("m.safetensors", mismatched.serialize())); },
                             {"m.safetensors", "[2, 2]", "[1, 4]"});
  SafetensorsWriter integers;
  integers.add<std::int64_t>("chosen", {1, 1}, std::vector<std::int64_t>{1});
  integers.add<std::int64_t>("rejected", {1, 1}, std::vector<std::int64_t>{1});
  test::require_error_naming([&] { read_embedding_pairs<float>(SafetensorsFile::parse("i.safetensors", integers.serialize())); },
                             {"i.safetensors", "\"chosen\"", "I64", "F32 or F64"});
  SafetensorsWriter not_finite;
  const std::vector<float> nan_row{1, std::nanf("")};
  not_finite.add<float>("chosen", {1, 2}, nan_row);
  not_finite.add<float>("rejected", {1, 2}, std::vector<float>{0, 0});
  test::require_error_naming([&] { read_embedding_pairs<float>(SafetensorsFile::parse("n.safetensors", not_finite.serialize())); },
                             {"n.safetensors", "row 0", "not finite"});
  // Finite float64 values beyond float's range: refused, naming the value, rather than converted (undefined).
  SafetensorsWriter too_large;
  too_large.add<double>("chosen", {1, 2}, std::vector<double>{1, 0});
  too_large.add<double>("rejected", {1, 2}, std::vector<double>{0, 1e300});
  too_large.add<double>("responses", {1, 2, 2}, std::vector<double>{1, 2, 3, -1e39});
  const SafetensorsFile large = SafetensorsFile::parse("l.safetensors", too_large.serialize());
  test::require_error_naming([&] { read_embedding_pairs<float>(large); },
                             {"l.safetensors", "row 0: feature 1 of the rejected embedding", "1e+300"});
  test::require_error_naming([&] { read_embedding_meta<float>(large); },
                             {"l.safetensors", "prompt 0: response 1, feature 1", "-1e+39"});
  CHECK(read_embedding_pairs<double>(large).rejected(0)[1] == 1e300);
  SafetensorsWriter lonely;
  lonely.add<float>("responses", {1, 1, 2}, std::vector<float>{1, 2});
  test::require_error_naming([&] { read_embedding_meta<float>(SafetensorsFile::parse("k.safetensors", lonely.serialize())); },
                             {"k.safetensors", "k = 1"});
}

TEST_CASE("a 2^18-wide linear model learns from featurised text without densifying", "[data][features][sparse]") {
  // Chosen responses thank the user; rejected ones do not. Everything else is noise words.
  Rng rng(7);
  const std::vector<std::string> noise{"apple", "river", "stone", "cloud", "paper", "green", "seven", "quiet", "lamp", "road"};
  const auto sentence = [&](bool thanks) {
    std::string s;
    for (int i = 0; i < 6; ++i) s += noise[rng.below(noise.size())] + " ";
    if (thanks) s += "thank you";
    return s;
  };
  std::vector<TextPair> train, test_pairs;
  for (int i = 0; i < 400; ++i) (i < 300 ? train : test_pairs).push_back({"\n\nHuman: hi\n\nAssistant:", sentence(true), sentence(false)});
  const TextFeaturizer featurizer(FeaturizerSettings{.bits = 18});
  const auto train_set = featurize_pairs(featurizer, train), test_set = featurize_pairs(featurizer, test_pairs);
  CHECK(train_set.dim() == (1 << 18) + 7);
  CHECK(train_set.chosen_features().nonzeros() < 300 * 40);  // a few dozen stored values per response
  SparseMetaLearner<LinearModel<float>, Vanilla, Adam> learner(LinearModel<float>(train_set.dim()), Vanilla{},
                                                               Adam{.learning_rate = 1e-2}, LearnerOptions{.seed = 1});
  const double before = learner.evaluate(test_set).at("accuracy");
  learner.fit(train_set, nullptr, FitOptions<float, SparseInput<float>>{.epochs = 2, .batch_size = 16});
  const double after = learner.evaluate(test_set).at("accuracy");
  INFO("accuracy before " << before << ", after " << after);
  CHECK(after > 0.97);
}

}  // namespace data_test
