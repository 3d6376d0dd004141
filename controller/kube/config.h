// RestConfig: where the API server is and how to authenticate to it, from a kubeconfig file
// (yaml-cpp) or from the pod's service account (in-cluster), as client-go's clientcmd and
// rest.InClusterConfig. TLS is always verified, against the configured CA only; the
// kubeconfig alone can turn verification off (insecure-skip-tls-verify).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "probe/result.h"

namespace meshprobe::kube {

struct TlsConfig {
  // The CA that signs the server's certificate: a file, or PEM bytes (kubeconfig *-data).
  std::string ca_file;
  std::string ca_pem;
  // Client certificate authentication: files or PEM bytes.
  std::string client_certificate_file;
  std::string client_certificate_pem;
  std::string client_key_file;
  std::string client_key_pem;
  std::string server_name;  // tls-server-name: verify the certificate for this name instead
  bool insecure_skip_verify = false;

  // For error messages: "CA file /x", "CA data from kubeconfig /y", "system trust store".
  std::string ca_description;
};

struct RestConfig {
  std::string server;  // https://host:port, no trailing slash
  TlsConfig tls;
  std::string bearer_token;
  std::string bearer_token_file;  // re-read as it rotates (in-cluster, kubeconfig tokenFile)
  double queries_per_second = 20.0;
  int burst = 30;
  std::chrono::seconds request_timeout{30};
  std::string user_agent = "meshprobe";
  // Where this came from, for logs and errors: "kubeconfig /x (context y)" or "in-cluster".
  std::string source;
};

// Reads one environment variable; injected so tests do not touch the process environment.
using EnvironmentLookup = std::function<std::optional<std::string>(const std::string& name)>;
EnvironmentLookup process_environment();

// The kubeconfig at `path`, using `context` or else its current-context.
meshprobe::Result<RestConfig> load_kubeconfig(const std::string& path,
                                              const std::string& context = "");

inline constexpr const char* kServiceAccountDirectory =
    "/var/run/secrets/kubernetes.io/serviceaccount";

// The pod's service account: KUBERNETES_SERVICE_HOST/PORT, token and ca.crt in `directory`.
meshprobe::Result<RestConfig> load_in_cluster(
    const EnvironmentLookup& environment, const std::string& directory = kServiceAccountDirectory);

// What the controller uses: --kubeconfig when given, else the first file of $KUBECONFIG
// (a list of files is not merged, as kubectl would; the first one must be complete), else
// in-cluster, else ~/.kube/config.
meshprobe::Result<RestConfig> resolve_rest_config(const std::string& kubeconfig_flag,
                                                  const std::string& context,
                                                  const EnvironmentLookup& environment);

// The host[:port] of a server URL ("https://10.0.0.1:6443/" -> "10.0.0.1:6443"), as Go's
// url.Host: the `host` label of the rest_client_* metrics. "none" when there is none.
std::string server_host(const std::string& server);

// Standard base64 (kubeconfig *-data fields); an error for anything that is not.
meshprobe::Result<std::string> decode_base64(const std::string& text);

}  // namespace meshprobe::kube
