#include "agent/http_probe_request.h"

#include <algorithm>
#include <cctype>

namespace meshprobe::agent {
namespace {

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

const probe::HttpHeader* find_header(const std::vector<probe::HttpHeader>& headers,
                                     std::string_view name) {
  for (const auto& header : headers) {
    if (equals_ignoring_case(header.name, name)) return &header;
  }
  return nullptr;
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

int default_port(std::string_view scheme) { return scheme == "https" ? 443 : 80; }

bool is_target_character(char c) { return c > 0x20 && c != 0x7f; }

// The stored path as a request target: control bytes, spaces and non-ASCII bytes, which
// cannot appear in one (and CR LF would split the request), are percent-encoded, as Go's URL
// handling encodes them for the kubelet; everything else, escapes included, stays.
std::string escape_target(std::string_view path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : path) {
    if (is_target_character(c)) {
      out += c;
    } else {
      const auto byte = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    }
  }
  return out;
}

// RFC 3986 section 5.2.4, on a path without query.
std::string remove_dot_segments(std::string_view path) {
  std::vector<std::string_view> segments;
  std::size_t start = 1;  // path starts with "/"
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view segment = path.substr(start, end - start);
    const bool last = end == path.size();
    if (segment == "..") {
      if (!segments.empty()) segments.pop_back();
      if (last) segments.emplace_back();
    } else if (segment == ".") {
      if (last) segments.emplace_back();
    } else {
      segments.push_back(segment);
    }
    start = end + 1;
  }
  std::string out;
  for (auto segment : segments) {
    out += '/';
    out += segment;
  }
  return out.empty() ? "/" : out;
}

// "path?query" → the path with dot segments removed, then the query.
std::string normalize_target(std::string_view target) {
  const auto query = target.find('?');
  std::string path(target.substr(0, query));
  if (path.empty() || path.front() != '/') path.insert(path.begin(), '/');
  std::string out = remove_dot_segments(path);
  if (query != std::string_view::npos) out += target.substr(query);
  return out;
}

// "host[:port]" or "[v6]:port" after "//", followed by the target.
std::optional<ProbeUrl> parse_authority_and_target(std::string scheme, std::string_view rest) {
  const auto authority_end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view target =
      authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) return std::nullopt;
  ProbeUrl url;
  url.scheme = std::move(scheme);
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    url.host = std::string(authority.substr(1, close - 1));
    auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port_text = after.substr(1);
    }
  } else {
    const auto colon = authority.find(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (url.host.empty()) return std::nullopt;
  url.host = lowercase(url.host);
  url.port = default_port(url.scheme);
  if (!port_text.empty()) {
    if (port_text.size() > 5 || !std::all_of(port_text.begin(), port_text.end(), ::isdigit)) {
      return std::nullopt;
    }
    url.port = std::stoi(std::string(port_text));
    if (url.port < 1 || url.port > 65535) return std::nullopt;
  }
  url.target = normalize_target(target.empty() ? "/" : target);
  return url;
}

// The scheme of an absolute reference ("HTTP:" → "http"), or nullopt for a relative one.
std::optional<std::string> scheme_of(std::string_view reference) {
  const auto colon = reference.find(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  if (!std::isalpha(static_cast<unsigned char>(reference[0]))) return std::nullopt;
  for (char c : reference.substr(0, colon)) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') {
      return std::nullopt;  // a ':' later in a relative path, e.g. "a/b:c"
    }
  }
  return lowercase(reference.substr(0, colon));
}

}  // namespace

std::string ProbeUrl::authority() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

HttpProbeState initial_probe_state(const probe::HttpGetAction& action, std::string_view pod_ip) {
  HttpProbeState state;
  state.url.scheme = lowercase(action.scheme);
  state.url.host = probe_host(action.host, pod_ip);
  state.url.port = action.port;
  state.url.target = escape_target(action.path);
  if (const auto* host = find_header(action.headers, "Host"); host && !host->value.empty()) {
    state.host_header = host->value;
  }
  return state;
}

OutgoingRequest build_probe_request(const HttpProbeState& state,
                                    const std::vector<probe::HttpHeader>& stored_headers,
                                    std::string_view caller_user_agent) {
  OutgoingRequest request;
  request.target = state.url.target;
  request.headers.push_back({"Host", state.host_header.value_or(state.url.authority())});
  const auto* stored_accept = find_header(stored_headers, "Accept");
  const bool drop_accept = stored_accept && stored_accept->value.empty();
  for (const auto& header : stored_headers) {
    if (equals_ignoring_case(header.name, "Host")) continue;
    if (drop_accept && equals_ignoring_case(header.name, "Accept")) continue;
    request.headers.push_back(header);
  }
  if (!find_header(stored_headers, "User-Agent") && !caller_user_agent.empty()) {
    request.headers.push_back({"User-Agent", std::string(caller_user_agent)});
  }
  if (!stored_accept) request.headers.push_back({"Accept", "*/*"});
  if (!find_header(stored_headers, "Connection"))
    request.headers.push_back({"Connection", "close"});
  return request;
}

bool is_safe_header(const probe::HttpHeader& header) {
  static constexpr std::string_view kTokenSymbols = "!#$%&'*+-.^_`|~";
  if (header.name.empty()) return false;
  for (char c : header.name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) &&
        kTokenSymbols.find(c) == std::string_view::npos) {
      return false;
    }
  }
  return header.value.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos;
}

std::optional<ProbeUrl> resolve_location(const ProbeUrl& base, std::string_view location) {
  location = location.substr(0, location.find('#'));
  if (!std::all_of(location.begin(), location.end(), is_target_character)) return std::nullopt;
  if (auto scheme = scheme_of(location)) {
    if (*scheme != "http" && *scheme != "https") return std::nullopt;
    auto rest = location.substr(scheme->size() + 1);
    if (rest.substr(0, 2) != "//") return std::nullopt;
    return parse_authority_and_target(*scheme, rest.substr(2));
  }
  if (location.substr(0, 2) == "//")
    return parse_authority_and_target(base.scheme, location.substr(2));
  ProbeUrl next = base;
  const auto base_query = base.target.find('?');
  const std::string base_path = base.target.substr(0, base_query);
  if (location.empty()) return next;
  if (location.front() == '/') {
    next.target = normalize_target(location);
  } else if (location.front() == '?') {
    next.target = base_path + std::string(location);
  } else {
    next.target =
        normalize_target(base_path.substr(0, base_path.rfind('/') + 1) + std::string(location));
  }
  return next;
}

RedirectDecision decide_redirect(const HttpProbeState& state, std::string_view first_host,
                                 int status, std::optional<std::string_view> location) {
  RedirectDecision decision;
  const bool redirect =
      status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
  if (!redirect || !location || location->empty()) return decision;  // kAnswer
  auto next_url = resolve_location(state.url, *location);
  if (!next_url) {
    decision.kind = RedirectDecision::Kind::kFail;
    decision.failure =
        ProbeOutcome::failure(FailureReason::kBadRedirect, "redirect to an unusable Location \"" +
                                                               std::string(*location) + "\"");
    return decision;
  }
  if (next_url->host != first_host) return decision;  // another host: not followed, a success
  if (state.requests_made >= kMaxProbeRequests) {
    decision.kind = RedirectDecision::Kind::kFail;
    decision.failure =
        ProbeOutcome::failure(FailureReason::kTooManyRedirects,
                              "stopped after " + std::to_string(kMaxProbeRequests) + " redirects");
    return decision;
  }
  decision.kind = RedirectDecision::Kind::kFollow;
  decision.next.url = std::move(*next_url);
  decision.next.requests_made = state.requests_made;
  if (!scheme_of(*location)) decision.next.host_header = state.host_header;
  return decision;
}

ProbeOutcome outcome_for_status(int status) {
  if (status >= 200 && status < 300) return {status, FailureReason::kNone, {}};
  if (status >= 300 && status < 400) return ProbeOutcome::success();
  const std::string detail = "application answered HTTP " + std::to_string(status);
  if (status >= 400 && status < 600)
    return ProbeOutcome::failure(FailureReason::kStatusCode, detail, status);
  return ProbeOutcome::failure(FailureReason::kStatusCode, detail);
}

}  // namespace meshprobe::agent
