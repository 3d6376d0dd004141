#include "kube/config.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace meshprobe::kube {
namespace {

using meshprobe::Error;
using meshprobe::Result;

Result<std::string> read_file(const std::string& path, const std::string& what) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return Error{"cannot read " + what + " " + path};
  std::ostringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

// Finds the entry named `name` in a kubeconfig list (clusters, users, contexts).
std::optional<YAML::Node> find_named(const YAML::Node& list, const std::string& name,
                                     const char* field) {
  if (!list || !list.IsSequence()) return std::nullopt;
  for (const auto& entry : list) {
    if (entry["name"] && entry["name"].as<std::string>() == name && entry[field]) {
      return entry[field];
    }
  }
  return std::nullopt;
}

std::string text(const YAML::Node& node, const char* key) {
  if (!node || !node[key] || node[key].IsNull()) return "";
  return node[key].as<std::string>();
}

// kubectl resolves relative file paths against the kubeconfig's own directory.
std::string resolve_path(const std::string& path, const std::filesystem::path& base) {
  if (path.empty() || std::filesystem::path(path).is_absolute()) return path;
  return (base / path).string();
}

std::string trim_trailing_slash(std::string server) {
  while (!server.empty() && server.back() == '/') server.pop_back();
  return server;
}

}  // namespace

Result<std::string> decode_base64(const std::string& input) {
  static constexpr int kInvalid = -1;
  auto value = [](char character) -> int {
    if (character >= 'A' && character <= 'Z') return character - 'A';
    if (character >= 'a' && character <= 'z') return character - 'a' + 26;
    if (character >= '0' && character <= '9') return character - '0' + 52;
    if (character == '+') return 62;
    if (character == '/') return 63;
    return kInvalid;
  };
  std::string output;
  unsigned accumulator = 0;
  int bits = 0;
  std::size_t padding = 0;
  std::size_t symbols = 0;
  for (char character : input) {
    if (character == '\n' || character == '\r' || character == ' ') continue;
    if (character == '=') {
      ++padding;
      ++symbols;
      continue;
    }
    const int decoded = value(character);
    if (decoded == kInvalid || padding > 0) return Error{"not valid base64"};
    ++symbols;
    accumulator = (accumulator << 6) | static_cast<unsigned>(decoded);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      output.push_back(static_cast<char>((accumulator >> bits) & 0xFF));
    }
  }
  if (symbols % 4 != 0 || padding > 2) return Error{"not valid base64"};
  return output;
}

EnvironmentLookup process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

Result<RestConfig> load_kubeconfig(const std::string& path, const std::string& context_name) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return Error{"cannot read kubeconfig " + path};
  } catch (const YAML::Exception& problem) {
    return Error{"kubeconfig " + path + " is not valid YAML: " + problem.what()};
  }
  const std::filesystem::path base = std::filesystem::path(path).parent_path();
  auto fail = [&](const std::string& problem) {
    return Error{"kubeconfig " + path + ": " + problem};
  };
  try {
    const std::string context = context_name.empty() ? text(root, "current-context") : context_name;
    if (context.empty()) return fail("no current-context and no context given");
    const auto context_node = find_named(root["contexts"], context, "context");
    if (!context_node) return fail("context \"" + context + "\" not found");
    const std::string cluster_name = text(*context_node, "cluster");
    const std::string user_name = text(*context_node, "user");
    const auto cluster_node = find_named(root["clusters"], cluster_name, "cluster");
    if (!cluster_node) {
      return fail("cluster \"" + cluster_name + "\" of context \"" + context + "\" not found");
    }
    const YAML::Node& cluster = *cluster_node;
    const auto user_node =
        user_name.empty() ? std::nullopt : find_named(root["users"], user_name, "user");
    if (!user_name.empty() && !user_node) return fail("user \"" + user_name + "\" not found");
    const YAML::Node user = user_node.value_or(YAML::Node(YAML::NodeType::Undefined));

    RestConfig config;
    config.source = "kubeconfig " + path + " (context " + context + ")";
    config.server = trim_trailing_slash(text(cluster, "server"));
    if (config.server.rfind("https://", 0) != 0) {
      return fail("cluster \"" + cluster_name + "\" server \"" + config.server +
                  "\" is not an https:// URL (TLS is required)");
    }
    TlsConfig& tls = config.tls;
    tls.server_name = text(cluster, "tls-server-name");
    tls.insecure_skip_verify =
        cluster["insecure-skip-tls-verify"] && cluster["insecure-skip-tls-verify"].as<bool>();
    if (const std::string data = text(cluster, "certificate-authority-data"); !data.empty()) {
      auto pem = decode_base64(data);
      if (!pem)
        return fail("certificate-authority-data of cluster \"" + cluster_name + "\" is not base64");
      tls.ca_pem = *pem;
      tls.ca_description =
          "certificate-authority-data of cluster \"" + cluster_name + "\" in " + path;
    } else if (const std::string file = text(cluster, "certificate-authority"); !file.empty()) {
      tls.ca_file = resolve_path(file, base);
      tls.ca_description = "CA file " + tls.ca_file;
    } else {
      tls.ca_description = "the system trust store";
    }
    if (tls.insecure_skip_verify && (!tls.ca_pem.empty() || !tls.ca_file.empty())) {
      // kubectl refuses this combination too: it is almost certainly a mistake.
      return fail("cluster \"" + cluster_name +
                  "\" sets both a certificate authority and insecure-skip-tls-verify");
    }

    if (user_node) {
      if (user["exec"] || user["auth-provider"]) {
        return fail("user \"" + user_name +
                    "\" uses an exec or auth-provider plugin, which meshprobe does not run; use "
                    "a client certificate or a token");
      }
      auto pem_or_file = [&](const char* data_key, const char* file_key, std::string& pem,
                             std::string& file) -> std::optional<Error> {
        if (const std::string data = text(user, data_key); !data.empty()) {
          auto decoded = decode_base64(data);
          if (!decoded)
            return fail(std::string(data_key) + " of user \"" + user_name + "\" is not base64");
          pem = *decoded;
        } else {
          file = resolve_path(text(user, file_key), base);
        }
        return std::nullopt;
      };
      if (auto problem = pem_or_file("client-certificate-data", "client-certificate",
                                     tls.client_certificate_pem, tls.client_certificate_file)) {
        return *problem;
      }
      if (auto problem = pem_or_file("client-key-data", "client-key", tls.client_key_pem,
                                     tls.client_key_file)) {
        return *problem;
      }
      const bool has_certificate =
          !tls.client_certificate_pem.empty() || !tls.client_certificate_file.empty();
      const bool has_key = !tls.client_key_pem.empty() || !tls.client_key_file.empty();
      if (has_certificate != has_key) {
        return fail(
            "user \"" + user_name +
            "\" has a client certificate without its key, or a key without its certificate");
      }
      config.bearer_token = text(user, "token");
      config.bearer_token_file = resolve_path(text(user, "tokenFile"), base);
      if (user["username"] || user["password"]) {
        return fail("user \"" + user_name +
                    "\" uses basic authentication, which Kubernetes no longer supports");
      }
    }
    return config;
  } catch (const YAML::Exception& problem) {
    return fail(std::string("unexpected shape: ") + problem.what());
  }
}

Result<RestConfig> load_in_cluster(const EnvironmentLookup& environment,
                                   const std::string& directory) {
  const auto host = environment("KUBERNETES_SERVICE_HOST");
  const auto port = environment("KUBERNETES_SERVICE_PORT");
  if (!host || host->empty() || !port || port->empty()) {
    return Error{
        "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not "
        "set"};
  }
  RestConfig config;
  config.source = "in-cluster service account (" + directory + ")";
  // An IPv6 service address needs brackets in a URL.
  const bool ipv6 = host->find(':') != std::string::npos;
  config.server = "https://" + (ipv6 ? "[" + *host + "]" : *host) + ":" + *port;
  config.bearer_token_file = directory + "/token";
  config.tls.ca_file = directory + "/ca.crt";
  config.tls.ca_description = "CA file " + config.tls.ca_file;
  // Fail now, with a clear message, rather than on the first request.
  if (auto token = read_file(config.bearer_token_file, "service account token"); !token) {
    return token.error();
  }
  if (auto ca = read_file(config.tls.ca_file, "service account CA"); !ca) return ca.error();
  return config;
}

Result<RestConfig> resolve_rest_config(const std::string& kubeconfig_flag,
                                       const std::string& context,
                                       const EnvironmentLookup& environment) {
  if (!kubeconfig_flag.empty()) return load_kubeconfig(kubeconfig_flag, context);
  if (auto list = environment("KUBECONFIG"); list && !list->empty()) {
    const std::string first = list->substr(0, list->find(':'));
    return load_kubeconfig(first, context);
  }
  if (environment("KUBERNETES_SERVICE_HOST")) return load_in_cluster(environment);
  if (auto home = environment("HOME"); home && std::filesystem::exists(*home + "/.kube/config")) {
    return load_kubeconfig(*home + "/.kube/config", context);
  }
  return Error{"no Kubernetes configuration: pass --kubeconfig, set KUBECONFIG, or run in a pod"};
}

std::string server_host(const std::string& server) {
  std::string host = server;
  if (const auto scheme = host.find("://"); scheme != std::string::npos) host.erase(0, scheme + 3);
  host = host.substr(0, host.find_first_of("/?#"));
  if (const auto credentials = host.rfind('@'); credentials != std::string::npos)
    host.erase(0, credentials + 1);
  return host.empty() ? "none" : host;
}

}  // namespace meshprobe::kube
