// SPDX-License-Identifier: Apache-2.0
/// \file
/// The safetensors format (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length N,
/// N bytes of JSON header {"name": {"dtype", "shape", "data_offsets": [begin, end]}, ..., "__metadata__":
/// {string: string}}, then the raw little-endian tensor bytes, offsets relative to the end of the header.
///
/// Reading validates everything before any tensor is handed out: the header length against the file, the
/// header as UTF-8 JSON of the right shape, every dtype, shape and offset pair, sizes that match, and tensors
/// that cover the data exactly (no overlap, no hole, nothing after the last). Anything else is refused with a
/// metarm::Error naming the file and the field. Writing goes to a temporary file in the same directory that
/// is renamed over the target, so a crash never leaves a half-written file under the target's name.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "metarm/core/error.hpp"
#include "metarm/core/utf8.hpp"
#include "metarm/io/atomic_file.hpp"

namespace metarm {

static_assert(std::endian::native == std::endian::little,
              "metarm: safetensors I/O assumes a little-endian host (tensor bytes are little-endian)");

/// The element types of the safetensors format.
enum class Dtype { F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL };

/// Each Dtype under its name in the format.
inline constexpr std::array<std::pair<std::string_view, Dtype>, 13> dtype_names{{{"F64", Dtype::F64},
                                                                                 {"F32", Dtype::F32},
                                                                                 {"F16", Dtype::F16},
                                                                                 {"BF16", Dtype::BF16},
                                                                                 {"I64", Dtype::I64},
                                                                                 {"I32", Dtype::I32},
                                                                                 {"I16", Dtype::I16},
                                                                                 {"I8", Dtype::I8},
                                                                                 {"U64", Dtype::U64},
                                                                                 {"U32", Dtype::U32},
                                                                                 {"U16", Dtype::U16},
                                                                                 {"U8", Dtype::U8},
                                                                                 {"BOOL", Dtype::BOOL}}};

/// The dtype's name in the format, such as "F32".
inline std::string_view dtype_name(Dtype dtype) {
  for (const auto& [name, value] : dtype_names) {
    if (value == dtype) return name;
  }
  return "?";
}

/// The size of one element in bytes.
inline std::size_t dtype_size(Dtype dtype) {
  switch (dtype) {
    case Dtype::F64: case Dtype::I64: case Dtype::U64: return 8;
    case Dtype::F32: case Dtype::I32: case Dtype::U32: return 4;
    case Dtype::F16: case Dtype::BF16: case Dtype::I16: case Dtype::U16: return 2;
    case Dtype::I8: case Dtype::U8: case Dtype::BOOL: return 1;
  }
  return 0;
}

/// The Dtype of element type T: double, float, 64- and 32-bit integers, or std::uint8_t; others do not compile.
template <class T>
constexpr Dtype dtype_of() {
  if constexpr (std::is_same_v<T, double>) return Dtype::F64;
  else if constexpr (std::is_same_v<T, float>) return Dtype::F32;
  else if constexpr (std::is_same_v<T, std::int64_t> || std::is_same_v<T, long long>) return Dtype::I64;
  else if constexpr (std::is_same_v<T, std::int32_t>) return Dtype::I32;
  else if constexpr (std::is_same_v<T, std::uint64_t> || std::is_same_v<T, unsigned long long>) return Dtype::U64;
  else if constexpr (std::is_same_v<T, std::uint32_t>) return Dtype::U32;
  else if constexpr (std::is_same_v<T, std::uint8_t>) return Dtype::U8;
  else static_assert(!std::is_same_v<T, T>, "metarm: no safetensors dtype for this element type");
}

/// One tensor of a safetensors file: its name, dtype, shape and where its bytes lie.
struct TensorInfo {
  /// The tensor's name in the header.
  std::string name;
  /// Its element type.
  Dtype dtype = Dtype::F32;
  /// Its dimensions, outermost first.
  std::vector<std::int64_t> shape;
  std::size_t begin = 0;  ///< byte offsets into the data section
  /// The byte offset just past its data, in the data section.
  std::size_t end = 0;

  /// The number of elements.
  std::int64_t elements() const {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
};

/// A safetensors file read into memory and validated as the file's description says.
class SafetensorsFile {
 public:
  /// Headers above this size are refused before any is read (the reference implementation's limit).
  static constexpr std::uint64_t max_header_bytes = 100u << 20;

  /// Reads and validates a whole file.
  static SafetensorsFile read(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) {
      throw Error(path, fmt::format("cannot open for reading: {}", std::strerror(errno)));
    }
    std::vector<unsigned char> bytes;
    unsigned char chunk[1 << 16];
    std::size_t got;
    while ((got = std::fread(chunk, 1, sizeof chunk, f)) > 0) {
      bytes.insert(bytes.end(), chunk, chunk + got);
    }
    const bool failed = std::ferror(f) != 0;
    std::fclose(f);
    if (failed) {
      throw Error(path, "read failed");
    }
    return parse(path, std::move(bytes));
  }

  /// Validates `bytes` as a safetensors file; `path` only names it in errors.
  static SafetensorsFile parse(std::string path, std::vector<unsigned char> bytes) {
    SafetensorsFile file;
    file.path_ = std::move(path);
    file.bytes_ = std::move(bytes);
    file.validate();
    return file;
  }

  /// The path the file was read from.
  const std::string& path() const { return path_; }
  /// The string metadata of the header ("__metadata__").
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  /// The tensors, in the header's order.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }

  /// The tensor called `name`, or null.
  const TensorInfo* find(std::string_view name) const {
    for (const auto& t : tensors_) {
      if (t.name == name) return &t;
    }
    return nullptr;
  }

  /// The tensor called `name`; throws when there is none.
  const TensorInfo& tensor(std::string_view name) const {
    const TensorInfo* t = find(name);
    if (t == nullptr) throw Error(path_, fmt::format("no tensor named \"{}\"", name));
    return *t;
  }

  /// Tensor t's raw little-endian bytes.
  std::span<const unsigned char> bytes(const TensorInfo& t) const {
    return {bytes_.data() + data_start_ + t.begin, t.end - t.begin};
  }

  /// The elements of tensor `name`, which must have dtype_of<T>() and, when `shape` is given, that shape.
  template <class T>
  std::vector<T> values(std::string_view name, const std::vector<std::int64_t>* shape = nullptr) const {
    const TensorInfo& t = tensor(name);
    if (t.dtype != dtype_of<T>()) {
      throw Error(path_, fmt::format("tensor \"{}\" has dtype {}, expected {}", t.name, dtype_name(t.dtype),
                                     dtype_name(dtype_of<T>())));
    }
    if (shape != nullptr && t.shape != *shape) {
      throw Error(path_, fmt::format("tensor \"{}\" has shape {}, expected {}", t.name, shape_text(t.shape),
                                     shape_text(*shape)));
    }
    std::vector<T> out(static_cast<std::size_t>(t.elements()));
    if (!out.empty()) std::memcpy(out.data(), bytes(t).data(), out.size() * sizeof(T));
    return out;
  }

  /// A shape as "[2, 3]", for messages.
  static std::string shape_text(const std::vector<std::int64_t>& shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
  }

 private:
  [[noreturn]] void fail(const std::string& message) const { throw Error(path_, message); }

  void validate() {
    const std::size_t size = bytes_.size();
    if (size < 8) {
      fail(fmt::format("file is {} bytes, too short for the 8-byte header length", size));
    }
    std::uint64_t header_length = 0;
    for (int i = 7; i >= 0; --i) header_length = (header_length << 8) | bytes_[static_cast<std::size_t>(i)];
    if (header_length > size - 8) {
      fail(fmt::format("header length {} exceeds the {} bytes after it (truncated or not a safetensors file)",
                       header_length, size - 8));
    }
    if (header_length == 0 || header_length > max_header_bytes) {
      fail(fmt::format("header length {} is outside [1, {}]", header_length, max_header_bytes));
    }
    const std::string_view header(reinterpret_cast<const char*>(bytes_.data() + 8), static_cast<std::size_t>(header_length));
    data_start_ = 8 + static_cast<std::size_t>(header_length);
    const std::size_t data_size = size - data_start_;
    if (header.front() != '{') {
      fail("header does not start with '{' (not a safetensors file)");
    }
    if (invalid_utf8_offset(header) != std::string_view::npos) {
      fail("header is not valid UTF-8");
    }
    // Duplicate names would let two entries claim one tensor; nlohmann keeps the last silently, so catch them.
    std::set<std::string> top_level_keys;
    std::string duplicate;
    nlohmann::json json;
    try {
      json = nlohmann::json::parse(header, [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
        if (event == nlohmann::json::parse_event_t::key && depth == 1 && duplicate.empty()) {
          const std::string key = parsed.get<std::string>();
          if (!top_level_keys.insert(key).second) duplicate = key;
        }
        return true;
      });
    } catch (const nlohmann::json::exception& e) {
      fail(fmt::format("header is not valid JSON: {}", e.what()));
    }
    if (!duplicate.empty()) fail(fmt::format("header names \"{}\" twice", duplicate));
    if (!json.is_object()) fail("header is not a JSON object");

    for (auto it = json.begin(); it != json.end(); ++it) {
      const std::string& name = it.key();
      const nlohmann::json& entry = it.value();
      if (name == "__metadata__") {
        if (!entry.is_object()) fail("\"__metadata__\" must be an object of strings");
        for (auto m = entry.begin(); m != entry.end(); ++m) {
          if (!m.value().is_string()) fail(fmt::format("\"__metadata__\" value \"{}\" is not a string", m.key()));
          metadata_[m.key()] = m.value().get<std::string>();
        }
        continue;
      }
      const std::string where = "tensor \"" + name + "\": ";
      if (name.empty()) fail("a tensor has an empty name");
      if (!entry.is_object()) fail(fmt::format("{}entry is not an object", where));
      for (auto field = entry.begin(); field != entry.end(); ++field) {
        if (field.key() != "dtype" && field.key() != "shape" && field.key() != "data_offsets") {
          fail(fmt::format("{}unknown field \"{}\"", where, field.key()));
        }
      }
      TensorInfo t;
      t.name = name;
      const auto dtype = entry.find("dtype");
      if (dtype == entry.end() || !dtype->is_string()) fail(fmt::format("{}\"dtype\" is missing or not a string",
                                                                        where));
      bool known = false;
      for (const auto& [dtype_text, value] : dtype_names) {
        if (*dtype == dtype_text) {
          t.dtype = value;
          known = true;
        }
      }
      if (!known) fail(fmt::format("{}unknown dtype \"{}\"", where, dtype->get<std::string>()));
      const auto shape = entry.find("shape");
      if (shape == entry.end() || !shape->is_array()) fail(fmt::format("{}\"shape\" is missing or not an array", where));
      // Element count with overflow checks: every dimension and the product stay below 2^62.
      std::uint64_t elements = 1;
      constexpr std::uint64_t limit = std::uint64_t{1} << 62;
      for (const auto& d : *shape) {
        if (!d.is_number_unsigned()) fail(fmt::format("{}\"shape\" must hold non-negative integers", where));
        const std::uint64_t dim = d.get<std::uint64_t>();
        if (dim >= limit || (dim != 0 && elements > limit / dim)) fail(fmt::format("{}\"shape\" is too large", where));
        elements *= dim;
        t.shape.push_back(static_cast<std::int64_t>(dim));
      }
      const auto offsets = entry.find("data_offsets");
      if (offsets == entry.end() || !offsets->is_array() || offsets->size() != 2 || !(*offsets)[0].is_number_unsigned() ||
          !(*offsets)[1].is_number_unsigned()) {
        fail(fmt::format("{}\"data_offsets\" must be two non-negative integers [begin, end]", where));
      }
      const std::uint64_t begin = (*offsets)[0].get<std::uint64_t>(), end = (*offsets)[1].get<std::uint64_t>();
      if (begin > end || end > data_size) {
        fail(fmt::format("{}data_offsets [{}, {}] lie outside the data section of {} bytes", where, begin, end,
                         data_size));
      }
      if (elements > limit / 8 || end - begin != elements * dtype_size(t.dtype)) {
        fail(fmt::format("{}data_offsets span {} bytes, but dtype {} and shape {} need {}", where, end - begin,
                         dtype_name(t.dtype), shape_text(t.shape), elements * dtype_size(t.dtype)));
      }
      t.begin = static_cast<std::size_t>(begin);
      t.end = static_cast<std::size_t>(end);
      tensors_.push_back(std::move(t));
    }

    // The tensors must tile the data section exactly.
    std::vector<const TensorInfo*> ordered;
    for (const auto& t : tensors_) ordered.push_back(&t);
    std::sort(ordered.begin(), ordered.end(), [](const TensorInfo* a, const TensorInfo* b) {
      return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
    });
    std::size_t covered = 0;
    for (const TensorInfo* t : ordered) {
      if (t->begin < covered) fail(fmt::format("tensor \"{}\" overlaps the tensor before it in the data section",
                                               t->name));
      if (t->begin > covered) {
        fail(fmt::format("the data section has unused bytes [{}, {}) before tensor \"{}\"", covered, t->begin, t->name));
      }
      covered = t->end;
    }
    if (covered != data_size) {
      fail(fmt::format("the data section has {} bytes after its last tensor", data_size - covered));
    }
  }

  std::string path_;
  std::vector<unsigned char> bytes_;
  std::size_t data_start_ = 0;
  std::map<std::string, std::string> metadata_;
  std::vector<TensorInfo> tensors_;
};

/// Builds a safetensors file from tensors and string metadata, and writes it atomically.
class SafetensorsWriter {
 public:
  /// Adds a tensor of `shape` whose row-major elements are `values`.
  template <class T>
  void add(std::string name, std::vector<std::int64_t> shape, std::span<const T> values) {
    std::int64_t elements = 1;
    for (auto d : shape) {
      METARM_REQUIRE(d >= 0, "SafetensorsWriter::add", "tensor \"{}\" has a negative dimension", name);
      elements *= d;
    }
    METARM_REQUIRE(elements == static_cast<std::int64_t>(values.size()), "SafetensorsWriter::add",
                   "tensor \"{}\": shape {} needs {} values, got {}", name, SafetensorsFile::shape_text(shape),
                   elements, values.size());
    METARM_REQUIRE(!name.empty() && name != "__metadata__", "SafetensorsWriter::add", "invalid tensor name '{}'", name);
    for (const auto& e : entries_) {
      METARM_REQUIRE(e.name != name, "SafetensorsWriter::add", "tensor \"{}\" is added twice", name);
    }
    Entry e{std::move(name), dtype_of<T>(), std::move(shape), {}};
    e.data.resize(values.size() * sizeof(T));
    if (!values.empty()) std::memcpy(e.data.data(), values.data(), e.data.size());
    entries_.push_back(std::move(e));
  }

  /// Sets a string metadata entry.
  void set_metadata(std::string key, std::string value) { metadata_[std::move(key)] = std::move(value); }

  /// The file's bytes: header padded with spaces so the data section starts 8-byte aligned.
  std::vector<unsigned char> serialize() const {
    nlohmann::json header = nlohmann::json::object();
    if (!metadata_.empty()) header["__metadata__"] = metadata_;
    std::size_t offset = 0;
    for (const auto& e : entries_) {
      header[e.name] = {{"dtype", dtype_name(e.dtype)}, {"shape", e.shape}, {"data_offsets", {offset, offset + e.data.size()}}};
      offset += e.data.size();
    }
    // Metadata may carry file names that are not valid UTF-8; replace such bytes rather than fail at save.
    std::string text = header.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    text.append((8 - text.size() % 8) % 8, ' ');
    std::vector<unsigned char> out(8 + text.size() + offset);
    const std::uint64_t n = text.size();
    for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<unsigned char>(n >> (8 * i));
    std::memcpy(out.data() + 8, text.data(), text.size());
    std::size_t at = 8 + text.size();
    for (const auto& e : entries_) {
      if (!e.data.empty()) std::memcpy(out.data() + at, e.data.data(), e.data.size());
      at += e.data.size();
    }
    return out;
  }

  /// Writes atomically: a temporary file in the same directory, flushed to disk, then renamed over `path`.
  void write(const std::string& path) const { write_file_atomically(path, serialize()); }

 private:
  struct Entry {
    std::string name;
    Dtype dtype;
    std::vector<std::int64_t> shape;
    std::vector<unsigned char> data;
  };
  std::vector<Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace metarm
