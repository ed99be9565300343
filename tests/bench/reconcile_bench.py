"""Reconcile benchmark: `gen apply` / `gen plan` against confluent-kafka (librdkafka) on the suite's
cluster, the same objects for both: TOPICS topics of 3 partitions at RF 3 and their ACLs (a producer
and a consumer of every topic, as `gen` derives them) created from scratch, then the reads of a
plan with nothing to do. Prints time, requests and peak RSS of each side; asserts nothing.

Run through tests/scripts/reconcile-bench.sh (it installs confluent-kafka, builds `gen` in release
and reads the cluster's variables). Each run uses fresh names under its own prefix (`rbench...`),
and everything created is deleted, also on failure: the cluster is shared. Only one side's objects
are on the cluster at a time: a run applies one side (gen's: apply, then the no-op plan and the
peer's same reads of it), deletes it and waits until no node holds a partition directory of it any
more, then does the same for the other side; which side goes first alternates from run to run.
The nodes' heap in use is sampled from their metrics endpoints, and the bench stops if a node's log
shows an OutOfMemoryError.

The peer runs as a child process per step so that its peak RSS is that step's; it includes the
Python interpreter, whose own figure (a child that only imports confluent_kafka) is printed too.
`gen` is timed as a process (start, loading and validating the declarations, connecting, reading,
planning, writing, and by default waiting for every broker); the peer's time starts when its
AdminClient is created (interpreter start and imports excluded). CPU is user+sys: gen's of the
whole process, the peer's of its timed part (getrusage, librdkafka's threads included) and, in
brackets, of its whole process. The machine is shared, so gen and the peer take turns (the first
of each run alternates), each figure is a best and a median, and the load average is printed.
"""

import glob
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

RUNS = int(os.environ.get("RBENCH_RUNS", "3"))
TOPICS = int(os.environ.get("RBENCH_TOPICS", "1000"))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GEN = os.environ["GEN"]
BOOTSTRAP = os.environ["KAFKA_TEST_BOOTSTRAP_SASL"]
CA = os.environ["KAFKA_TEST_CA_FILE"]
USER = os.environ.get("KAFKA_TEST_ADMIN_USER", "admin")
PASSWORD_FILE = os.environ["KAFKA_TEST_ADMIN_PASSWORD_FILE"]
STATE_DIR = os.environ["KAFKA_TEST_STATE_DIR"]


def peer_config():
    with open(PASSWORD_FILE) as f:
        password = f.read().rstrip("\r\n")
    return {
        "bootstrap.servers": BOOTSTRAP,
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": USER,
        "sasl.password": password,
        "ssl.ca.location": CA,
        "statistics.interval.ms": 100,
    }


# ---------------------------------------------------------------- the peer, in a child process


def peer_main(step, spec_file):
    """One step of the peer: `apply` (create topics and ACLs), `plan` (the reads) or `delete`."""
    from confluent_kafka.admin import (
        AclBinding,
        AclBindingFilter,
        AclOperation,
        AclPermissionType,
        AdminClient,
        ConfigResource,
        NewTopic,
        ResourcePatternType,
        ResourceType,
    )

    with open(spec_file) as f:
        spec = json.load(f)
    stats = {}

    def on_stats(text):
        stats["last"] = json.loads(text)

    config = peer_config()
    config["stats_cb"] = on_stats
    import resource
    usage = resource.getrusage(resource.RUSAGE_SELF)
    start_cpu = usage.ru_utime + usage.ru_stime
    start = time.perf_counter()
    admin = AdminClient(config)

    def binding(a, cls):
        return cls(
            getattr(ResourceType, a["resource_type"]),
            a["resource_name"],
            getattr(ResourcePatternType, a["pattern_type"]),
            a["principal"],
            a["host"],
            getattr(AclOperation, a["operation"]),
            AclPermissionType.ALLOW,
        )

    if step == "apply":
        topics = [
            NewTopic(t["topic"], num_partitions=t["partitions"], replication_factor=t["replication_factor"],
                     config=t["configs"])
            for t in spec["topics"]
        ]
        acls = [binding(a, AclBinding) for a in spec["acls"]]
        # Both batches at once: the strongest use of the API (each is one request).
        futures = list(admin.create_topics(topics, operation_timeout=30).values())
        futures += list(admin.create_acls(acls).values())
        for f in futures:
            f.result()
    elif step == "plan":
        metadata = admin.list_topics(timeout=30)
        listed = [n for n in metadata.topics if n.startswith(spec["prefix"])]
        # The declared topics' configs, as a plan reads them (whatever this broker lists yet).
        names = [t["topic"] for t in spec["topics"]]
        resources = [ConfigResource(ConfigResource.Type.TOPIC, n) for n in names]
        futures = list(admin.describe_configs(resources).values())
        futures.append(admin.describe_acls(AclBindingFilter(
            ResourceType.ANY, None, ResourcePatternType.ANY, None, None, AclOperation.ANY,
            AclPermissionType.ANY)))
        futures.append(admin.describe_user_scram_credentials())
        unknown = 0
        for f in futures:
            try:
                f.result()
            except Exception:  # a broker that does not serve the topic yet: counted, not fatal
                unknown += 1
        if unknown:
            print(f"{unknown} reads failed (a lagging broker)", file=sys.stderr)
        if len(listed) != len(names):
            print(f"the broker listed {len(listed)} of {len(names)} topics", file=sys.stderr)
    elif step == "delete":
        names = [t["topic"] for t in spec["topics"]]
        futures = list(admin.delete_topics(names, operation_timeout=30).values()) if names else []
        principals = sorted({a["principal"] for a in spec["acls"]})
        filters = [AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, p, None, AclOperation.ANY,
                                    AclPermissionType.ANY) for p in principals]
        if filters:
            futures += list(admin.delete_acls(filters).values())
        for f in futures:
            try:
                f.result()
            except Exception as e:  # already gone: fine for a cleanup
                print(f"cleanup: {e}", file=sys.stderr)
    elapsed = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - start_cpu
    # The statistics of the whole session (requests per broker and API), after the work.
    seen = stats.get("last")
    deadline = time.time() + 2
    while time.time() < deadline:
        stats.pop("last", None)
        admin.poll(0.15)
        if "last" in stats:
            seen = stats["last"]
            break
    requests, by_api = 0, {}
    for broker in (seen or {}).get("brokers", {}).values():
        requests += broker.get("tx", 0)
        for api, n in broker.get("req", {}).items():
            if n:
                by_api[api] = by_api.get(api, 0) + n
    print(json.dumps({"seconds": elapsed, "cpu": cpu, "requests": requests, "by_api": by_api}))


# ---------------------------------------------------------------- the driver


def run_child(argv, env=None):
    """Runs a process; returns (stdout, stderr, exit code, wall seconds, peak RSS MiB, CPU seconds).
    The peak RSS comes from GNU time when installed: a child forked from this interpreter would
    count the interpreter's pages it held before exec (wait4's ru_maxrss does)."""
    rss_file = None
    if os.path.exists("/usr/bin/time"):
        fd, rss_file = tempfile.mkstemp(prefix="rbench-rss-")
        os.close(fd)
        argv = ["/usr/bin/time", "-f", "%M %U %S", "-o", rss_file, *argv]
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            env=env)
    out, err = [], []
    # Read both pipes to the end before reaping the process (wait4 gives its own rusage).
    t = threading.Thread(target=lambda: err.append(proc.stderr.read()))
    t.start()
    out.append(proc.stdout.read())
    t.join()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    rss = usage.ru_maxrss / 1024
    cpu = usage.ru_utime + usage.ru_stime
    if rss_file:
        with open(rss_file) as f:
            fields = f.read().split()[-3:]
        rss, cpu = int(fields[0]) / 1024, float(fields[1]) + float(fields[2])
        os.remove(rss_file)
    return out[0].decode(), err[0].decode(), proc.returncode, wall, rss, cpu


def write_tree(root, project, topics, with_accounts=True):
    os.makedirs(os.path.join(root, "stages"), exist_ok=True)
    os.makedirs(os.path.join(root, "projects"), exist_ok=True)
    shutil.copy(os.path.join(REPO, "environments/defaults.yaml"), os.path.join(root, "defaults.yaml"))
    with open(os.path.join(REPO, "environments/stages/dev.yaml")) as f:
        dev = f.read()
    assert "\n  brokers: 1\n" in dev, "the dev stage's broker count moved; update the bench"
    with open(os.path.join(root, "stages/dev.yaml"), "w") as f:
        f.write(dev.replace("\n  brokers: 1\n", "\n  brokers: 3\n"))
    names = [f"{project}.t{i:04}.v1" for i in range(topics)]
    lines = [f"project: {project}", "description: Reconcile benchmark.", "owner:", "  team: platform",
             "  email: platform@example.com", "data_classification: internal", "topics:"]
    for n in names:
        lines += [f"  - name: {n}", "    description: Benchmark topic.", "    partitions: 3",
                  "    replication_factor: 3"]
    if with_accounts:
        listed = ", ".join(names)
        lines += ["service_accounts:",
                  f"  - name: {project}-app", "    description: Producer.", "    authentication: mtls",
                  f"    produces: [{listed}]",
                  f"  - name: {project}-reader", "    description: Consumer.", "    authentication: mtls",
                  f"    consumes: [{listed}]"]
    with open(os.path.join(root, "projects", f"{project}.yaml"), "w") as f:
        f.write("\n".join(lines) + "\n")


def gen(root, *args):
    argv = [GEN, "--environments", root, *args[:1], "dev", "--bootstrap", BOOTSTRAP, "--ca-file", CA,
            "--scram-user", USER, "--scram-password-file", PASSWORD_FILE, *args[1:]]
    return run_child(argv)


def spec_of(root, project):
    """The objects gen plans for `project` (so the peer creates exactly the same)."""
    out, err, code, _, _, _ = gen(root, "plan", "--format", "json")
    assert code == 0, err
    plan = json.loads(out)
    topics = [c for c in plan["changes"] if c["action"] == "create_topic"]
    acls = [c["acl"] for c in plan["changes"] if c["action"] == "create_acl"]
    return {"prefix": project + ".", "topics": topics, "acls": [peer_acl(a) for a in acls]}


def peer_acl(a):
    """A plan's ACL as confluent_kafka's enum member names."""
    def enum(v):
        return re.sub(r"(?<!^)(?=[A-Z])", "_", v).upper() if not v.isupper() else v
    return {k: (enum(v) if k in ("resource_type", "pattern_type", "operation") else v) for k, v in a.items()}


def peer(step, spec_file):
    out, err, code, wall, rss, cpu = run_child([sys.executable, __file__, "--peer", step, spec_file])
    if code != 0:
        raise SystemExit(f"peer {step} failed: {err}")
    r = json.loads(out.strip().splitlines()[-1])
    r["rss"], r["process_cpu"] = rss, cpu
    return r


def load():
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def node_dirs():
    """The test nodes' data directories (the suite's cluster runs on this machine)."""
    return sorted(glob.glob(os.path.join(STATE_DIR, "node-*", "data")))


def wait_gone(prefix, bound=300):
    """Waits until no node holds a partition directory of `prefix`: a broker renames a partition's
    directory (`...-delete`) when it applies the topic's deletion, which is also when it stops
    listing the topic, and removes it once it has let go of the log (file.delete.delay.ms later).
    Returns the seconds waited; stops the bench past `bound`."""
    start = time.perf_counter()
    while True:
        held = {d: sum(1 for e in os.listdir(d) if e.startswith(prefix)) for d in node_dirs()}
        if not any(held.values()):
            return time.perf_counter() - start
        if time.perf_counter() - start > bound:
            raise SystemExit(f"{prefix}: partition directories still on the nodes after {bound} s: {held}")
        time.sleep(0.5)


class NodeWatch:
    """Node health while benching: the heap in use of every node (their metrics endpoints, sampled
    in a thread) and any OutOfMemoryError in their logs since the bench started."""

    def __init__(self):
        self.urls = [u for u in os.environ.get("KAFKA_TEST_METRICS_URLS", "").split(",") if u]
        self.logs = {p: os.path.getsize(p) for p in glob.glob(os.path.join(STATE_DIR, "node-*", "server.log"))}
        self.peak = {}
        self.heap_max = {}
        self.kept = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def sample(self):
        while not self.stop.wait(0.5):
            for url in self.urls:
                try:
                    with urllib.request.urlopen(url, timeout=2) as r:
                        text = r.read().decode()
                except OSError:
                    continue
                for name, into in (("jvm_heap_used_bytes", self.peak), ("jvm_heap_max_bytes", self.heap_max)):
                    m = re.search(rf"^{name} (\S+)$", text, re.M)
                    if m:
                        into[url] = max(into.get(url, 0), float(m.group(1)) / 2**20)
                # What the heap still held after its latest collection (an upper bound of the live
                # data: the heap in use grows towards its limit before G1 collects).
                kept = re.findall(r'^jvm_memory_pool_collection_used_bytes\{pool="G1 [^"]*"\} (\S+)$', text, re.M)
                if kept:
                    self.kept[url] = max(self.kept.get(url, 0), sum(float(k) for k in kept) / 2**20)

    def check(self):
        """Stops the bench if a node ran out of memory since it started."""
        for path, offset in self.logs.items():
            with open(path, "rb") as f:
                f.seek(offset)
                if b"OutOfMemoryError" in f.read():
                    raise SystemExit(f"{path}: OutOfMemoryError during the bench; see tests/scripts/kafka.sh "
                                     "(stop-node/start-node) and the script's header for the heap it needs")

    def summary(self):
        self.stop.set()
        return ", ".join(f"node {i + 1} {self.peak.get(u, 0):.0f} of {self.heap_max.get(u, 0):.0f} MiB (after a "
                         f"collection {self.kept.get(u, 0):.0f})" for i, u in enumerate(self.urls))


def main():
    work = tempfile.mkdtemp(prefix="rbench-")
    tag = f"rbench{os.getpid() % 100000}"
    no_wait = bool(os.environ.get("RBENCH_NO_WAIT"))
    # Rows: (wall s, CPU s, requests, peak RSS MiB, extra)
    rows = {k: [] for k in ("gen_apply", "gen_wait", "gen_plan", "peer_apply", "peer_plan")}
    flaps = timeouts = 0
    cleanups = []
    settles = []
    loads = [os.getloadavg()]
    # A cluster still letting go of an earlier run's partitions is not a clean start.
    settles.append(wait_gone("rbench"))
    watch = NodeWatch()
    *_, python_rss, python_cpu = run_child([sys.executable, "-c", "import confluent_kafka.admin"])
    try:
        for run in range(RUNS):
            g_project, p_project = f"{tag}-g{run}", f"{tag}-p{run}"
            g_root, p_root = os.path.join(work, g_project), os.path.join(work, p_project)
            write_tree(g_root, g_project, TOPICS)
            write_tree(p_root, p_project, TOPICS)
            g_spec, p_spec = spec_of(g_root, g_project), spec_of(p_root, p_project)
            paths = {}
            for project, spec in ((g_project, g_spec), (p_project, p_spec)):
                paths[project] = os.path.join(work, f"{project}.json")
                with open(paths[project], "w") as f:
                    json.dump(spec, f)
            run_loads = {}

            def remove(project):
                # Deletes one side's objects and waits until every node has let go of them, so that
                # only one side's partitions are ever on the cluster.
                peer("delete", paths[project])
                cleanups.remove(project)
                settles.append(wait_gone(project + "."))
                watch.check()

            def gen_apply():
                # gen, from scratch (waits for every broker unless RBENCH_NO_WAIT is set).
                extra = ["--no-wait"] if no_wait else []
                cleanups.append(g_project)
                run_loads["gen"] = os.getloadavg()[0]
                out, err, code, wall, rss, cpu = gen(g_root, "apply", "--yes", "--format", "json", *extra)
                report = json.loads(out)
                # Exit 1 with everything applied: a broker did not serve it within --wait-timeout.
                assert code == 0 or (report["failed"] == 0 and report["served"] is False), err[-2000:]
                nonlocal timeouts
                timeouts += report["served"] is False
                # The last progress line: the whole wait (or its bound); with the wait, the grants'
                # (before the topics are written) is printed on its own line.
                served = re.findall(r"broker\(s\) serve the changes after ([0-9.]+) s", err)
                grants = re.findall(r"^(?:grants first|warning: topics written).* after ([0-9.]+) s", err, re.M)
                wait = (float(served[-1]) if served and not no_wait else 0.0) + sum(float(g) for g in grants)
                rows["gen_apply"].append((wall, cpu, report.get("observe_requests", 0) + report["requests"], rss,
                                          report["applied"]))
                rows["gen_wait"].append((wait, 0, report.get("wait_requests", 0), 0))

            def gen_plan():
                # gen, nothing to do, on the state it applied.
                nonlocal flaps
                out, err, code, wall, rss, cpu = gen(g_root, "plan", "--detailed-exitcode")
                flaps += code == 2
                assert code in (0, 2), err
                rows["gen_plan"].append((wall, cpu, 0, rss))

            def peer_plan():
                # The same reads of the same state (gen's objects).
                r = peer("plan", paths[g_project])
                rows["peer_plan"].append((r["seconds"], r["cpu"], r["requests"], r["rss"], r["by_api"],
                                          r["process_cpu"]))

            def gen_side():
                gen_apply()
                # The no-op plan and the peer's same reads of gen's state, taking turns too.
                pair = (gen_plan, peer_plan) if run % 2 == 0 else (peer_plan, gen_plan)
                for step in pair:
                    step()
                noop, *_ = gen(g_root, "apply", "--yes", "--format", "json")
                g = list(rows["gen_plan"][-1])
                g[2] = json.loads(noop).get("observe_requests", 0)
                rows["gen_plan"][-1] = tuple(g)
                remove(g_project)

            def peer_side():
                cleanups.append(p_project)
                run_loads["peer"] = os.getloadavg()[0]
                r = peer("apply", paths[p_project])
                rows["peer_apply"].append((r["seconds"], r["cpu"], r["requests"], r["rss"], r["by_api"],
                                           r["process_cpu"]))
                remove(p_project)

            # Take turns: the side that goes first alternates from run to run.
            for side in ((gen_side, peer_side) if run % 2 == 0 else (peer_side, gen_side)):
                side()
            loads.append(os.getloadavg())
            print(f"run {run + 1} ({'gen' if run % 2 == 0 else 'peer'} first; load {run_loads['gen']:.1f} at "
                  f"gen's apply, {run_loads['peer']:.1f} at the peer's): gen apply {rows['gen_apply'][-1][0]:.2f} s "
                  f"(wait {rows['gen_wait'][-1][0]:.2f} s), plan {rows['gen_plan'][-1][0]:.2f} s; "
                  f"confluent-kafka apply {rows['peer_apply'][-1][0]:.2f} s, "
                  f"reads {rows['peer_plan'][-1][0]:.2f} s; deletes settled after "
                  f"{settles[-2]:.0f} s and {settles[-1]:.0f} s", file=sys.stderr)
    finally:
        for project in cleanups:
            try:
                peer("delete", os.path.join(work, f"{project}.json"))
            except SystemExit as e:
                print(e, file=sys.stderr)
        shutil.rmtree(work, ignore_errors=True)
        heap = watch.summary()

    def best(rows_, i=0):
        return min(r[i] for r in rows_)

    def med(rows_, i=0):
        return statistics.median(r[i] for r in rows_)

    acls = len(g_spec["acls"])
    ga, gw, gp = rows["gen_apply"], rows["gen_wait"], rows["gen_plan"]
    pa, pp = rows["peer_apply"], rows["peer_plan"]
    apply_only = [(a[0] - w[0], a[1]) for a, w in zip(ga, gw)]
    load_min = min(min(x) for x in loads)
    load_max = max(max(x) for x in loads)
    print(f"\nreconcile benchmark: {TOPICS} topics x 3 partitions RF 3 + {acls} ACLs, {RUNS} runs, "
          f"3-node cluster at {BOOTSTRAP}; gen apply {'with --no-wait' if no_wait else 'waits for every broker'}")
    print(f"load average (1/5/15 min) {load_min:.1f}..{load_max:.1f} over the runs; per run above")
    print(f"{'step':<46} {'best s':>7} {'median s':>9} {'CPU best':>9} {'CPU med':>8} {'requests':>9} "
          f"{'RSS MiB':>8}")

    def line(name, rows_, requests=True, rss=True):
        req = f"{rows_[0][2]:>9}" if requests else f"{'':>9}"
        mem = f"{max(r[3] for r in rows_):>8.1f}" if rss else ""
        print(f"{name:<46} {best(rows_):>7.2f} {med(rows_):>9.2f} {best(rows_, 1):>9.2f} {med(rows_, 1):>8.2f} "
              f"{req} {mem}")

    line("gen apply (observe, plan, write" + (")" if no_wait else ", wait)"), ga)
    if not no_wait:
        print(f"{'  of which the waits for every broker':<46} {best(gw):>7.2f} {med(gw):>9.2f} {'':>9} {'':>8} "
              f"{gw[0][2]:>9}")
        print(f"{'gen apply without the waits (wall minus waits)':<46} {best(apply_only):>7.2f} "
              f"{med(apply_only):>9.2f}")
    line("confluent-kafka create_topics + create_acls", pa)
    line("gen plan, nothing to do", gp)
    line("confluent-kafka the same reads", pp)
    ratio_apply = med(apply_only) / med(pa)
    print(f"ratios (medians, wall): apply {'(--no-wait) ' if no_wait else 'without the wait '}/ peer "
          f"{ratio_apply:.2f}x" + ("" if no_wait else f", apply with the wait / peer {med(ga) / med(pa):.2f}x")
          + f"; plan / peer reads {med(gp) / med(pp):.2f}x")
    # Each run's own ratio: both sides ran within a minute or two of each other, so a load change
    # between runs (another build starting) moves both, where medians of each side need not.
    run_apply = [a[0] / p[0] for a, p in zip(apply_only, pa)]
    run_plan = [g[0] / p[0] for g, p in zip(gp, pp)]
    print(f"ratios (per run, wall): apply {'(--no-wait) ' if no_wait else 'without the wait '}/ peer median "
          f"{statistics.median(run_apply):.2f}x ({min(run_apply):.2f}-{max(run_apply):.2f}x); plan / peer reads "
          f"median {statistics.median(run_plan):.2f}x ({min(run_plan):.2f}-{max(run_plan):.2f}x)")
    print(f"ratios (medians, CPU): apply / peer {med(ga, 1) / med(pa, 1):.2f}x, plan / peer reads "
          f"{med(gp, 1) / med(pp, 1):.2f}x (gen: whole process; peer: its timed part; its whole process "
          f"{med(pa, 5):.2f} s and {med(pp, 5):.2f} s CPU, interpreter included)")
    print(f"plans right after an apply that showed changes again: {flaps} of {RUNS}; applies whose wait "
          f"reached --wait-timeout (cluster behind): {timeouts} of {RUNS}")
    print(f"gen requests: apply {ga[0][2]} (observe included), plan {gp[0][2]}; the wait {gw[0][2]}")
    print(f"peer requests by API (apply): {pa[0][4]}; (reads): {pp[0][4]}")
    print(f"peak heap in use (metrics, every 0.5 s; most kept after a collection in brackets): {heap}; waits for the nodes to let go of a "
          f"side's partitions: median {statistics.median(settles):.0f} s, longest {max(settles):.0f} s")
    print(f"peer RSS includes the Python interpreter: {python_rss:.1f} MiB ({python_cpu:.2f} s CPU) for "
          f"importing confluent_kafka alone")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--peer":
        peer_main(sys.argv[2], sys.argv[3])
    else:
        main()
