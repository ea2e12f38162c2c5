"""A real OpenSearch on this machine, from the repository's launcher (tools/opensearch).

For the test suite, the benchmarks and `make opensearch`; the service itself never starts one, it
talks to whatever `OPENSEARCH_URL` names.

The launcher is a Maven project: `build()` runs `mvn package` the first time (the server, the
modules a distribution ships that the catalogue needs, and the k-NN plugin, all from Maven
Central into ~/.m2) and again only when its pom, sources or config change. `LocalCluster` starts
one JVM per node on loopback ports, each with its own data folder, and waits until the cluster
answers with every node joined. A node's JVM reads its standard input, a pipe from here, and
stops when the pipe closes: nodes never outlive the Python process that started them.

    python -m search.opensearch.local build
    python -m search.opensearch.local run --nodes 3 --http-port 9250 --data instance/opensearch
    JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64 python -m search.opensearch.local run --profile opensearch3 \\
        --data /tmp/os3
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from course_catalogue.search.errors import LocalClusterError

LAUNCHER = Path(__file__).resolve().parents[3] / "tools" / "opensearch"
"""The Maven project (pom.xml, src/, config/). Found beside the package: a source checkout."""
MAIN_CLASS = "org.coursecatalogue.opensearch.ClasspathNode"
KNN_PLUGIN = "org.opensearch.knn.plugin.KNNPlugin"
PORTS = range(9250, 9300)
"""HTTP ports tried; a node's transport port is its HTTP port + 100 (9350-9399). Clear of
PostgreSQL (5432), Redis (6379), the web app (5000) and a default OpenSearch (9200/9300)."""
TRANSPORT_OFFSET = 100
HEAP_MB = 512
_STAMP = ".catalogue-build"


# -- building the launcher ------------------------------------------------------------------------


def build(
    launcher: Path = LAUNCHER, *, profile: str | None = None, force: bool = False, timeout: float = 1200.0
) -> Path:
    """Build the launcher unless the last build was of the same inputs; return its target folder.

    `profile` names a Maven profile of the pom (`opensearch3`: OpenSearch 3.x, needs JAVA_HOME at
    a Java 21+); each profile builds into its own folder. Raises LocalClusterError when Maven is
    missing or the build fails (its output's tail says why).
    """
    target = launcher / "target" / (profile or "default")
    digest = _inputs_digest(launcher)
    stamp = target / _STAMP
    if not force and stamp.is_file() and stamp.read_text(encoding="utf-8").strip() == digest:
        return target
    maven = shutil.which("mvn")
    if maven is None:
        raise LocalClusterError("Maven (mvn) is not installed: `make opensearch-deps` installs it")
    try:
        done = subprocess.run(
            [
                maven,
                "-B",
                "-q",
                "-Dstyle.color=never",
                *(["-P", profile] if profile else []),
                "-f",
                str(launcher / "pom.xml"),
                "package",
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise LocalClusterError(f"building the OpenSearch launcher took over {timeout:.0f} s") from error
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
        raise LocalClusterError(f"building the OpenSearch launcher failed (mvn {done.returncode}):\n{tail}")
    stamp.write_text(digest + "\n", encoding="utf-8")
    return target


def _inputs_digest(launcher: Path) -> str:
    sha = hashlib.sha256()
    files = [launcher / "pom.xml", *sorted(p for p in (launcher / "src").rglob("*") if p.is_file())]
    for path in files:
        sha.update(str(path.relative_to(launcher)).encode())
        sha.update(path.read_bytes())
    return sha.hexdigest()


def classpath(target: Path) -> str:
    """The node's classpath: the launcher class, the server with its modules, the k-NN plugin."""
    parts = [target / "classes", target / "lib" / "*", target / "plugins" / "opensearch-knn" / "*"]
    return os.pathsep.join(str(part) for part in parts)


def server_version(target: Path) -> str:
    """The OpenSearch version the launcher was built with (from the server jar's name)."""
    for jar in (target / "lib").glob("opensearch-[0-9]*.jar"):
        return jar.stem.removeprefix("opensearch-")
    raise LocalClusterError(f"no OpenSearch server jar in {target / 'lib'}: run build()")


def java_command() -> str:
    """The `java` to run nodes with: $JAVA_HOME/bin/java, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    found = shutil.which("java")
    if found is None:
        raise LocalClusterError("no Java runtime (java) found: `make opensearch-deps` installs one")
    return found


# -- ports ------------------------------------------------------------------------------------------


def free_ports(count: int, candidates: Sequence[int] = PORTS) -> list[int]:
    """`count` HTTP ports from `candidates` that are free on 127.0.0.1, with their transport
    ports (+TRANSPORT_OFFSET) free too. Another process may take one before the node binds it:
    the node then fails to start with a clear bind error in its log."""
    found: list[int] = []
    for port in candidates:
        if _bindable(port) and _bindable(port + TRANSPORT_OFFSET):
            found.append(port)
            if len(found) == count:
                return found
    raise LocalClusterError(f"fewer than {count} free port pairs in {candidates[0]}-{candidates[-1]}")


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# -- nodes and clusters -------------------------------------------------------------------------------


@dataclass
class LocalNode:
    """One node: its ports, its home folder (config, data, logs, node.log) and its JVM."""

    name: str
    http_port: int
    home: Path
    process: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = field(default=None, repr=False)
    ended: bool = False
    """Stopped on purpose (`close`, or a failover test ending it): not a failure."""

    @property
    def transport_port(self) -> int:
        return self.http_port + TRANSPORT_OFFSET

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def rss_mb(self) -> float | None:
        """Resident memory of the node's JVM in MiB (None when it is not running)."""
        if not self.alive or self.process is None:
            return None
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
        return None

    def cpu_seconds(self) -> float | None:
        """CPU time (user + system) the node's JVM has used so far (None when not running)."""
        if not self.alive or self.process is None:
            return None
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 2)
        return None

    def log_tail(self, lines: int = 40) -> str:
        path = self.home / "node.log"
        if not path.is_file():
            return "(no log)"
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


class LocalCluster:
    """`nodes` OpenSearch nodes on 127.0.0.1, one JVM each, data under `root`.

    One node runs as a single-node cluster; several discover each other through their transport
    ports and elect a cluster manager among all of them. `root` is kept (a restart with the same
    root, ports and names finds its data again); a cluster made with `root=None` works in a
    temporary folder removed by `close`. `quick_start` runs the JVMs with the C1 compiler only:
    about half the CPU time to start (2.9 s instead of 5.7 s per node here), slower once warm;
    for tests, never for figures.
    """

    def __init__(
        self,
        root: Path | None = None,
        nodes: int = 1,
        *,
        heap_mb: int = HEAP_MB,
        http_ports: Sequence[int] | None = None,
        knn: bool = False,
        processors: int | None = None,
        settings: Mapping[str, Any] | None = None,
        cluster_name: str | None = None,
        quick_start: bool = False,
        profile: str | None = None,
        launcher: Path = LAUNCHER,
    ) -> None:
        if nodes < 1:
            raise ValueError("a cluster needs at least one node")
        self._temporary = root is None
        self.root = Path(tempfile.mkdtemp(prefix="opensearch-")) if root is None else Path(root)
        self.heap_mb = heap_mb
        self.knn = knn
        self.processors = processors
        self.extra_settings = dict(settings or {})
        self.cluster_name = cluster_name or f"catalogue-{uuid.uuid4().hex[:8]}"
        self.launcher = launcher
        self.quick_start = quick_start
        self.profile = profile
        ports = list(http_ports) if http_ports is not None else free_ports(nodes)
        if len(ports) != nodes:
            raise ValueError(f"{nodes} nodes need {nodes} HTTP ports, got {ports}")
        self.nodes = [LocalNode(f"node-{i}", port, self.root / f"node-{i}") for i, port in enumerate(ports)]
        self.start_seconds: float | None = None
        self.version: str | None = None
        self._target: Path | None = None

    # -- lifecycle --

    def start(self, timeout: float = 240.0) -> LocalCluster:
        """Build if needed, start every node, wait until all have joined (status yellow or better).

        Raises LocalClusterError (with the failing node's log tail) and stops what it started.
        """
        self._target = build(self.launcher, profile=self.profile)
        self.version = server_version(self._target)
        began = time.monotonic()
        try:
            for node in self.nodes:
                self._spawn(node)
            self.wait_for(len(self.nodes), timeout=timeout)
        except BaseException:
            self.close()
            raise
        self.start_seconds = round(time.monotonic() - began, 1)
        return self

    def _spawn(self, node: LocalNode) -> None:
        assert self._target is not None
        config = node.home / "config"
        config.mkdir(parents=True, exist_ok=True)
        (node.home / "tmp").mkdir(exist_ok=True)
        # JSON is YAML: no YAML writer needed for the node's settings file.
        (config / "opensearch.yml").write_text(json.dumps(self._settings(node), indent=1), encoding="utf-8")
        shutil.copyfile(self.launcher / "config" / "log4j2.properties", config / "log4j2.properties")
        command = [
            java_command(),
            f"-Xms{self.heap_mb}m",
            f"-Xmx{self.heap_mb}m",
            "-XX:+UseG1GC",
            *(["-XX:TieredStopAtLevel=1"] if self.quick_start else []),
            "-XX:+ExitOnOutOfMemoryError",  # an exhausted node dies like a crashed one, visibly
            "-XX:-OmitStackTraceInFastThrow",
            "-Xss1m",
            "-Dfile.encoding=UTF-8",
            "-Djava.awt.headless=true",
            "-Dlog4j2.formatMsgNoLookups=true",
            "-Dlog4j.shutdownHookEnabled=false",
            "-Dio.netty.allocator.numDirectArenas=0",
            "-Djna.nosys=true",
            f"-Djava.io.tmpdir={node.home / 'tmp'}",
            "-cp",
            classpath(self._target),
            MAIN_CLASS,
            str(node.home),
            *([KNN_PLUGIN] if self.knn else []),
        ]
        node.log = (node.home / "node.log").open("ab")
        node.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=node.log, stderr=subprocess.STDOUT
        )

    def _settings(self, node: LocalNode) -> dict[str, Any]:
        settings: dict[str, Any] = {
            "cluster.name": self.cluster_name,
            "node.name": node.name,
            "network.host": "127.0.0.1",
            "http.port": node.http_port,
            "transport.port": node.transport_port,
            "path.data": str(node.home / "data"),
            "path.logs": str(node.home / "logs"),
            # A shared development disk is often past the 85-95% watermarks: shards must still
            # be allocated, or every index stays red.
            "cluster.routing.allocation.disk.threshold_enabled": False,
            "action.auto_create_index": False,  # a typo in an index name is an error, not an index
        }
        if self.processors is not None:
            settings["node.processors"] = self.processors
        if len(self.nodes) == 1:
            settings["discovery.type"] = "single-node"
        else:
            settings["discovery.seed_hosts"] = [f"127.0.0.1:{n.transport_port}" for n in self.nodes]
            settings["cluster.initial_cluster_manager_nodes"] = [n.name for n in self.nodes]
        settings.update(self.extra_settings)
        return settings

    def wait_for(self, nodes: int, *, status: str = "yellow", timeout: float = 120.0) -> dict[str, Any]:
        """Wait until the cluster has `nodes` nodes and at least `status`; its health document.

        Raises LocalClusterError when a node's JVM exits meanwhile or time runs out."""
        deadline = time.monotonic() + timeout
        problem = "no node answered"
        while time.monotonic() < deadline:
            for node in self.nodes:
                if node.process is not None and not node.alive and not node.ended:
                    raise LocalClusterError(
                        f"OpenSearch {node.name} exited with {node.process.returncode}:\n{node.log_tail()}"
                    )
            for node in self.alive_nodes():
                query = f"wait_for_nodes={nodes}&wait_for_status={status}&timeout=2s"
                try:
                    health = _get_json(f"{node.url}/_cluster/health?{query}", timeout=10)
                except (OSError, ValueError) as error:
                    problem = f"{node.name}: {error}"
                    continue
                if not health.get("timed_out") and health.get("number_of_nodes") == nodes:
                    return health
                problem = f"{node.name}: {health.get('number_of_nodes')} nodes, {health.get('status')}"
            time.sleep(0.5)
        tails = "\n".join(f"--- {n.name}\n{n.log_tail(15)}" for n in self.nodes)
        raise LocalClusterError(f"OpenSearch not ready after {timeout:.0f} s ({problem}):\n{tails}")

    def close(self) -> None:
        """Stop every node (SIGTERM, then SIGKILL after 30 s); remove a temporary root."""
        for node in self.nodes:
            if node.alive and node.process is not None:
                node.process.send_signal(signal.SIGTERM)
        for node in self.nodes:
            self._end(node, signal.SIGKILL, grace=30.0)
        if self._temporary:
            shutil.rmtree(self.root, ignore_errors=True)

    def _end(self, node: LocalNode, sig: signal.Signals, *, grace: float = 0.0) -> None:
        node.ended = True
        process = node.process
        if process is not None:
            if process.poll() is None and grace:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(grace)
            if process.poll() is None:
                process.send_signal(sig)
                process.wait(60)
            if process.stdin is not None:
                with contextlib.suppress(OSError):
                    process.stdin.close()
        if node.log is not None:
            node.log.close()
            node.log = None

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what tests and benchmarks read --

    def alive_nodes(self) -> list[LocalNode]:
        return [node for node in self.nodes if node.alive]

    def health(self) -> dict[str, Any]:
        """`_cluster/health` from the first node that answers."""
        for node in self.alive_nodes():
            with contextlib.suppress(OSError, ValueError):
                return _get_json(f"{node.url}/_cluster/health", timeout=10)
        raise LocalClusterError("no node of the cluster answers")

    @property
    def url(self) -> str:
        """Every node's URL, comma-separated: the form OPENSEARCH_URL takes for a cluster."""
        return ",".join(node.url for node in self.nodes)

    def memory_mb(self) -> dict[str, float | None]:
        """Resident memory of each node's JVM, MiB."""
        return {node.name: node.rss_mb() for node in self.nodes}


def _get_json(url: str, *, timeout: float) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # loopback only
            body: dict[str, Any] = json.loads(response.read())
            return body
    except urllib.error.HTTPError as error:  # 408 from a health wait that timed out has a body
        body = json.loads(error.read() or b"{}")
        return body


# -- command line ---------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m course_catalogue.search.opensearch.local",
        description="A local OpenSearch from tools/opensearch.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    build_command = commands.add_parser(
        "build", help="build the launcher (tools/opensearch) if its inputs changed"
    )
    run = commands.add_parser("run", help="start a node or cluster in the foreground; Ctrl-C stops it")
    run.add_argument("--nodes", type=int, default=1)
    run.add_argument("--http-port", type=int, default=PORTS[0], help="first node's HTTP port; the next +1")
    run.add_argument("--data", type=Path, required=True, help="folder for the nodes' data (kept)")
    run.add_argument("--heap-mb", type=int, default=HEAP_MB)
    run.add_argument("--knn", action="store_true", help="load the k-NN plugin (Lucene engine only)")
    for command in (build_command, run):
        command.add_argument(
            "--profile", help="a Maven profile of the launcher (opensearch3: OpenSearch 3.x)"
        )
    args = parser.parse_args(argv)
    if args.command == "build":
        target = build(profile=args.profile)
        print(f"OpenSearch {server_version(target)} launcher ready in {target}")
        return 0
    ports = [args.http_port + i for i in range(args.nodes)]
    cluster = LocalCluster(
        args.data,
        args.nodes,
        heap_mb=args.heap_mb,
        http_ports=ports,
        knn=args.knn,
        cluster_name="catalogue-local",
        profile=args.profile,
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        cluster.start()
        print(
            f"OpenSearch {cluster.version}: {args.nodes} node(s) up in {cluster.start_seconds} s, "
            f"data in {args.data}\n  OPENSEARCH_URL={cluster.url}\nCtrl-C stops.",
            flush=True,
        )
        while all(node.alive for node in cluster.nodes):
            time.sleep(1)
        print("a node exited; stopping the others", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        cluster.close()


if __name__ == "__main__":
    raise SystemExit(main())
