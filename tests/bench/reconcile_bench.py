"""Reconcile benchmark: `gen apply` / `gen plan` against confluent-kafka (librdkafka) on the suite's
cluster, the same objects for both: TOPICS topics of 3 partitions at RF 3 and their ACLs (a producer
and a consumer of every topic, as `gen` derives them) created from scratch, then the reads of a
plan with nothing to do. Prints time, requests and peak RSS of each side; asserts nothing.

Run through tests/scripts/reconcile-bench.sh (it installs confluent-kafka, builds `gen` in release
and reads the cluster's variables). Each run uses fresh names under its own prefix (`rbench...`),
and everything created is deleted at the end, also on failure: the cluster is shared.

The peer runs as a child process per step so that its peak RSS is that step's; it includes the
Python interpreter, whose own figure (a child that only imports confluent_kafka) is printed too.
`gen` is timed as a process (start, loading and validating the declarations, connecting, reading,
planning, writing, and by default waiting for every broker); the peer's time starts when its
AdminClient is created (interpreter start and imports excluded). CPU is user+sys: gen's of the
whole process, the peer's of its timed part (getrusage, librdkafka's threads included) and, in
brackets, of its whole process. The machine is shared, so gen and the peer take turns (the first
of each run alternates), each figure is a best and a median, and the load average is printed.
"""

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

RUNS = int(os.environ.get("RBENCH_RUNS", "3"))
TOPICS = int(os.environ.get("RBENCH_TOPICS", "1000"))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GEN = os.environ["GEN"]
BOOTSTRAP = os.environ["KAFKA_TEST_BOOTSTRAP_SASL"]
CA = os.environ["KAFKA_TEST_CA_FILE"]
USER = os.environ.get("KAFKA_TEST_ADMIN_USER", "admin")
PASSWORD_FILE = os.environ["KAFKA_TEST_ADMIN_PASSWORD_FILE"]


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
    import threading
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


def main():
    work = tempfile.mkdtemp(prefix="rbench-")
    tag = f"rbench{os.getpid() % 100000}"
    no_wait = bool(os.environ.get("RBENCH_NO_WAIT"))
    # Rows: (wall s, CPU s, requests, peak RSS MiB, extra)
    rows = {k: [] for k in ("gen_apply", "gen_wait", "gen_plan", "peer_apply", "peer_plan")}
    flaps = timeouts = 0
    cleanups = []
    loads = [os.getloadavg()]
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
                cleanups.append(paths[project])

            def gen_apply():
                # gen, from scratch (waits for every broker unless RBENCH_NO_WAIT is set).
                extra = ["--no-wait"] if no_wait else []
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

            def peer_apply():
                r = peer("apply", paths[p_project])
                rows["peer_apply"].append((r["seconds"], r["cpu"], r["requests"], r["rss"], r["by_api"],
                                           r["process_cpu"]))

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

            # Take turns: the first of each pair alternates from run to run.
            for first, second in ((gen_apply, peer_apply), (gen_plan, peer_plan)):
                if run % 2:
                    first, second = second, first
                first()
                second()
            noop, *_ = gen(g_root, "apply", "--yes", "--format", "json")
            g = list(rows["gen_plan"][-1])
            g[2] = json.loads(noop).get("observe_requests", 0)
            rows["gen_plan"][-1] = tuple(g)
            loads.append(os.getloadavg())
            print(f"run {run + 1} (load {load()}): gen apply {rows['gen_apply'][-1][0]:.2f} s "
                  f"(wait {rows['gen_wait'][-1][0]:.2f} s), plan {rows['gen_plan'][-1][0]:.2f} s; "
                  f"confluent-kafka apply {rows['peer_apply'][-1][0]:.2f} s, "
                  f"reads {rows['peer_plan'][-1][0]:.2f} s", file=sys.stderr)
            for path in (paths[g_project], paths[p_project]):
                peer("delete", path)
                cleanups.remove(path)
    finally:
        for path in cleanups:
            try:
                peer("delete", path)
            except SystemExit as e:
                print(e, file=sys.stderr)
        shutil.rmtree(work, ignore_errors=True)

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
    print(f"ratios (medians, CPU): apply / peer {med(ga, 1) / med(pa, 1):.2f}x, plan / peer reads "
          f"{med(gp, 1) / med(pp, 1):.2f}x (gen: whole process; peer: its timed part; its whole process "
          f"{med(pa, 5):.2f} s and {med(pp, 5):.2f} s CPU, interpreter included)")
    print(f"plans right after an apply that showed changes again: {flaps} of {RUNS}; applies whose wait "
          f"reached --wait-timeout (cluster behind): {timeouts} of {RUNS}")
    print(f"gen requests: apply {ga[0][2]} (observe included), plan {gp[0][2]}; the wait {gw[0][2]}")
    print(f"peer requests by API (apply): {pa[0][4]}; (reads): {pp[0][4]}")
    print(f"peer RSS includes the Python interpreter: {python_rss:.1f} MiB ({python_cpu:.2f} s CPU) for "
          f"importing confluent_kafka alone")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--peer":
        peer_main(sys.argv[2], sys.argv[3])
    else:
        main()
