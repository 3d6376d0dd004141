#include "kube/config.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <yaml-cpp/yaml.h>

namespace meshprobe::kube {
namespace {

using meshprobe::Error;
using meshprobe::Result;

Result<std::string> readFile(const std::string& path, const std::string& what) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return Error{"cannot read " + what + " " + path};
  std::ostringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

// Finds the entry named `name` in a kubeconfig list (clusters, users, contexts).
std::optional<YAML::Node> findNamed(const YAML::Node& list, const std::string& name,
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
std::string resolvePath(const std::string& path, const std::filesystem::path& base) {
  if (path.empty() || std::filesystem::path(path).is_absolute()) return path;
  return (base / path).string();
}

std::string trimTrailingSlash(std::string server) {
  while (!server.empty() && server.back() == '/') server.pop_back();
  return server;
}

}  // namespace

Result<std::string> decodeBase64(const std::string& input) {
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

EnvironmentLookup processEnvironment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

Result<RestConfig> loadKubeconfig(const std::string& path, const std::string& contextName) {
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
    const std::string context =
        contextName.empty() ? text(root, "current-context") : contextName;
    if (context.empty()) return fail("no current-context and no context given");
    const auto contextNode = findNamed(root["contexts"], context, "context");
    if (!contextNode) return fail("context \"" + context + "\" not found");
    const std::string clusterName = text(*contextNode, "cluster");
    const std::string userName = text(*contextNode, "user");
    const auto clusterNode = findNamed(root["clusters"], clusterName, "cluster");
    if (!clusterNode) {
      return fail("cluster \"" + clusterName + "\" of context \"" + context + "\" not found");
    }
    const YAML::Node& cluster = *clusterNode;
    const auto userNode = userName.empty() ? std::nullopt
                                           : findNamed(root["users"], userName, "user");
    if (!userName.empty() && !userNode) return fail("user \"" + userName + "\" not found");
    const YAML::Node user = userNode.value_or(YAML::Node(YAML::NodeType::Undefined));

    RestConfig config;
    config.source = "kubeconfig " + path + " (context " + context + ")";
    config.server = trimTrailingSlash(text(cluster, "server"));
    if (config.server.rfind("https://", 0) != 0) {
      return fail("cluster \"" + clusterName + "\" server \"" + config.server +
                  "\" is not an https:// URL (TLS is required)");
    }
    TlsConfig& tls = config.tls;
    tls.serverName = text(cluster, "tls-server-name");
    tls.insecureSkipVerify = cluster["insecure-skip-tls-verify"] &&
                             cluster["insecure-skip-tls-verify"].as<bool>();
    if (const std::string data = text(cluster, "certificate-authority-data"); !data.empty()) {
      auto pem = decodeBase64(data);
      if (!pem) return fail("certificate-authority-data of cluster \"" + clusterName + "\" is not base64");
      tls.caPem = *pem;
      tls.caDescription = "certificate-authority-data of cluster \"" + clusterName + "\" in " + path;
    } else if (const std::string file = text(cluster, "certificate-authority"); !file.empty()) {
      tls.caFile = resolvePath(file, base);
      tls.caDescription = "CA file " + tls.caFile;
    } else {
      tls.caDescription = "the system trust store";
    }
    if (tls.insecureSkipVerify && (!tls.caPem.empty() || !tls.caFile.empty())) {
      // kubectl refuses this combination too: it is almost certainly a mistake.
      return fail("cluster \"" + clusterName +
                  "\" sets both a certificate authority and insecure-skip-tls-verify");
    }

    if (userNode) {
      if (user["exec"] || user["auth-provider"]) {
        return fail("user \"" + userName +
                    "\" uses an exec or auth-provider plugin, which meshprobe does not run; use "
                    "a client certificate or a token");
      }
      auto pemOrFile = [&](const char* dataKey, const char* fileKey, std::string& pem,
                           std::string& file) -> std::optional<Error> {
        if (const std::string data = text(user, dataKey); !data.empty()) {
          auto decoded = decodeBase64(data);
          if (!decoded) return fail(std::string(dataKey) + " of user \"" + userName + "\" is not base64");
          pem = *decoded;
        } else {
          file = resolvePath(text(user, fileKey), base);
        }
        return std::nullopt;
      };
      if (auto problem = pemOrFile("client-certificate-data", "client-certificate",
                                   tls.clientCertificatePem, tls.clientCertificateFile)) {
        return *problem;
      }
      if (auto problem = pemOrFile("client-key-data", "client-key", tls.clientKeyPem,
                                   tls.clientKeyFile)) {
        return *problem;
      }
      const bool hasCertificate = !tls.clientCertificatePem.empty() || !tls.clientCertificateFile.empty();
      const bool hasKey = !tls.clientKeyPem.empty() || !tls.clientKeyFile.empty();
      if (hasCertificate != hasKey) {
        return fail("user \"" + userName + "\" has a client certificate without its key, or a key without its certificate");
      }
      config.bearerToken = text(user, "token");
      config.bearerTokenFile = resolvePath(text(user, "tokenFile"), base);
      if (user["username"] || user["password"]) {
        return fail("user \"" + userName + "\" uses basic authentication, which Kubernetes no longer supports");
      }
    }
    return config;
  } catch (const YAML::Exception& problem) {
    return fail(std::string("unexpected shape: ") + problem.what());
  }
}

Result<RestConfig> loadInCluster(const EnvironmentLookup& environment, const std::string& directory) {
  const auto host = environment("KUBERNETES_SERVICE_HOST");
  const auto port = environment("KUBERNETES_SERVICE_PORT");
  if (!host || host->empty() || !port || port->empty()) {
    return Error{"not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set"};
  }
  RestConfig config;
  config.source = "in-cluster service account (" + directory + ")";
  // An IPv6 service address needs brackets in a URL.
  const bool ipv6 = host->find(':') != std::string::npos;
  config.server = "https://" + (ipv6 ? "[" + *host + "]" : *host) + ":" + *port;
  config.bearerTokenFile = directory + "/token";
  config.tls.caFile = directory + "/ca.crt";
  config.tls.caDescription = "CA file " + config.tls.caFile;
  // Fail now, with a clear message, rather than on the first request.
  if (auto token = readFile(config.bearerTokenFile, "service account token"); !token) {
    return token.error();
  }
  if (auto ca = readFile(config.tls.caFile, "service account CA"); !ca) return ca.error();
  return config;
}

Result<RestConfig> resolveRestConfig(const std::string& kubeconfigFlag, const std::string& context,
                                     const EnvironmentLookup& environment) {
  if (!kubeconfigFlag.empty()) return loadKubeconfig(kubeconfigFlag, context);
  if (auto list = environment("KUBECONFIG"); list && !list->empty()) {
    const std::string first = list->substr(0, list->find(':'));
    return loadKubeconfig(first, context);
  }
  if (environment("KUBERNETES_SERVICE_HOST")) return loadInCluster(environment);
  if (auto home = environment("HOME"); home && std::filesystem::exists(*home + "/.kube/config")) {
    return loadKubeconfig(*home + "/.kube/config", context);
  }
  return Error{"no Kubernetes configuration: pass --kubeconfig, set KUBECONFIG, or run in a pod"};
}

}  // namespace meshprobe::kube
