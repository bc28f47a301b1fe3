// SPDX-License-Identifier: Apache-2.0
/// \file
/// One JSON object per line (JSONL): parsing with errors that name the file, the line and the field.
#pragma once

#include <cmath>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "metarm/core/error.hpp"
#include "metarm/core/utf8.hpp"

namespace metarm {

/// Parses one line as a JSON object; `where` is "path:line".
inline nlohmann::json parse_json_object(std::string_view line, const std::string& where) {
  const std::size_t bad = invalid_utf8_offset(line);
  if (bad != std::string_view::npos) {
    throw Error(where, fmt::format("invalid UTF-8 at byte {} of the line", bad + 1));
  }
  nlohmann::json value;
  try {
    value = nlohmann::json::parse(line);
  } catch (const nlohmann::json::parse_error& e) {
    // nlohmann's message starts with "[json.exception.parse_error.101] parse error at line 1, column N: ...".
    std::string detail = e.what();
    const std::size_t column = detail.find("column");
    if (column != std::string::npos) {
      detail = detail.substr(column);
    }
    throw Error(where, fmt::format("not valid JSON ({})", detail));
  } catch (const nlohmann::json::exception& e) {
    // Valid JSON that nlohmann cannot hold, a number beyond double's range: "[json.exception.out_of_range.406]
    // number overflow parsing '1e999'".
    std::string detail = e.what();
    const std::size_t tag_end = detail.find("] ");
    if (tag_end != std::string::npos) {
      detail = detail.substr(tag_end + 2);
    }
    throw Error(where, fmt::format("cannot be read as JSON ({})", detail));
  }
  if (!value.is_object()) {
    throw Error(where, fmt::format("expected a JSON object, got {}", value.type_name()));
  }
  return value;
}

/// Whether the object has the field.
inline bool has_field(const nlohmann::json& object, const char* field) { return object.find(field) != object.end(); }

/// The field's value; throws, naming `where` and the field, when it is missing.
inline const nlohmann::json& require_field(const nlohmann::json& object, const char* field, const std::string& where) {
  const auto it = object.find(field);
  if (it == object.end()) {
    throw Error(where, fmt::format("missing field \"{}\"", field));
  }
  return *it;
}

/// The field's string value; throws, naming `where` and the field, when it is missing or not a string.
inline const std::string& require_string(const nlohmann::json& object, const char* field, const std::string& where) {
  const nlohmann::json& value = require_field(object, field, where);
  if (!value.is_string()) {
    throw Error(where, fmt::format("field \"{}\" must be a string, got {}", field, value.type_name()));
  }
  return value.get_ref<const std::string&>();
}

/// The field's finite number; throws, naming `where` and the field, when it is missing, not a number or not finite.
inline double require_number(const nlohmann::json& object, const char* field, const std::string& where) {
  const nlohmann::json& value = require_field(object, field, where);
  if (!value.is_number()) {
    throw Error(where, fmt::format("field \"{}\" must be a number, got {}", field, value.type_name()));
  }
  const double x = value.get<double>();
  if (!std::isfinite(x)) {
    throw Error(where, fmt::format("field \"{}\" is not finite", field));
  }
  return x;
}

}  // namespace metarm
