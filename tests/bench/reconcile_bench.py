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
AdminClient is created (interpreter start and imports excluded).
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
    print(json.dumps({"seconds": elapsed, "requests": requests, "by_api": by_api}))


# ---------------------------------------------------------------- the driver


def run_child(argv, env=None):
    """Runs a process; returns (stdout, stderr, exit code, wall seconds, peak RSS MiB). The peak RSS
    comes from GNU time when installed: a child forked from this interpreter would count the
    interpreter's pages it held before exec (wait4's ru_maxrss does)."""
    rss_file = None
    if os.path.exists("/usr/bin/time"):
        fd, rss_file = tempfile.mkstemp(prefix="rbench-rss-")
        os.close(fd)
        argv = ["/usr/bin/time", "-f", "%M", "-o", rss_file, *argv]
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
    if rss_file:
        with open(rss_file) as f:
            rss = int(f.read().split()[-1]) / 1024
        os.remove(rss_file)
    return out[0].decode(), err[0].decode(), proc.returncode, wall, rss


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
    out, err, code, _, _ = gen(root, "plan", "--format", "json")
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
    out, err, code, wall, rss = run_child([sys.executable, __file__, "--peer", step, spec_file])
    if code != 0:
        raise SystemExit(f"peer {step} failed: {err}")
    r = json.loads(out.strip().splitlines()[-1])
    r["rss"] = rss
    return r


def main():
    work = tempfile.mkdtemp(prefix="rbench-")
    tag = f"rbench{os.getpid() % 100000}"
    rows = {k: [] for k in ("gen_apply", "gen_wait", "gen_plan", "peer_apply", "peer_plan")}
    flaps = 0
    cleanups = []
    _, _, _, _, python_rss = run_child([sys.executable, "-c", "import confluent_kafka.admin"])
    try:
        for run in range(RUNS):
            g_project, p_project = f"{tag}-g{run}", f"{tag}-p{run}"
            g_root, p_root = os.path.join(work, g_project), os.path.join(work, p_project)
            write_tree(g_root, g_project, TOPICS)
            write_tree(p_root, p_project, TOPICS)
            g_spec, p_spec = spec_of(g_root, g_project), spec_of(p_root, p_project)
            for project, spec in ((g_project, g_spec), (p_project, p_spec)):
                path = os.path.join(work, f"{project}.json")
                with open(path, "w") as f:
                    json.dump(spec, f)
                cleanups.append(path)

            # gen, from scratch (waits for every broker unless RBENCH_NO_WAIT is set).
            extra = ["--no-wait"] if os.environ.get("RBENCH_NO_WAIT") else []
            out, err, code, wall, rss = gen(g_root, "apply", "--yes", "--format", "json", *extra)
            assert code == 0, err
            report = json.loads(out)
            served = re.search(r"serve the changes after ([0-9.]+) s", err)
            wait = float(served.group(1)) if served else 0.0
            rows["gen_apply"].append((wall, report.get("observe_requests", 0) + report["requests"], rss,
                                      report["applied"]))
            rows["gen_wait"].append((wait, report.get("wait_requests", 0)))
            # gen, nothing to do: right after the apply, as a pipeline runs it.
            out, err, code, wall, rss = gen(g_root, "plan", "--detailed-exitcode")
            flaps += code == 2
            assert code in (0, 2), err
            noop, _, _, _, _ = gen(g_root, "apply", "--yes", "--format", "json")
            rows["gen_plan"].append((wall, json.loads(noop).get("observe_requests", 0), rss))

            # The peer, the same objects under its own prefix.
            r = peer("apply", cleanups[-1])
            rows["peer_apply"].append((r["seconds"], r["requests"], r["rss"], r["by_api"]))
            # The reads of the state gen planned on (every broker serves it: gen waited).
            r = peer("plan", cleanups[-2])
            rows["peer_plan"].append((r["seconds"], r["requests"], r["rss"], r["by_api"]))
            print(f"run {run + 1}: gen apply {rows['gen_apply'][-1][0]:.2f} s (wait {wait:.2f} s), "
                  f"plan {rows['gen_plan'][-1][0]:.2f} s; confluent-kafka apply {rows['peer_apply'][-1][0]:.2f} s, "
                  f"reads {rows['peer_plan'][-1][0]:.2f} s", file=sys.stderr)
            for path in cleanups[-2:]:
                peer("delete", path)
            del cleanups[-2:]
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
    print(f"\nreconcile benchmark: {TOPICS} topics x 3 partitions RF 3 + {acls} ACLs, {RUNS} runs, "
          f"3-node cluster at {BOOTSTRAP}")
    print(f"{'step':<44} {'best s':>7} {'median s':>9} {'requests':>9} {'peak RSS MiB':>13}")
    ga, gw, gp = rows["gen_apply"], rows["gen_wait"], rows["gen_plan"]
    pa, pp = rows["peer_apply"], rows["peer_plan"]
    apply_only = [(a[0] - w[0],) for a, w in zip(ga, gw)]
    print(f"{'gen apply (observe, plan, write, wait)':<44} {best(ga):>7.2f} {med(ga):>9.2f} {ga[0][1]:>9} "
          f"{max(r[2] for r in ga):>13.1f}")
    print(f"{'  of which the wait for every broker':<44} {best(gw):>7.2f} {med(gw):>9.2f} {gw[0][1]:>9}")
    print(f"{'gen apply without the wait':<44} {best(apply_only):>7.2f} {med(apply_only):>9.2f}")
    print(f"{'confluent-kafka create_topics + create_acls':<44} {best(pa):>7.2f} {med(pa):>9.2f} "
          f"{pa[0][1]:>9} {max(r[2] for r in pa):>13.1f}")
    print(f"{'gen plan, nothing to do':<44} {best(gp):>7.2f} {med(gp):>9.2f} {gp[0][1]:>9} "
          f"{max(r[2] for r in gp):>13.1f}")
    print(f"{'confluent-kafka the same reads':<44} {best(pp):>7.2f} {med(pp):>9.2f} {pp[0][1]:>9} "
          f"{max(r[2] for r in pp):>13.1f}")
    print(f"ratios (median): apply without wait / peer {med(apply_only) / med(pa):.2f}x, "
          f"apply with wait / peer {med(ga) / med(pa):.2f}x, plan / peer reads {med(gp) / med(pp):.2f}x")
    print(f"plans right after an apply that showed changes again: {flaps} of {RUNS}")
    print(f"peer requests by API (apply): {pa[0][3]}; (reads): {pp[0][3]}")
    print(f"peer RSS includes the Python interpreter: {python_rss:.1f} MiB for importing confluent_kafka alone")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--peer":
        peer_main(sys.argv[2], sys.argv[3])
    else:
        main()
