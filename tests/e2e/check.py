"""Checks of the end-to-end test, over the collector's JSON output.

  check.py map DEPS_JSON EXPECTED       service-level map == expected edges
  check.py apps APPS_JSON               grouping as designed
  check.py coverage AGENTS_JSON STATUS_DIR  every seq stored once or in a Gap
  check.py plan READINESS SIZING CSV HOSTS...
Prints what it found; exits 1 with the differences on a mismatch."""
import csv
import json
import os
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def fail(msg):
    print("check: FAIL: " + msg)
    sys.exit(1)


def short(identity):
    """The comparable part of a process identity: the script for interpreters
    ('python3.11 /x/app.py' -> 'app.py'), the program otherwise."""
    parts = identity.split()
    last = parts[-1] if parts else ""
    return os.path.basename(last)


def check_map(deps_path, expected_path):
    d = load(deps_path)
    names = {n["id"]: n.get("name", n["id"]) for n in d["nodes"]}
    # outside clients ("outside clients 198.18.0.0/24 (1 address)") compare
    # by their subnet: "clients:198.18.0.0/24"
    for k, v in names.items():
        if v.startswith("outside clients "):
            names[k] = "clients:" + v.split()[2]
    found = set()
    for e in d.get("service_edges", d.get("edges", [])):
        found.add((names.get(e["from"], e["from"]), short(e.get("from_process", "")),
                   names.get(e["to"], e["to"]), short(e.get("to_process", "")), int(e.get("port", 0))))
    expected = set()
    with open(expected_path) as f:
        for line in f:
            line = line.split("#")[0].strip()
            if line:
                a, ap, b, bp, port = line.split()
                ap = "" if ap == "-" else ap
                expected.add((a, ap, b, bp, int(port)))
    # '*' for a process: any (an outside client's server end is named from
    # the listener table or not at all, depending on which sample saw it)
    for w in [x for x in expected if "*" in x]:
        hits = {f for f in found if all(a == "*" or a == b for a, b in zip(w, f))}
        if hits:
            expected.discard(w)
            found -= hits
    missing, extra = expected - found, found - expected
    # An edge between the hosts and port of an expected dependency with one
    # side's process unknown (a connection the agent could not attribute: a
    # process gone before it was named) is that dependency partly
    # attributed, not a wrong one: listed, not failed. The expected edge
    # itself must still be found with both processes.
    partial = {x for x in extra if (not x[1] or not x[3]) and any(
        (x[0], x[2], x[4]) == (e[0], e[2], e[4]) and (not x[1] or x[1] == e[1]) and
        (not x[3] or x[3] == e[3]) for e in expected | found - extra)}
    extra -= partial
    print("map: %d service edges found, %d expected, %d missing, %d unexpected, %d partly attributed"
          % (len(found), len(expected), len(missing), len(extra), len(partial)))
    for x in sorted(partial):
        print("  partly     %s %s -> %s %s :%d" % x)
    for m in sorted(missing):
        print("  missing    %s %s -> %s %s :%d" % m)
    for x in sorted(extra):
        print("  unexpected %s %s -> %s %s :%d" % x)
    if missing or extra:
        fail("the service-level map differs from the expected edges")


def check_apps(apps_path, groups):
    d = load(apps_path)
    hosts = {}
    names = {}
    for n in d.get("hosts_index", []):
        names[n["id"]] = n["name"]
    apps = d["apps"]
    by_host = {}
    for a in apps:
        for h in a["hosts"]:
            by_host[h] = a
    # hosts are ids; map to names through the deps nodes passed in groups[0]
    nodes = {n["id"]: n["name"] for n in load(groups[0])["nodes"]}
    named = {nodes.get(h, h): a for h, a in by_host.items()}
    ok = True
    for spec in groups[1:]:
        kind, members = spec.split("=")
        members = members.split(",")
        ids = {named[m]["id"] for m in members if m in named}
        missing = [m for m in members if m not in named]
        if missing:
            print("apps: hosts without an application: %s" % ",".join(missing))
            ok = False
            continue
        if len(ids) != 1:
            print("apps: %s split over %s" % (",".join(members), ",".join(sorted(ids))))
            ok = False
            continue
        app = named[members[0]]
        others = sorted(nodes.get(h, h) for h in app["hosts"] if nodes.get(h, h) not in members)
        if others:
            print("apps: %s also holds %s" % (app.get("name"), ",".join(others)))
            ok = False
        infra = bool(app.get("infrastructure"))
        if (kind == "infra") != infra:
            print("apps: %s: infrastructure=%s, expected %s" % (",".join(members), infra, kind))
            ok = False
        else:
            print("apps: %-30s -> %s (%s)" % (",".join(members), app.get("name"), kind))
    if not ok:
        fail("the application grouping differs from the design")


def check_coverage(agents_path, status_dir):
    agents = load(agents_path)
    agents = agents.get("agents", agents) if isinstance(agents, dict) else agents
    bad = 0
    tot_stored = tot_gap = tot_replay = 0
    for a in agents:
        st_path = os.path.join(status_dir, a["hostname"] + ".json")
        acked = None
        if os.path.exists(st_path):
            st = load(st_path)
            acked = st.get("acked_seq", st.get("last_ack_seq"))
        high = a.get("high_seq", 0)
        stored = a.get("batches_stored", 0)
        gaps = a.get("gap_seqs", a.get("gaps_reported", 0))
        tot_stored += stored
        tot_gap += gaps
        tot_replay += a.get("replays_rejected", 0)
        line = "coverage: %-10s high seq %4d = stored %4d + in gaps %3d" % (a["hostname"], high, stored, gaps)
        if acked is not None:
            line += "; agent acked %d" % acked
        okay = stored + gaps == high and (acked is None or acked <= high)
        print(line + ("" if okay else "   <-- MISMATCH"))
        bad += 0 if okay else 1
    print("coverage: batches stored %d, covered by gaps %d, duplicates rejected %d"
          % (tot_stored, tot_gap, tot_replay))
    if bad:
        fail("%d agents have sequence numbers neither stored nor covered by a gap" % bad)


def check_plan(readiness_path, sizing_path, csv_path, deps_path, hosts):
    nodes = {n["id"]: n["name"] for n in load(deps_path)["nodes"]}
    r = {nodes.get(x["target"], x["target"]) for x in load(readiness_path)["readiness"]}
    s = {nodes.get(x["host"], x["host"]) for x in load(sizing_path)["sizing"] if x.get("instance_type")}
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    names = {row["HostName"].split(".")[0] for row in rows}
    for what, have in (("readiness", r), ("sizing", s), ("Migration Hub CSV", names)):
        missing = [h for h in hosts if h not in have]
        if missing:
            fail("%s lacks %s" % (what, ",".join(missing)))
    if len(rows) != len(hosts):
        fail("Migration Hub CSV has %d rows for %d hosts" % (len(rows), len(hosts)))
    print("plan: readiness, sizing and a Migration Hub CSV row for each of the %d hosts" % len(hosts))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "map":
        check_map(sys.argv[2], sys.argv[3])
    elif cmd == "apps":
        check_apps(sys.argv[2], sys.argv[3:])
    elif cmd == "coverage":
        check_coverage(sys.argv[2], sys.argv[3])
    elif cmd == "plan":
        check_plan(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6:])
    else:
        fail("unknown check " + cmd)
