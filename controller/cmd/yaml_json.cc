#include "cmd/yaml_json.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <regex>
#include <set>

namespace meshprobe::cmd {
namespace {

using nlohmann::json;

constexpr std::string_view kCoreTagPrefix = "tag:yaml.org,2002:";

bool one_of(const std::string& text, std::initializer_list<const char*> options) {
  return std::any_of(options.begin(), options.end(),
                     [&](const char* option) { return text == option; });
}

// Go's strconv.ParseInt/ParseUint with base 0, as go-yaml uses them: an optional sign, then
// 0x/0o/0b or a leading 0 (octal), else decimal.
std::optional<json> parse_go_integer(const std::string& text) {
  std::size_t at = 0;
  bool negative = false;
  if (at < text.size() && (text[at] == '+' || text[at] == '-')) negative = text[at++] == '-';
  int base = 10;
  if (text.size() - at > 1 && text[at] == '0') {
    const char prefix = static_cast<char>(std::tolower(static_cast<unsigned char>(text[at + 1])));
    if (prefix == 'x')
      base = 16, at += 2;
    else if (prefix == 'o')
      base = 8, at += 2;
    else if (prefix == 'b')
      base = 2, at += 2;
    else
      base = 8, at += 1;
  }
  if (at >= text.size()) return std::nullopt;
  unsigned long long magnitude = 0;
  for (std::size_t i = at; i < text.size(); ++i) {
    const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(text[i])));
    const int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : 99;
    if (digit >= base) return std::nullopt;
    if (magnitude > (std::numeric_limits<unsigned long long>::max() - digit) / base)
      return std::nullopt;
    magnitude = magnitude * base + digit;
  }
  constexpr auto kMaxInt = static_cast<unsigned long long>(std::numeric_limits<long long>::max());
  if (!negative) {
    if (magnitude <= kMaxInt) return json(static_cast<long long>(magnitude));
    return json(magnitude);
  }
  if (magnitude <= kMaxInt + 1) return json(static_cast<long long>(0 - magnitude));
  return std::nullopt;
}

std::string node_kind(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a scalar";
    default:
      return "nothing";
  }
}

// RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF. YAML text is Unicode
// (kubectl refuses other bytes), and JSON strings must be valid UTF-8 to be written.
bool is_valid_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    std::size_t length = 0;
    unsigned char low = 0x80, high = 0xbf;  // the range of the second byte
    if (lead >= 0xc2 && lead <= 0xdf)
      length = 2;
    else if (lead >= 0xe0 && lead <= 0xef)
      length = 3, low = lead == 0xe0 ? 0xa0 : 0x80, high = lead == 0xed ? 0x9f : 0xbf;
    else if (lead >= 0xf0 && lead <= 0xf4)
      length = 4, low = lead == 0xf0 ? 0x90 : 0x80, high = lead == 0xf4 ? 0x8f : 0xbf;
    else
      return false;
    if (i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      const auto byte = static_cast<unsigned char>(text[i + k]);
      if (k == 1 ? (byte < low || byte > high) : (byte < 0x80 || byte > 0xbf)) return false;
    }
    i += length;
  }
  return true;
}

std::string child_path(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

Result<json> convert(const YAML::Node& node, const std::string& path) {
  const std::string where = path.empty() ? "the document" : path;
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return json(nullptr);
    case YAML::NodeType::Scalar: {
      const std::string& tag = node.Tag();
      const std::string& text = node.Scalar();
      if (!is_valid_utf8(text)) return Error{where + ": not valid UTF-8 text"};
      if (tag == "!") return json(text);  // quoted or block scalar
      if (tag == "?" || tag.empty()) return resolve_plain_scalar(text);
      if (tag.rfind(kCoreTagPrefix, 0) != 0)
        return Error{where + ": the YAML tag " + tag + " is not supported"};
      const std::string type = tag.substr(kCoreTagPrefix.size());
      if (type == "str") return json(text);
      const json resolved = resolve_plain_scalar(text);
      const bool fits = (type == "int" && resolved.is_number_integer()) ||
                        (type == "float" && resolved.is_number()) ||
                        (type == "bool" && resolved.is_boolean()) ||
                        (type == "null" && resolved.is_null());
      if (!fits) return Error{where + ": \"" + text + "\" is not a valid !!" + type};
      return type == "float" ? json(resolved.get<double>()) : resolved;
    }
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (std::size_t i = 0; i < node.size(); ++i) {
        auto item = convert(node[i], path + "[" + std::to_string(i) + "]");
        if (!item) return item.error();
        out.push_back(std::move(item).value());
      }
      return out;
    }
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& entry : node) {
        if (!entry.first.IsScalar())
          return Error{where + ": a mapping key must be a scalar, got " + node_kind(entry.first)};
        const std::string key = entry.first.Scalar();
        if (!is_valid_utf8(key)) return Error{where + ": a key is not valid UTF-8 text"};
        if (key == "<<" && entry.first.Tag() == "?") {
          return Error{where + ": YAML merge keys (<<) are not supported; write the fields out"};
        }
        if (out.contains(key)) return Error{where + ": duplicate key \"" + key + "\""};
        auto value = convert(entry.second, child_path(path, key));
        if (!value) return value.error();
        out[key] = std::move(value).value();
      }
      return out;
    }
  }
  return json(nullptr);
}

// Whether a string can be written as a literal block (|) and read back unchanged: it ends in
// exactly one newline, and has no other whitespace a block scalar would not keep.
bool literal_block_safe(const std::string& text) {
  if (text.size() < 2 || text.back() != '\n' || text[text.size() - 2] == '\n') return false;
  if (text.front() == ' ' || text.front() == '\n') return false;
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      if (i == line_start || text[i - 1] == ' ') return false;  // blank lines and trailing spaces
      line_start = i + 1;
    } else if (c < 0x20 || c == 0x7f) {
      return false;
    }
  }
  return true;
}

// Whether a plain string would be read back as something else and so must be quoted.
bool needs_quotes(const std::string& text) {
  if (!resolve_plain_scalar(text).is_string()) return true;
  // Conservative for other readers (YAML 1.2 numbers, sexagesimals, dates): quote what
  // starts like a number.
  return !text.empty() && (std::isdigit(static_cast<unsigned char>(text.front())) ||
                           text.front() == '+' || text.front() == '-' || text.front() == '.');
}

void emit(YAML::Emitter& out, const json& value, const YAML::Node& hint);

// A mapping key. YAML allows a plain or quoted (implicit) key of at most 1024 characters;
// a longer one is written as an explicit key ("? key" then ": value").
void emit_key(YAML::Emitter& out, const std::string& key) {
  out << YAML::Key;
  if (key.size() > 1024 / 10) {  // escaping can make a character ten: measure only those
    YAML::Emitter alone;
    emit(alone, json(key), YAML::Node());
    if (alone.size() > 1024) out << YAML::LongKey;
  }
  emit(out, json(key), YAML::Node());
}

void emit(YAML::Emitter& out, const json& value, const YAML::Node& hint) {
  switch (value.type()) {
    case json::value_t::object: {
      if (value.empty()) {
        out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
        return;
      }
      out << YAML::BeginMap;
      std::set<std::string> written;
      if (hint.IsMap()) {
        for (const auto& entry : hint) {
          if (!entry.first.IsScalar()) continue;
          const std::string& key = entry.first.Scalar();
          auto it = value.find(key);
          if (it == value.end() || !written.insert(key).second) continue;
          emit_key(out, key);
          out << YAML::Value;
          emit(out, *it, entry.second);
        }
      }
      // Keys the input did not have: "name" first, as Kubernetes writes list entries, then sorted.
      auto write_new = [&](const std::string& key, const json& child) {
        if (!written.insert(key).second) return;
        emit_key(out, key);
        out << YAML::Value;
        emit(out, child, YAML::Node());
      };
      if (auto name = value.find("name"); name != value.end()) write_new("name", *name);
      for (const auto& [key, child] : value.items()) write_new(key, child);
      out << YAML::EndMap;
      return;
    }
    case json::value_t::array: {
      if (value.empty()) {
        out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
        return;
      }
      out << YAML::BeginSeq;
      for (std::size_t i = 0; i < value.size(); ++i) {
        emit(out, value[i], hint.IsSequence() && i < hint.size() ? hint[i] : YAML::Node());
      }
      out << YAML::EndSeq;
      return;
    }
    case json::value_t::string: {
      const auto& text = value.get_ref<const std::string&>();
      if (text.find('\n') != std::string::npos) {
        out << (literal_block_safe(text) ? YAML::Literal : YAML::DoubleQuoted) << text;
      } else if (needs_quotes(text)) {
        out << YAML::DoubleQuoted << text;
      } else {
        out << text;
      }
      return;
    }
    case json::value_t::number_float: {
      const double number = value.get<double>();
      if (std::isnan(number))
        out << ".nan";
      else if (std::isinf(number))
        out << (number > 0 ? ".inf" : "-.inf");
      else {
        std::string text = value.dump();
        if (text.find_first_of(".eE") == std::string::npos) text += ".0";
        out << text;
      }
      return;
    }
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::boolean:
      out << value.dump();
      return;
    default:
      out << YAML::Null;
  }
}

}  // namespace

json resolve_plain_scalar(const std::string& text) {
  if (one_of(text, {"", "~", "null", "Null", "NULL"})) return nullptr;
  if (one_of(text, {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"}))
    return true;
  if (one_of(text, {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"}))
    return false;
  if (one_of(text, {".nan", ".NaN", ".NAN"})) return std::numeric_limits<double>::quiet_NaN();
  if (one_of(text, {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"}))
    return std::numeric_limits<double>::infinity();
  if (one_of(text, {"-.inf", "-.Inf", "-.INF"})) return -std::numeric_limits<double>::infinity();
  if (text.find_first_of("+-.0123456789") != 0) return text;
  std::string plain = text;
  plain.erase(std::remove(plain.begin(), plain.end(), '_'), plain.end());
  if (auto integer = parse_go_integer(plain)) return *integer;
  static const std::regex kFloat(R"(^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$)");
  if (std::regex_match(plain, kFloat)) {
    errno = 0;
    const double number = std::strtod(plain.c_str(), nullptr);
    if (errno == 0) return number;
  }
  return text;
}

Result<json> yaml_to_json(const YAML::Node& node) { return convert(node, ""); }

std::string json_to_yaml(const json& value, const YAML::Node& order_hint) {
  YAML::Emitter out;
  out.SetIndent(2);
  out.SetSeqFormat(YAML::Block);
  out.SetMapFormat(YAML::Block);
  emit(out, value, order_hint);
  std::string text = out.c_str();
  if (text.empty() || text.back() != '\n') text += '\n';
  return text;
}

}  // namespace meshprobe::cmd
