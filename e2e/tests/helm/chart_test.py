#!/usr/bin/env python3
"""The Helm chart deploy/helm/meshprobe (docs/helm.md), rendered by the real helm built from
source at the pinned version (e2e/cluster/build-helm; e2e/run exports MESHPROBE_E2E_HELM).

The chart and deploy/install.yaml have one source of truth: rendered with the default values,
the chart is deploy/install.yaml object for object and field for field, except for
  - the Namespace, which Helm creates itself (`--create-namespace`): a chart cannot own the
    namespace its release is stored in;
  - Helm's own labels (helm.sh/chart, app.kubernetes.io/managed-by, .../instance, .../version)
    and the pod annotation checksum/config, which restarts the controller when its config
    changes;
  - the ConfigMap's config.yaml, compared as the YAML it holds (toYaml orders keys).
The monitoring objects are config/prometheus's, compared the same way.

Needs no cluster; PyYAML (python3-yaml) for reading manifests.
"""

import json
import os
import pathlib
import subprocess
import tempfile
import unittest

import yaml

SOURCE_DIR = pathlib.Path(__file__).resolve().parents[3]
CHART = SOURCE_DIR / "deploy" / "helm" / "meshprobe"
HELM_LABELS = {"helm.sh/chart", "app.kubernetes.io/managed-by", "app.kubernetes.io/instance",
               "app.kubernetes.io/version"}
HELM_POD_ANNOTATIONS = {"checksum/config"}
INSTALL_NAMESPACE = "meshprobe-system"


def helm_binary():
    helm = os.environ.get("MESHPROBE_E2E_HELM")
    if not helm:
        raise AssertionError("MESHPROBE_E2E_HELM is not set: run the end-to-end tests with e2e/run, "
                             "or export MESHPROBE_E2E_HELM=$(e2e/cluster/build-helm)")
    return helm


def helm(*arguments, check=True):
    result = subprocess.run([helm_binary(), *arguments], capture_output=True, text=True,
                            env={**os.environ, "HELM_CACHE_HOME": tempfile.gettempdir() + "/meshprobe-helm-cache",
                                 "HELM_CONFIG_HOME": tempfile.gettempdir() + "/meshprobe-helm-config"})
    if check and result.returncode != 0:
        raise AssertionError(f"helm {' '.join(arguments)} failed ({result.returncode}):\n{result.stderr}")
    return result


def render(*values, crds=False, namespace=INSTALL_NAMESPACE):
    """The chart's objects with these --set values, as parsed YAML documents."""
    arguments = ["template", "meshprobe", str(CHART), "--namespace", namespace]
    if crds:
        arguments.append("--include-crds")
    for value in values:
        arguments += ["--set", value]
    return [document for document in yaml.safe_load_all(helm(*arguments).stdout) if document]


def key(document):
    metadata = document["metadata"]
    return (document["kind"], metadata.get("namespace", ""), metadata["name"])


def by_key(documents):
    return {key(document): document for document in documents}


def without_helm_metadata(document):
    """The document as deploy/install.yaml has it (see the module's docstring)."""
    document = json.loads(json.dumps(document))
    metadata = document["metadata"]
    labels = {name: value for name, value in metadata.get("labels", {}).items() if name not in HELM_LABELS}
    if labels:
        metadata["labels"] = labels
    else:
        metadata.pop("labels", None)
    if document["kind"] == "Deployment":
        template = document["spec"]["template"]["metadata"]
        template["annotations"] = {name: value for name, value in template.get("annotations", {}).items()
                                   if name not in HELM_POD_ANNOTATIONS}
    if document["kind"] == "ConfigMap" and "config.yaml" in document.get("data", {}):
        document["data"]["config.yaml"] = yaml.safe_load(document["data"]["config.yaml"])
    return document


def install_yaml():
    text = (SOURCE_DIR / "deploy" / "install.yaml").read_text()
    return [without_helm_metadata(document) for document in yaml.safe_load_all(text) if document]


def first_difference(expected, actual, path=""):
    """The first path where two parsed documents differ, for a readable failure."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for name in sorted(set(expected) | set(actual)):
            if name not in actual:
                return f"{path}.{name}: missing from the chart (install.yaml: {json.dumps(expected[name])[:200]})"
            if name not in expected:
                return f"{path}.{name}: only in the chart ({json.dumps(actual[name])[:200]})"
            difference = first_difference(expected[name], actual[name], f"{path}.{name}")
            if difference:
                return difference
        return None
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        for index, (left, right) in enumerate(zip(expected, actual)):
            difference = first_difference(left, right, f"{path}[{index}]")
            if difference:
                return difference
        return None
    if expected != actual:
        return f"{path}: install.yaml {json.dumps(expected)[:300]}, chart {json.dumps(actual)[:300]}"
    return None


class DefaultValuesAreInstallYamlTest(unittest.TestCase):
    """deploy/install.yaml and the chart with default values install the same objects."""

    def test_same_objects(self):
        expected = by_key(install_yaml())
        actual = by_key(without_helm_metadata(document) for document in render(crds=True))
        namespace = ("Namespace", "", INSTALL_NAMESPACE)
        self.assertIn(namespace, expected, "install.yaml creates the namespace meshprobe-system")
        self.assertNotIn(namespace, actual, "a chart cannot own its release's namespace")
        del expected[namespace]
        self.assertEqual(sorted(set(expected) - set(actual)), [],
                         "objects of deploy/install.yaml the chart does not create (add them to templates/)")
        self.assertEqual(sorted(set(actual) - set(expected)), [],
                         "objects the chart creates that deploy/install.yaml does not")
        for object_key in sorted(expected):
            with self.subTest(object=object_key):
                difference = first_difference(expected[object_key], actual[object_key])
                self.assertIsNone(difference, f"{'/'.join(object_key)} differs (change templates/ as "
                                  f"config/ changed; crds/: deploy/render-install): {difference}")

    def test_the_preview_role_only_reads_and_is_bound_to_nobody(self):
        documents = install_yaml()
        role = by_key(documents)[("ClusterRole", "", "meshprobe-preview")]
        self.assertLessEqual({verb for rule in role["rules"] for verb in rule["verbs"]}, {"get", "list"})
        self.assertEqual([document["metadata"]["name"] for document in documents
                          if document.get("roleRef", {}).get("name") == "meshprobe-preview"], [])

    def test_every_object_carries_helms_labels(self):
        for document in render():
            with self.subTest(object=key(document)):
                labels = document["metadata"].get("labels", {})
                self.assertEqual(labels.get("app.kubernetes.io/managed-by"), "Helm")
                self.assertEqual(labels.get("app.kubernetes.io/instance"), "meshprobe")

    def test_chart_version_is_meshprobes(self):
        version = next(line.split("=", 1)[1] for line in (SOURCE_DIR / "deploy" / "images.env").read_text().splitlines()
                       if line.startswith("MESHPROBE_VERSION="))
        chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
        self.assertEqual(chart["version"], version, "Chart.yaml version: MESHPROBE_VERSION of deploy/images.env")
        self.assertEqual(chart["appVersion"], version, "Chart.yaml appVersion: MESHPROBE_VERSION of deploy/images.env")


def kustomize(directory):
    kubectl = os.environ.get("MESHPROBE_E2E_KUBECTL")
    if not kubectl:
        raise AssertionError("MESHPROBE_E2E_KUBECTL is not set: run the end-to-end tests with e2e/run")
    result = subprocess.run([kubectl, "kustomize", str(SOURCE_DIR / directory)], capture_output=True, text=True)
    if result.returncode != 0:
        raise AssertionError(f"kubectl kustomize {directory} failed:\n{result.stderr}")
    return [document for document in yaml.safe_load_all(result.stdout) if document]


class MonitoringIsConfigMonitoringTest(unittest.TestCase):
    """serviceMonitor.enabled and prometheusRule.enabled add what the kustomize components of
    config/monitoring add to config/default, and nothing when off (the default)."""

    def test_same_objects_as_the_components(self):
        default = by_key(kustomize("config/default"))
        enabled = by_key(kustomize("config/monitoring/enabled"))
        expected = {object_key: without_helm_metadata(document) for object_key, document in enabled.items()
                    if object_key not in default}
        self.assertEqual({kind for kind, _, _ in expected}, {"Service", "ServiceMonitor", "PodMonitor", "PrometheusRule"})
        plain = by_key(render())
        actual = {object_key: without_helm_metadata(document) for object_key, document in
                  by_key(render("serviceMonitor.enabled=true", "prometheusRule.enabled=true")).items()
                  if object_key not in plain}
        self.assertEqual(sorted(expected), sorted(actual))
        for object_key in sorted(expected):
            with self.subTest(object=object_key):
                difference = first_difference(expected[object_key], actual[object_key])
                self.assertIsNone(difference, f"{'/'.join(object_key)} differs from config/monitoring "
                                  f"(files/prometheus_rule.yaml: deploy/render-install): {difference}")

    def test_off_by_default(self):
        kinds = {document["kind"] for document in render()}
        self.assertFalse(kinds & {"Service", "ServiceMonitor", "PodMonitor", "PrometheusRule"})

    def test_labels_for_the_prometheus_selectors(self):
        objects = by_key(render("serviceMonitor.enabled=true", "serviceMonitor.agents=false",
                                "serviceMonitor.labels.release=prometheus", "prometheusRule.enabled=true",
                                "prometheusRule.labels.role=alerts"))
        monitor = objects[("ServiceMonitor", INSTALL_NAMESPACE, "meshprobe-controller")]
        self.assertEqual(monitor["metadata"]["labels"]["release"], "prometheus")
        self.assertNotIn(("PodMonitor", INSTALL_NAMESPACE, "meshprobe-agents"), objects)
        self.assertEqual(objects[("PrometheusRule", INSTALL_NAMESPACE, "meshprobe")]["metadata"]["labels"]["role"], "alerts")


class LintTest(unittest.TestCase):
    def test_lint_is_clean(self):
        result = helm("lint", str(CHART), "--strict")
        self.assertIn("0 chart(s) failed", result.stdout)

    def test_lint_is_clean_with_every_option_on(self):
        helm("lint", str(CHART), "--strict", "--set", "replicas=2", "--set", "serviceMonitor.enabled=true",
             "--set", "prometheusRule.enabled=true")


class ValuesTest(unittest.TestCase):
    """Every value reaches the objects it is about; a value the schema does not know is an error."""

    def deployment(self, *values):
        return by_key(render(*values))[("Deployment", INSTALL_NAMESPACE, "meshprobe-controller")]

    def config(self, *values):
        config_map = by_key(render(*values))[("ConfigMap", INSTALL_NAMESPACE, "meshprobe-controller-config")]
        return yaml.safe_load(config_map["data"]["config.yaml"])

    def test_misspelt_values_are_errors(self):
        for value in ["replica=2", "config.worker=8", "agent.prot=15200", "serviceMonitor.enable=true",
                      "image.tag=0.2.0"]:
            with self.subTest(value=value):
                result = helm("template", "meshprobe", str(CHART), "--set", value, check=False)
                self.assertNotEqual(result.returncode, 0, f"--set {value} was accepted")
                self.assertIn("values don't meet the specifications of the schema", result.stderr)

    def test_invalid_values_are_errors(self):
        for value in ["agent.port=15001", "agent.port=70000", "config.log.level=verbose",
                      "config.leaderElection.leaseDuration=15", "config.metricsBindAddress=8080", "replicas=-1"]:
            with self.subTest(value=value):
                result = helm("template", "meshprobe", str(CHART), "--set", value, check=False)
                self.assertNotEqual(result.returncode, 0, f"--set {value} was accepted")

    def test_images_and_agent_port(self):
        deployment = self.deployment("image=registry.local/meshprobe:dev")
        self.assertEqual(deployment["spec"]["template"]["spec"]["containers"][0]["image"], "registry.local/meshprobe:dev")
        config = self.config("agent.image=registry.local/agent:dev", "agent.port=15200")
        self.assertEqual(config["agentImage"], "registry.local/agent:dev")
        self.assertEqual(config["agentPort"], 15200)

    def test_every_config_key(self):
        shipped = yaml.safe_load(
            yaml.safe_load((SOURCE_DIR / "config" / "manager" / "controller_config.yaml").read_text())["data"]["config.yaml"])
        values = yaml.safe_load((CHART / "values.yaml").read_text())
        self.assertEqual(sorted(set(shipped) - {"agentImage", "agentPort"}), sorted(values["config"]),
                         "values.yaml config: every key of config/manager/controller_config.yaml but agentImage/agentPort")
        config = self.config("config.workers=8", "config.apiQPS=20", "config.excludedNamespaces={a,b}",
                             "config.leaderElection.leaseName=other", "config.log.level=debug",
                             "config.rootNamespace=mesh-root", "config.defaultRewrite=false")
        self.assertEqual(config["workers"], 8)
        self.assertEqual(config["apiQPS"], 20)
        self.assertEqual(config["excludedNamespaces"], ["a", "b"])
        self.assertEqual(config["leaderElection"]["leaseName"], "other")
        self.assertEqual(config["log"]["level"], "debug")
        self.assertFalse(config["defaultRewrite"])
        objects = by_key(render("config.rootNamespace=mesh-root", "config.leaderElection.leaseName=other"))
        self.assertIn(("Role", "mesh-root", "meshprobe-injector-toggle"), objects,
                      "the injector Role lives in the root namespace")
        lease_rule = objects[("Role", INSTALL_NAMESPACE, "meshprobe-leader-election")]["rules"][0]
        self.assertEqual(lease_rule["resourceNames"], ["other"])

    def test_bind_addresses_move_the_ports(self):
        container = self.deployment("config.metricsBindAddress=:9090", "config.healthProbeBindAddress=:9091")[
            "spec"]["template"]["spec"]["containers"][0]
        self.assertEqual({port["name"]: port["containerPort"] for port in container["ports"]},
                         {"metrics": 9090, "health": 9091})

    def test_config_change_restarts_the_controller(self):
        before = self.deployment()["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
        after = self.deployment("config.workers=8")["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
        self.assertNotEqual(before, after)

    def test_replicas_above_one(self):
        objects = by_key(render("replicas=3"))
        self.assertEqual(objects[("Deployment", INSTALL_NAMESPACE, "meshprobe-controller")]["spec"]["replicas"], 3)
        budget = objects[("PodDisruptionBudget", INSTALL_NAMESPACE, "meshprobe-controller")]
        self.assertEqual(budget["spec"]["minAvailable"], 1)
        self.assertEqual(budget["spec"]["selector"]["matchLabels"],
                         {"app.kubernetes.io/name": "meshprobe", "app.kubernetes.io/component": "controller"})
        self.assertNotIn(("PodDisruptionBudget", INSTALL_NAMESPACE, "meshprobe-controller"), by_key(render()))
        result = helm("template", "meshprobe", str(CHART), "--set", "replicas=2",
                      "--set", "config.leaderElection.enabled=false", check=False)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("replicas > 1 needs config.leaderElection.enabled: true", result.stderr)

    def test_scheduling_and_metadata(self):
        objects = render("nodeSelector.pool=system", "tolerations[0].key=dedicated",
                         "tolerations[0].operator=Exists", "priorityClassName=system-cluster-critical",
                         "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key=pool",
                         "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator=Exists",
                         "labels.team=platform", "annotations.owner=sre", "podLabels.tier=control",
                         "podAnnotations.note=x", "resources.limits.memory=256Mi", "hostNetwork=true",
                         "extraEnv[0].name=A", "extraEnv[0].value=b")
        deployment = by_key(objects)[("Deployment", INSTALL_NAMESPACE, "meshprobe-controller")]
        pod = deployment["spec"]["template"]
        self.assertEqual(pod["spec"]["nodeSelector"], {"pool": "system"})
        self.assertEqual(pod["spec"]["tolerations"], [{"key": "dedicated", "operator": "Exists"}])
        self.assertEqual(pod["spec"]["priorityClassName"], "system-cluster-critical")
        self.assertIn("nodeAffinity", pod["spec"]["affinity"])
        self.assertTrue(pod["spec"]["hostNetwork"])
        self.assertEqual(pod["metadata"]["labels"]["tier"], "control")
        self.assertEqual(pod["metadata"]["annotations"]["note"], "x")
        container = pod["spec"]["containers"][0]
        self.assertEqual(container["resources"]["limits"]["memory"], "256Mi")
        self.assertIn({"name": "A", "value": "b"}, container["env"])
        for document in objects:
            with self.subTest(object=key(document)):
                self.assertEqual(document["metadata"]["labels"]["team"], "platform")
                self.assertEqual(document["metadata"]["annotations"]["owner"], "sre")

    def test_another_namespace(self):
        objects = by_key(render(namespace="platform"))
        self.assertIn(("Deployment", "platform", "meshprobe-controller"), objects)
        binding = objects[("ClusterRoleBinding", "", "meshprobe-controller")]
        self.assertEqual(binding["subjects"][0]["namespace"], "platform")


if __name__ == "__main__":
    unittest.main()
