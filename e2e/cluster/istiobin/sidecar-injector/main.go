// Command sidecar-injector serves Istio's sidecar-injector admission webhook
// (istio.io/istio/pkg/kube/inject) on its own, for the end-to-end tests: istiod minus everything
// that is not injection (see docs/testing-istio.md for why not istiod itself).
//
// It is wired the way istiod wires the injector (pilot/pkg/bootstrap: initMeshConfiguration,
// initMulticluster, initSidecarInjector): the injection templates and values come from Istio's
// own ConfigMap watcher on istio-sidecar-injector[-REVISION], the mesh config from the
// ConfigMap istio[-REVISION] (key "mesh"), native-sidecar detection from the cluster's Nodes,
// and the webhook serves /inject over HTTPS with the given certificate.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pkg/cluster"
	"istio.io/istio/pkg/config/mesh/kubemesh"
	"istio.io/istio/pkg/config/mesh/meshwatcher"
	"istio.io/istio/pkg/kube"
	"istio.io/istio/pkg/kube/inject"
	"istio.io/istio/pkg/kube/krt"
	"istio.io/istio/pkg/kube/multicluster"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the cluster whose ConfigMaps configure the injector")
	namespace := flag.String("namespace", "istio-system", "Istio's system namespace")
	revision := flag.String("revision", "default", "the istio.io/rev this injector serves (istiod's REVISION)")
	listen := flag.String("listen", "127.0.0.1:15017", "address the HTTPS webhook listens on")
	certFile := flag.String("tls-cert", "", "serving certificate (PEM)")
	keyFile := flag.String("tls-key", "", "serving certificate's key (PEM)")
	flag.Parse()
	if *kubeconfig == "" || *certFile == "" || *keyFile == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*kubeconfig, *namespace, *revision, *listen, *certFile, *keyFile); err != nil {
		log.Fatalf("sidecar-injector: %v", err)
	}
}

// revisioned is Istio's naming of a revision's objects (bootstrap.getInjectorConfigMapName,
// getMeshConfigMapName): NAME for the default revision, NAME-REVISION otherwise.
func revisioned(name, revision string) string {
	if revision == "" || revision == "default" {
		return name
	}
	return name + "-" + revision
}

func run(kubeconfig, namespace, revision, listen, certFile, keyFile string) error {
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer cancel()
	stop := ctx.Done()

	certificate, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("serving certificate: %w", err)
	}
	client, err := kube.NewClient(kube.BuildClientCmd(kubeconfig, ""), cluster.ID("Kubernetes"))
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	// istiod's initKubeClient: the multicluster controller's informers wait for their CRDs.
	client = kube.EnableCrdWatcher(client)

	// Mesh config: istiod's initMeshConfiguration with a ConfigMap source only.
	options := krt.NewOptionsBuilder(stop, "", nil)
	meshName := revisioned("istio", revision)
	meshConfig := meshwatcher.NewCollection(options,
		kubemesh.NewConfigMapSource(client, namespace, meshName, kubemesh.MeshConfigKey, options))
	if !meshConfig.AsCollection().WaitUntilSynced(stop) {
		return errors.New("stopped before the mesh config was read")
	}
	environment := model.NewEnvironment()
	environment.Watcher = meshwatcher.ConfigAdapter(meshConfig)
	// What istiod's first push computes when there are no ProxyConfig resources: the mesh's
	// defaultConfig merged over Istio's defaults, and each pod's proxy.istio.io/config.
	environment.PushContext().ProxyConfigs = &model.ProxyConfigs{}

	clusters := multicluster.NewController(multicluster.ControllerOptions{
		Client: client, ClusterID: cluster.ID("Kubernetes"), SystemNamespace: namespace,
		MeshConfig: environment.Watcher,
	})

	injectorName := revisioned("istio-sidecar-injector", revision)
	mux := http.NewServeMux()
	webhook, err := inject.NewWebhook(inject.WebhookParameters{
		Watcher:      inject.NewConfigMapWatcher(client, namespace, injectorName, "config", "values"),
		Env:          environment,
		Mux:          mux,
		Revision:     revision,
		MultiCluster: clusters,
	})
	if err != nil {
		return fmt.Errorf("injection webhook: %w", err)
	}
	if err := clusters.Run(stop); err != nil {
		return fmt.Errorf("multicluster controller: %w", err)
	}
	webhook.Run(stop)
	if !client.RunAndWait(stop) {
		return errors.New("stopped before the informers synced")
	}
	mux.HandleFunc("/ready", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })

	listener, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	server := &http.Server{
		Handler:           mux,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{certificate}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() {
		<-stop
		shutdown, done := context.WithTimeout(context.Background(), 5*time.Second)
		defer done()
		_ = server.Shutdown(shutdown)
	}()
	log.Printf("sidecar-injector: revision %q (ConfigMaps %s/%s and %s/%s) serving https://%s/inject",
		revision, namespace, injectorName, namespace, meshName, listener.Addr())
	if err := server.ServeTLS(listener, "", ""); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
