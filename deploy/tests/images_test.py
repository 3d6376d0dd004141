#!/usr/bin/env python3
"""Tests of meshprobe's container images (docs/images.md), as deploy/build-images makes them.

CTest runs each test class on its own (label "integration", after the fixture test
images.build); the environment names the inputs:
  MESHPROBE_SOURCE_DIR          the repository
  MESHPROBE_BUILD_DIR           the CMake build directory
  MESHPROBE_IMAGES_DIR          where build-images wrote the images (BUILD_DIR/images)
  MESHPROBE_CONTROLLER_BINARY   the binaries the images were built from
  MESHPROBE_AGENT_BINARY
Tests that run an image need root (chroot, namespaces, containerd): without it they fail,
they never skip. Only the standard library is used.
"""

import datetime
import http.server
import json
import os
import pathlib
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

SOURCE_DIR = pathlib.Path(os.environ["MESHPROBE_SOURCE_DIR"])
BUILD_DIR = pathlib.Path(os.environ["MESHPROBE_BUILD_DIR"])
IMAGES_DIR = pathlib.Path(os.environ["MESHPROBE_IMAGES_DIR"])
BINARIES = {
    "controller": pathlib.Path(os.environ["MESHPROBE_CONTROLLER_BINARY"]),
    "agent": pathlib.Path(os.environ["MESHPROBE_AGENT_BINARY"]),
}
DEADLINE_SECONDS = 20  # for anything that waits on a process


def read_images_env():
    """deploy/images.env as the scripts read it: KEY=VALUE lines, comments ignored."""
    values = {}
    for line in (SOURCE_DIR / "deploy" / "images.env").read_text().splitlines():
        match = re.fullmatch(r"([A-Z_]+)=(.*)", line)
        if match:
            values[match.group(1)] = match.group(2)
    return values


IMAGES_ENV = read_images_env()
VERSION = IMAGES_ENV["MESHPROBE_VERSION"]

# What each image must be (DESIGN.md, docs/images.md). The controller's user is any numeric
# non-root user; config/manager must run it as that user (ConfigurationAgreesTest).
EXPECTED = {
    "controller": {
        "image": IMAGES_ENV["MESHPROBE_CONTROLLER_IMAGE"],
        "entrypoint": ["/usr/local/bin/meshprobe"],
        "cmd": ["controller"],
        "user": None,
        "title": "meshprobe",
    },
    "agent": {
        "image": IMAGES_ENV["MESHPROBE_AGENT_IMAGE"],
        "entrypoint": ["/usr/local/bin/meshprobe-agent"],
        "cmd": None,
        "user": "1337:1337",
        "title": "meshprobe-agent",
    },
}
CA_BUNDLE = "etc/ssl/certs/ca-certificates.crt"
EXTRA_FILES = {  # besides the binary and its libraries
    "controller": {"etc/nsswitch.conf", CA_BUNDLE},
    "agent": {"etc/nsswitch.conf"},
}


def require_root(test):
    if os.geteuid() != 0:
        test.fail("this test runs the image's entrypoint with chroot and namespaces: run it as root")


class BuiltImage:
    """One image in its OCI layout and its docker-archive, as build-images wrote them."""

    def __init__(self, kind, images_dir=IMAGES_DIR):
        self.kind = kind
        self.reference_name = EXPECTED[kind]["image"]
        self.name = self.reference_name.rsplit("/", 1)[-1]
        self.layout = images_dir / "oci" / self.name
        self.archive = images_dir / f"{self.name}-{VERSION}.tar"
        index_path = self.layout / "index.json"
        if not index_path.is_file():
            raise AssertionError(f"{index_path} is missing: build the images first "
                                 "(cmake --build BUILD_DIR --target images)")
        index = json.loads(index_path.read_text())
        digests = [entry["digest"] for entry in index["manifests"]
                   if entry.get("annotations", {}).get("org.opencontainers.image.ref.name") == VERSION]
        if len(digests) != 1:
            raise AssertionError(f"{index_path}: expected one manifest tagged {VERSION}, found {len(digests)}")
        self.manifest_digest = digests[0]
        self.manifest = json.loads(self.blob(self.manifest_digest).read_bytes())
        self.config_digest = self.manifest["config"]["digest"]
        self.config = json.loads(self.blob(self.config_digest).read_bytes())
        self.layer_digests = [layer["digest"] for layer in self.manifest["layers"]]

    def created_epoch(self):
        """SOURCE_DATE_EPOCH of the build: the image's creation time."""
        created = datetime.datetime.strptime(self.config["created"], "%Y-%m-%dT%H:%M:%SZ")
        return int(created.replace(tzinfo=datetime.timezone.utc).timestamp())

    def blob(self, digest):
        algorithm, hex_digest = digest.split(":", 1)
        return self.layout / "blobs" / algorithm / hex_digest

    def members(self):
        """The entries of the image's single layer, by path without the leading "./"."""
        with tarfile.open(self.blob(self.layer_digests[0]), "r:gz") as layer:
            return {member.name.removeprefix("./").rstrip("/"): member for member in layer.getmembers()}

    def unpack(self, destination):
        """The root filesystem as a runtime would see it (umoci's own unpacker, as root)."""
        subprocess.run(["umoci", "raw", "unpack", "--image", f"{self.layout}:{VERSION}", str(destination)],
                       check=True, capture_output=True)
        return destination


class ImageProcess:
    """An image's entrypoint running in its unpacked root filesystem as a runtime would start
    it: the image's user, environment and working directory, PID 1 of its own PID namespace
    with its own /proc. The network is the host's, so it reaches loopback servers."""

    def __init__(self, rootfs, config, arguments, environment=None, standard_input=subprocess.DEVNULL):
        image_config = config["config"]
        command = image_config["Entrypoint"] + (arguments if arguments is not None else image_config.get("Cmd") or [])
        (rootfs / "proc").mkdir(exist_ok=True)
        env = dict(entry.split("=", 1) for entry in image_config.get("Env", []))
        env.update(environment or {})
        self.process = subprocess.Popen(
            [shutil.which("unshare"), "--fork", "--pid", f"--mount-proc={rootfs}/proc", "--kill-child",
             shutil.which("chroot"), f"--userspec={image_config['User']}", str(rootfs), *command],
            env=env, stdin=standard_input, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def entrypoint_pid(self):
        """The entrypoint's PID as the host sees it (unshare's only child)."""
        deadline = time.monotonic() + DEADLINE_SECONDS
        children = pathlib.Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        while time.monotonic() < deadline:
            pids = children.read_text().split() if children.exists() else []
            if pids:
                return int(pids[0])
            if self.process.poll() is not None:
                raise AssertionError(f"the entrypoint exited with {self.process.returncode}: {self.output()}")
            time.sleep(0.05)
        raise AssertionError("the entrypoint did not start")

    def wait(self):
        try:
            self.process.wait(timeout=DEADLINE_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"the entrypoint did not exit within {DEADLINE_SECONDS} s: {self.output()}")
        return self.process.returncode

    def output(self):
        if self.process.poll() is None:
            return "(still running)"
        out, err = self.process.communicate()
        return f"stdout: {out!r} stderr: {err!r}"

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def run_image(rootfs, config, arguments, input_text=None):
    """Runs the entrypoint to completion; (exit status, stdout, stderr)."""
    image = ImageProcess(rootfs, config, arguments,
                         standard_input=subprocess.DEVNULL if input_text is None else subprocess.PIPE)
    try:
        out, err = image.process.communicate(input=input_text, timeout=DEADLINE_SECONDS)
    finally:
        image.stop()
    return image.process.returncode, out, err


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def loader_dependencies(rootfs, binary):
    """What the image's own dynamic loader loads for `binary` inside the image: resolved
    paths relative to the root; fails when a library is missing from the image."""
    interpreter = re.search(r"interpreter: (\S+)\]",
                            subprocess.run(["readelf", "--program-headers", "--wide", str(rootfs / binary)],
                                           check=True, capture_output=True, text=True).stdout)
    if interpreter is None:
        return set()  # a static binary
    listing = subprocess.run(["chroot", str(rootfs), interpreter.group(1), "--list", "/" + binary],
                             capture_output=True, text=True)
    if listing.returncode != 0 or "not found" in listing.stdout:
        raise AssertionError(f"the image's loader cannot resolve {binary}: {listing.stdout}{listing.stderr}")
    paths = {interpreter.group(1)}
    for line in listing.stdout.splitlines():
        match = re.search(r"(?:=> )?(/\S+) \(0x", line)
        if match:
            paths.add(match.group(1))
    return {path.lstrip("/") for path in paths}


class ImageContentTest:
    """The image config and root filesystem of one image (mixed into one class per image)."""
    kind = None

    @classmethod
    def setUpClass(cls):
        cls.image = BuiltImage(cls.kind)
        cls.expected = EXPECTED[cls.kind]
        cls.members = cls.image.members()
        cls.epoch = cls.image.created_epoch()

    def test_config(self):
        config = self.image.config["config"]
        self.assertEqual(config["Entrypoint"], self.expected["entrypoint"])
        self.assertEqual(config.get("Cmd"), self.expected["cmd"])
        self.assertEqual(config.get("WorkingDir"), "/")
        self.assertEqual(self.image.config["os"], "linux")
        self.assertEqual(len(self.image.layer_digests), 1, "one layer")

    def test_user_is_numeric_and_not_root(self):
        user = self.image.config["config"].get("User", "")
        self.assertRegex(user, r"^[0-9]+:[0-9]+$", "numeric user:group, no /etc/passwd needed")
        self.assertNotIn("0", user.split(":"), "not root")
        if self.expected["user"]:
            self.assertEqual(user, self.expected["user"])

    def test_labels(self):
        labels = self.image.config["config"].get("Labels", {})
        self.assertEqual(labels.get("org.opencontainers.image.version"), VERSION)
        self.assertEqual(labels.get("org.opencontainers.image.source"), IMAGES_ENV["MESHPROBE_SOURCE"])
        self.assertEqual(labels.get("org.opencontainers.image.title"), self.expected["title"])
        self.assertTrue(labels.get("org.opencontainers.image.description"))

    def test_no_shell_no_package_manager_no_passwd(self):
        forbidden = {"sh", "bash", "dash", "ash", "busybox", "apt", "apt-get", "dpkg", "apk", "rpm",
                     "passwd", "group", "shadow"}
        found = sorted(path for path in self.members if path.rsplit("/", 1)[-1] in forbidden)
        self.assertEqual(found, [])
        self.assertFalse([path for path in self.members if path.startswith("var/lib/dpkg")])

    def test_entrypoint_is_a_stripped_executable(self):
        binary = self.expected["entrypoint"][0].lstrip("/")
        member = self.members.get(binary)
        self.assertIsNotNone(member, f"{binary} is not in the image")
        self.assertTrue(member.isfile())
        self.assertEqual(member.mode & 0o7777, 0o755)
        with tempfile.NamedTemporaryFile() as copy:
            with tarfile.open(self.image.blob(self.image.layer_digests[0]), "r:gz") as layer:
                shutil.copyfileobj(layer.extractfile(member), copy)
            copy.flush()
            sections = subprocess.run(["readelf", "--section-headers", "--wide", copy.name],
                                      check=True, capture_output=True, text=True).stdout
        self.assertNotIn(".symtab", sections)
        self.assertNotIn(".debug_info", sections)

    def test_holds_exactly_the_binary_its_libraries_and_the_listed_files(self):
        require_root(self)
        binary = self.expected["entrypoint"][0].lstrip("/")
        with tempfile.TemporaryDirectory() as directory:
            rootfs = self.image.unpack(pathlib.Path(directory) / "rootfs")
            libraries = loader_dependencies(rootfs, binary)
        files = {path for path, member in self.members.items() if member.isfile()}
        self.assertEqual(files, {binary} | libraries | EXTRA_FILES[self.kind])

    def test_every_entry_is_owned_by_root_with_fixed_mtime_and_safe_mode(self):
        for path, member in self.members.items():
            self.assertEqual((member.uid, member.gid), (0, 0), path)
            self.assertEqual(member.mtime, self.epoch, f"{path}: mtime is SOURCE_DATE_EPOCH, the image's creation time")
            if not member.issym():
                self.assertEqual(member.mode & 0o6002, 0, f"{path}: no setuid, setgid or world-writable")


class ControllerImageTest(ImageContentTest, unittest.TestCase):
    kind = "controller"

    def test_system_ca_bundle_where_debians_openssl_looks(self):
        bundle = self.members.get(CA_BUNDLE)
        self.assertIsNotNone(bundle)
        self.assertEqual(bundle.mode & 0o777, 0o644)
        link = self.members.get("usr/lib/ssl/cert.pem")
        self.assertIsNotNone(link, "OpenSSL's default CA file (OPENSSLDIR=/usr/lib/ssl)")
        self.assertTrue(link.issym())
        self.assertEqual(link.linkname, "/" + CA_BUNDLE)
        with tempfile.TemporaryDirectory() as directory:
            rootfs = self.image.unpack(pathlib.Path(directory) / "rootfs")
            text = (rootfs / CA_BUNDLE).read_text()
        self.assertGreater(text.count("-----BEGIN CERTIFICATE-----"), 50)


class AgentImageTest(ImageContentTest, unittest.TestCase):
    kind = "agent"


class ArchiveTest(unittest.TestCase):
    """The docker-archive holds the same image as the OCI layout, under IMAGE:VERSION."""

    def check(self, kind):
        image = BuiltImage(kind)
        with tarfile.open(image.archive) as archive:
            manifest = json.load(archive.extractfile("manifest.json"))
            self.assertEqual(len(manifest), 1)
            entry = manifest[0]
            self.assertEqual(entry["RepoTags"], [f"{image.reference_name}:{VERSION}"])
            config_bytes = archive.extractfile(entry["Config"]).read()
            self.assertEqual(json.loads(config_bytes), image.config)
            self.assertEqual(len(entry["Layers"]), 1)
            layer_digest = subprocess.run(["sha256sum"], input=archive.extractfile(entry["Layers"][0]).read(),
                                          check=True, capture_output=True).stdout.split()[0].decode()
        self.assertEqual(image.config["rootfs"]["diff_ids"], [f"sha256:{layer_digest}"])

    def test_controller(self):
        self.check("controller")

    def test_agent(self):
        self.check("agent")


class ReproducibleTest(unittest.TestCase):
    """The same binaries give byte-identical images."""

    def test_rebuild_gives_the_same_images(self):
        with tempfile.TemporaryDirectory() as directory:
            output = pathlib.Path(directory)
            subprocess.run([str(SOURCE_DIR / "deploy" / "build-images"), str(output),
                            f"controller={BINARIES['controller']}", f"agent={BINARIES['agent']}"],
                           check=True, capture_output=True,
                           env={**os.environ, "SOURCE_DATE_EPOCH": str(BuiltImage("agent").created_epoch())})
            for kind in EXPECTED:
                built, rebuilt = BuiltImage(kind), BuiltImage(kind, output)
                self.assertEqual(built.manifest_digest, rebuilt.manifest_digest, kind)
                self.assertEqual(built.archive.read_bytes(), rebuilt.archive.read_bytes(), kind)


# The seed's liveness-http Deployment (shared/seed/health-checking-of-istio-services.md).
SEED_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: liveness-http
spec:
  selector:
    matchLabels:
      app: liveness-http
  template:
    metadata:
      labels:
        app: liveness-http
    spec:
      containers:
      - name: liveness-http
        image: docker.io/istio/health:example
        ports:
        - containerPort: 8001
        livenessProbe:
          httpGet:
            path: /foo
            port: 8001
          initialDelaySeconds: 5
          periodSeconds: 5
"""


class ControllerRunsTest(unittest.TestCase):
    """The controller image is self-contained: its entrypoint runs in the bare root filesystem."""

    @classmethod
    def setUpClass(cls):
        cls.image = BuiltImage("controller")
        cls.directory = tempfile.TemporaryDirectory()
        cls.rootfs = cls.image.unpack(pathlib.Path(cls.directory.name) / "rootfs")

    @classmethod
    def tearDownClass(cls):
        cls.directory.cleanup()

    def test_help(self):
        require_root(self)
        status, out, err = run_image(self.rootfs, self.image.config, ["--help"])
        self.assertEqual(status, 0, err)
        self.assertIn("inject", out)

    # The image's command is `controller`, the subcommand config/manager runs.
    def test_default_command_exists(self):
        require_root(self)
        command = self.image.config["config"]["Cmd"]
        status, out, err = run_image(self.rootfs, self.image.config, [*command, "--help"])
        self.assertEqual(status, 0, f"the image's command {command} is not a command of meshprobe: {err}")

    def test_version_and_default_agent_image_come_from_images_env(self):
        require_root(self)
        status, out, err = run_image(self.rootfs, self.image.config, ["version"])
        self.assertEqual(status, 0, err)
        self.assertIn(f"meshprobe {VERSION}", out)
        self.assertIn(f"agent image {EXPECTED['agent']['image']}:{VERSION}", out)

    def test_inject_from_standard_input(self):
        """`docker run -i IMAGE inject -f -`: the offline rewrite runs in the image."""
        require_root(self)
        status, out, err = run_image(self.rootfs, self.image.config, ["inject", "-f", "-"], SEED_DEPLOYMENT)
        self.assertEqual(status, 0, err)
        self.assertIn("/app-health/liveness-http/livez", out)
        self.assertIn(f"{EXPECTED['agent']['image']}:{VERSION}", out)


class LoopbackApplication:
    """The application the agent probes: GET /healthy is 200, /unhealthy is 503."""

    def __init__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                status = {"/healthy": 200, "/unhealthy": 503}.get(self.path, 404)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *arguments):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def http_status(url):
    try:
        with urllib.request.urlopen(url, timeout=DEADLINE_SECONDS) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


class AgentProbesTest(unittest.TestCase):
    """The agent image is self-contained: its entrypoint, run in the bare root filesystem as
    its user, answers the kubelet's rewritten probes against an application on loopback, and
    stops on SIGTERM although it is PID 1."""

    def setUp(self):
        require_root(self)
        self.image = BuiltImage("agent")
        self.directory = tempfile.TemporaryDirectory()
        self.addCleanup(self.directory.cleanup)
        self.rootfs = self.image.unpack(pathlib.Path(self.directory.name) / "rootfs")
        # What the kubelet mounts into every container; "localhost" resolves through it
        # (the image's /etc/nsswitch.conf puts files before DNS).
        (self.rootfs / "etc" / "hosts").write_text("127.0.0.1 localhost\n::1 localhost\n")
        self.application = LoopbackApplication()
        self.addCleanup(self.application.stop)

    def test_answers_probes_against_a_loopback_application(self):
        port = self.application.port
        probers = {
            "/app-health/app/livez": {"httpGet": {"path": "/healthy", "port": port, "scheme": "HTTP"},
                                      "timeoutSeconds": 2},
            "/app-health/app/readyz": {"httpGet": {"path": "/unhealthy", "port": port, "scheme": "HTTP",
                                                   "host": "localhost"}, "timeoutSeconds": 2},
            "/app-health/app/startupz": {"tcpSocket": {"port": port}, "timeoutSeconds": 2},
        }
        agent_port = free_port()
        agent = ImageProcess(self.rootfs, self.image.config, ["--port", str(agent_port)],
                             {"ISTIO_KUBE_APP_PROBERS": json.dumps(probers), "POD_IP": "127.0.0.1"})
        self.addCleanup(agent.stop)
        pid = agent.entrypoint_pid()
        base = f"http://127.0.0.1:{agent_port}"
        self.wait_until_listening(agent, agent_port)

        uid_line = next(line for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines()
                        if line.startswith("Uid:"))
        self.assertEqual(uid_line.split()[1:], ["1337"] * 4, "runs as the image's user")
        self.assertEqual(http_status(f"{base}/app-health/app/livez"), 200)
        self.assertEqual(http_status(f"{base}/app-health/app/readyz"), 503, "the application's status comes back")
        self.assertEqual(http_status(f"{base}/app-health/app/startupz"), 200)
        self.assertEqual(http_status(f"{base}/app-health/other/livez"), 404)

        os.kill(pid, signal.SIGTERM)
        self.assertEqual(agent.wait(), 0, agent.output())

    @staticmethod
    def wait_until_listening(agent, port):
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline:
            if agent.process.poll() is not None:
                raise AssertionError(f"the agent exited with {agent.process.returncode}: {agent.output()}")
            with socket.socket() as client:
                if client.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.05)
        raise AssertionError(f"the agent did not listen on {port} within {DEADLINE_SECONDS} s")


def dockerfile_stages(path):
    """deploy/Dockerfile as {stage: [(INSTRUCTION, arguments)]}, plus the FROM images."""
    text = re.sub(r"\\\n", " ", path.read_text())
    stages, images, current = {}, [], None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, arguments = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            match = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", arguments.strip(), re.IGNORECASE)
            images.append(match.group(1))
            current = match.group(2) or f"stage{len(stages)}"
            stages[current] = []
        elif current is not None:  # (an ARG before the first FROM belongs to no stage)
            stages[current].append((instruction, arguments.strip()))
    return stages, images


def dockerfile_config(instructions):
    """The image configuration the instructions of one stage produce (as Docker would)."""
    config = {"Env": [], "Labels": {}}
    for instruction, arguments in instructions:
        if instruction == "USER":
            config["User"] = arguments
        elif instruction == "ENTRYPOINT":
            config["Entrypoint"] = json.loads(arguments)
        elif instruction == "CMD":
            config["Cmd"] = json.loads(arguments)
        elif instruction == "WORKDIR":
            config["WorkingDir"] = arguments
        elif instruction == "ENV":
            config["Env"] += shlex.split(arguments)
        elif instruction == "LABEL":
            for pair in shlex.split(arguments):
                key, _, value = pair.partition("=")
                config["Labels"][key] = value
    return config


class DockerfileTest(unittest.TestCase):
    """deploy/Dockerfile cannot be built here (no Docker engine); what can be checked without
    building it is checked against the images build-images made."""

    @classmethod
    def setUpClass(cls):
        cls.stages, cls.base_images = dockerfile_stages(SOURCE_DIR / "deploy" / "Dockerfile")

    def test_base_images_are_pinned_to_an_exact_version(self):
        for image in self.base_images:
            if image == "scratch":
                continue
            self.assertRegex(image, r"^[\w./-]+:(?=[\w.-]*\d)[\w.-]+(@sha256:[0-9a-f]{64})?$",
                             f"{image}: pin a version tag (with a number), never latest or a codename")

    def test_final_stages_match_the_built_images(self):
        for kind in EXPECTED:
            with self.subTest(kind):
                self.assertIn(kind, self.stages, f"deploy/Dockerfile has no stage '{kind}'")
                built = BuiltImage(kind).config["config"]
                dockerfile = dockerfile_config(self.stages[kind])
                for key in ("User", "Entrypoint", "Cmd", "WorkingDir", "Env", "Labels"):
                    self.assertEqual(dockerfile.get(key), built.get(key),
                                     f"deploy/Dockerfile stage {kind}: {key} differs from deploy/build-images")
                self.assertIn(("COPY", f"--from=build /rootfs/{kind}/ /"), self.stages[kind])

    def test_build_stage_stages_the_root_filesystems_with_the_same_script(self):
        commands = " ".join(arguments for instruction, arguments in self.stages.get("build", [])
                            if instruction == "RUN")
        for kind, binary in BINARIES.items():
            with self.subTest(kind):
                in_build = "/build/" + str(binary.relative_to(BUILD_DIR))
                self.assertIn(f"deploy/image-rootfs {kind} {in_build} /rootfs/{kind}", commands,
                              f"the build stage must stage {kind} from the CMake build's {in_build}")


def yaml_files(*directories):
    for directory in directories:
        yield from sorted((SOURCE_DIR / directory).rglob("*.yaml"))


class ConfigurationAgreesTest(unittest.TestCase):
    """Image names and tags have one place, deploy/images.env: config/ (kustomize), any
    manifest in deploy/ and the controller's default agent image agree with it."""

    def test_every_mention_of_an_image_has_the_version_tag(self):
        names = [EXPECTED[kind]["image"] for kind in EXPECTED]
        for path in yaml_files("config", "deploy"):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                for name in names:
                    for match in re.finditer(rf"(?<![\w./-]){re.escape(name)}(?::([\w.-]+))?(?![\w./-])", line):
                        if re.match(r"\s*-?\s*newName:", line):
                            continue  # kustomize: the tag is newTag (checked below)
                        self.assertEqual(match.group(1), VERSION,
                                         f"{path.relative_to(SOURCE_DIR)}:{number}: {name} must be tagged {VERSION}")

    def test_kustomize_sets_the_controller_image(self):
        entries = []
        for path in yaml_files("config"):
            if path.name == "kustomization.yaml":
                text = path.read_text()
                entries += re.findall(r"newName:\s*(\S+)\s*\n\s*newTag:\s*\"?([\w.-]+)\"?", text)
        controller = [tag for name, tag in entries if name == EXPECTED["controller"]["image"]]
        self.assertEqual(controller, [VERSION], "config/ kustomize images: the controller image, tag from images.env")

    def test_controller_configuration_names_the_agent_image(self):
        values = [re.search(r"agentImage:\s*(\S+)", path.read_text()) for path in yaml_files("config")]
        values = [value.group(1) for value in values if value]
        self.assertEqual(values, [f"{EXPECTED['agent']['image']}:{VERSION}"])

    def test_manager_runs_as_the_controller_images_user(self):
        manager = (SOURCE_DIR / "config" / "manager" / "manager.yaml").read_text()
        user = re.search(r"runAsUser:\s*(\d+)", manager)
        group = re.search(r"runAsGroup:\s*(\d+)", manager)
        self.assertIsNotNone(user)
        self.assertIsNotNone(group)
        self.assertEqual(f"{user.group(1)}:{group.group(1)}", BuiltImage("controller").config["config"]["User"])


class ContainerdTest(unittest.TestCase):
    """The docker-archives import into containerd (deploy/import-images, as the real node of
    the end-to-end tests uses it) and run under runc: a throwaway containerd whose state is
    all under a temporary directory."""

    def setUp(self):
        require_root(self)
        self.directory = tempfile.TemporaryDirectory(prefix="meshprobe-containerd-")
        self.addCleanup(self.directory.cleanup)
        root = pathlib.Path(self.directory.name)
        self.socket = root / "containerd.sock"
        (root / "config.toml").write_text(
            f'version = 2\nroot = "{root}/root"\nstate = "{root}/state"\n'
            # No CRI plugin: there is no kubelet here, and it would start listeners.
            'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
            f'[grpc]\n  address = "{self.socket}"\n')
        with open(root / "containerd.log", "w") as log:
            self.containerd = subprocess.Popen(["containerd", "--config", str(root / "config.toml")],
                                               stdout=log, stderr=subprocess.STDOUT)
        self.addCleanup(self.stop_containerd)
        deadline = time.monotonic() + DEADLINE_SECONDS
        while not self.socket.is_socket():
            if self.containerd.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"containerd did not start: {(root / 'containerd.log').read_text()}")
            time.sleep(0.05)

    def stop_containerd(self):
        self.containerd.terminate()
        try:
            self.containerd.wait(timeout=DEADLINE_SECONDS)
        except subprocess.TimeoutExpired:
            self.containerd.kill()
            self.containerd.wait()

    def ctr(self, *arguments):
        return subprocess.run(["ctr", "--address", str(self.socket), "--namespace", "k8s.io", *arguments],
                              capture_output=True, text=True, timeout=DEADLINE_SECONDS)

    def test_import_and_run(self):
        images = {kind: BuiltImage(kind) for kind in EXPECTED}
        imported = subprocess.run([str(SOURCE_DIR / "deploy" / "import-images"), str(self.socket),
                                   *(str(image.archive) for image in images.values())],
                                  capture_output=True, text=True, timeout=DEADLINE_SECONDS)
        self.assertEqual(imported.returncode, 0, imported.stderr)
        self.assertEqual(imported.stdout.split(),
                         [f"{image.reference_name}:{VERSION}" for image in images.values()])

        reference = f"{images['controller'].reference_name}:{VERSION}"
        run = self.ctr("run", "--rm", reference, f"meshprobe-images-test-{os.getpid()}",
                       "/usr/local/bin/meshprobe", "version")
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertIn(VERSION, run.stdout)


if __name__ == "__main__":
    unittest.main()
