#!/usr/bin/env python3
"""Progress from migration tools end to end (docs/console.md "Progress from
migration tools"):

  progress_api.py CAIRN_COLLECTOR CAIRN_ESTATE

A task is reported before any host exists (its resources match nothing and
are kept); a 12-host synthetic estate is then sent through `serve` and the
task finds its hosts. Then: resources by id, id prefix, hostname, fqdn, IP
and MAC; every status transition; stale tasks (an old updateDateTime, never
waiting); a late report older than the stored one; unknown resources; tokens
per role; every validation error names its field; the audit log; a host's
and an application's status derived from tasks and a person's `migrate set`
winning (both shown) in the API, `host`, `progress` and `progress --json`
(the same document as /api/v1/progress); and `notify`, the same from the
command line."""
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

collector, estate = sys.argv[1], sys.argv[2]
tmp = tempfile.mkdtemp(prefix="cairn-progress-it.")
state = os.path.join(tmp, "state")
procs = []
fails = []


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    fails.append(msg)


def note(msg):
    print("--- " + msg, flush=True)


def cc(*args, check=True):
    r = subprocess.run([collector, *args, "--state-dir", state], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise SystemExit(f"cairn-collector {' '.join(args)} failed ({r.returncode}): {r.stderr}")
    return r


def start(args, ready_re, log_name):
    log = open(os.path.join(tmp, log_name), "w+")
    p = subprocess.Popen([collector, *args], stdout=subprocess.DEVNULL, stderr=log)
    procs.append(p)
    for _ in range(400):
        log.seek(0)
        m = re.search(ready_re, log.read())
        if m:
            return p, m.group(1)
        if p.poll() is not None:
            break
        time.sleep(0.05)
    log.seek(0)
    raise SystemExit(f"{args[0]} did not start: {log.read()}")


def request(method, path, token=None, body=None):
    c = http.client.HTTPConnection("127.0.0.1", web_port, timeout=30)
    h = {}
    if token:
        h["Authorization"] = "Bearer " + token
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    try:
        doc = json.loads(data)
    except ValueError:
        doc = None
    return r.status, doc


def put(stream, task, body, token=None, want=(200, 201)):
    st, doc = request("PUT", f"/api/v1/progress-streams/{stream}/tasks/{task}", token or operator, body)
    if st not in (want if isinstance(want, tuple) else (want,)):
        fail(f"PUT {stream}/{task} {json.dumps(body)[:120]}: {st} (wanted {want}): {doc}")
    return st, doc


def get(path, token=None, want=200):
    st, doc = request("GET", "/api/v1/" + path, token or viewer)
    if st != want:
        fail(f"GET {path}: {st} (wanted {want}): {doc}")
    return doc


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def check(cond, msg):
    if not cond:
        fail(msg)


try:
    note("serve, web, tokens")
    key = cc("key", "create", "-q").stdout.strip()
    serve, addr = start(["serve", "--state-dir", state, "--listen", "127.0.0.1:0", "--accept-any",
                         "-o", "recompute_interval=1s", "-o", "commit_interval=5ms"],
                        r"listening on (\S+) ", "serve.log")
    tokens = {role: cc("token", "create", "t-" + role, "--role", role).stdout.strip()
              for role in ("viewer", "operator", "admin")}
    web, url = start(["web", "--state-dir", state, "-o", "web_listen=127.0.0.1:0"],
                     r"API on (\S+) ", "web.log")
    web_port = int(re.search(r":(\d+)/$", url).group(1))
    viewer, operator, admin = tokens["viewer"], tokens["operator"], tokens["admin"]

    note("a task before its hosts exist: stored, resources kept unmatched")
    st, doc = put("mgn", "early", {"status": "IN_PROGRESS", "progressPercent": 10,
                                   "resources": ["mq-01", "backup-01.example.net"]})
    check(st == 201 and doc and doc["created"] and doc["hosts"] == [] and
          sorted(doc["unmatched_resources"]) == ["backup-01.example.net", "mq-01"],
          f"early task: {st} {doc}")

    note("the estate arrives through serve")
    send = subprocess.run([estate, "--state-dir", state, "--hosts", "12", "--days", "1", "--seed", "7",
                           "--send", addr, "--key", key], capture_output=True, text=True)
    if send.returncode:
        raise SystemExit("cairn-estate --send: " + send.stderr[-500:])
    serve.terminate()
    serve.wait(timeout=30)
    cc("deps", "--fresh")  # a stored snapshot: the CLI and the API read the same one
    hosts = json.loads(cc("hosts", "--json").stdout)
    by_name = {h["hostname"]: h for h in hosts}
    facts = {n: json.loads(cc("host", n, "--json").stdout)["facts"] for n in by_name}
    doc = get("progress-streams/mgn/tasks/early")
    want = sorted([by_name["mq-01"]["id"], by_name["backup-01"]["id"]])
    check(doc and sorted(h["id"] for h in doc["hosts"]) == want and doc["unmatched_resources"] == [],
          f"the early task did not find its hosts after the estate arrived: {doc}")
    check(doc and {h["name"] for h in doc["hosts"]} == {"mq-01", "backup-01"}, f"host names: {doc}")

    note("resources by id, id prefix, hostname, fqdn, IP and MAC")
    names = sorted(n for n in by_name if facts[n].get("fqdn"))[:6]
    if len(names) < 6:
        raise SystemExit(f"the estate has too few hosts with facts: {names}")

    def nic(n):
        return next(x for x in facts[n]["nics"] if x.get("mac"))

    ways = [("id", by_name[names[0]]["id"]),
            ("prefix", by_name[names[1]]["id"][:12].upper()),
            ("hostname", names[2].upper()),
            ("fqdn", facts[names[3]]["fqdn"]),
            ("ip", nic(names[4])["addresses"][0]["address"]),
            ("mac", nic(names[5])["mac"].upper().replace(":", "-"))]
    for i, (way, res) in enumerate(ways):
        st, doc = put("resolve", way, {"status": "NOT_STARTED", "resources": [res]})
        got = [h["id"] for h in doc["hosts"]] if doc else None
        check(got == [by_name[names[i]]["id"]], f"resource by {way} ({res}): hosts {got}, wanted {names[i]}")
    st, doc = put("resolve", "loopback", {"status": "NOT_STARTED", "resources": ["127.0.0.1"]})
    check(doc and doc["hosts"] == [] and doc["unmatched_resources"] == ["127.0.0.1"],
          f"127.0.0.1 must name no host: {doc}")

    note("unknown resources: stored, reported, not an error")
    unknown = ["no-such-host", "192.0.2.77", "de:ad:be:ef:00:01", "0123456789abcdef"]
    st, doc = put("mgn", "unknown", {"status": "IN_PROGRESS", "resources": unknown + ["mq-01"]})
    check(st == 201 and doc and sorted(doc["unmatched_resources"]) == sorted(unknown) and
          [h["name"] for h in doc["hosts"]] == ["mq-01"], f"unknown resources: {st} {doc}")

    note("every status transition")
    states = ["NOT_STARTED", "IN_PROGRESS", "FAILED", "COMPLETED"]
    for a in states:
        for b in states:
            if a == b:
                continue
            task = f"{a}-{b}".lower()
            st1, d1 = put("transitions", task, {"status": a, "progressPercent": 30})
            st2, d2 = put("transitions", task, {"status": b})
            check(st1 == 201 and st2 == 200 and d2 and d2["status"] == b and not d2["created"],
                  f"{a} -> {b}: {st1} {st2} {d2}")
            check(d2 and d2["progressPercent"] == (100 if b == "COMPLETED" else 0),
                  f"{a} -> {b}: percent {d2 and d2['progressPercent']}")
            again = get(f"progress-streams/transitions/tasks/{task}")
            check(again and again["status"] == b, f"{a} -> {b} read back: {again}")
    log = json.loads(cc("notify", "log", "transitions", "--json").stdout)
    changes = {e["target"]: [] for e in log}
    for e in log:
        changes[e["target"]].append(e["detail"].split(";")[0])
    for a in states:
        for b in states:
            if a != b:
                t = f"transitions/{a}-{b}".lower()
                want = [f"(new) -> {a} 30%", f"{a} -> {b} {100 if b == 'COMPLETED' else 0}%"]
                check(changes.get(t) == want, f"audit of {t}: {changes.get(t)}, wanted {want}")
    check(all(e["user"] == "web:t-operator" and e["action"] == "progress.put" for e in log),
          f"audit users/actions: {set((e['user'], e['action']) for e in log)}")
    streams = get("progress-streams")
    tr = next((s for s in streams["streams"] if s["stream"] == "transitions"), None) if streams else None
    check(tr and tr["tasks"] == 12 and tr["task_states"] == {s: 3 for s in states},
          f"streams: transitions: {tr}")

    note("stale: no report within nextUpdateSeconds of updateDateTime")
    old = iso(time.time() - 7200)
    cases = {"late": ({"status": "IN_PROGRESS", "updateDateTime": old, "nextUpdateSeconds": 60}, True),
             "late-failed": ({"status": "FAILED", "updateDateTime": old, "nextUpdateSeconds": 60}, True),
             "on-time": ({"status": "IN_PROGRESS", "nextUpdateSeconds": 86400}, False),
             "done": ({"status": "COMPLETED", "updateDateTime": old, "nextUpdateSeconds": 60}, False),
             "no-promise": ({"status": "IN_PROGRESS", "updateDateTime": old}, False)}
    for task, (body, stale) in cases.items():
        st, doc = put("stale", task, body)
        check(doc and doc["stale"] is stale, f"stale/{task}: stale {doc and doc['stale']}, wanted {stale}")
    listed = get("progress-streams/stale/tasks")
    check(listed and {t["task"]: t["stale"] for t in listed["tasks"]} == {k: v[1] for k, v in cases.items()},
          f"stale tasks listed: {listed}")
    s = next((s for s in get("progress-streams")["streams"] if s["stream"] == "stale"), {})
    check(s.get("stale") == 2, f"stream stale count: {s}")
    cli = json.loads(cc("notify", "list", "stale", "--json").stdout)
    check(cli == listed, "notify list stale --json differs from GET progress-streams/stale/tasks")
    st, doc = put("stale", "late", {"status": "IN_PROGRESS", "nextUpdateSeconds": 60})
    check(doc and doc["stale"] is False, f"a new report ends staleness: {doc}")

    note("a late retry older than the stored report changes nothing")
    put("mgn", "order", {"status": "FAILED", "updateDateTime": iso(time.time() - 60)})
    st, doc = put("mgn", "order", {"status": "IN_PROGRESS", "updateDateTime": iso(time.time() - 600)})
    check(st == 200 and doc and doc["applied"] is False and doc["status"] == "FAILED",
          f"older report: {st} {doc}")
    st, doc = put("mgn", "order", {"status": "COMPLETED", "updateDateTime": 2 * int(time.time() // 2)})
    check(doc and doc["applied"] and doc["status"] == "COMPLETED", f"epoch seconds: {doc}")

    note("tokens and roles")
    body = {"status": "IN_PROGRESS"}
    st, doc = request("PUT", "/api/v1/progress-streams/auth/tasks/t", None, body)
    check(st == 401 and doc and "error" in doc, f"PUT without a token: {st} {doc}")
    st, _ = request("PUT", "/api/v1/progress-streams/auth/tasks/t", "cairn_" + "0" * 64, body)
    check(st == 401, f"PUT with an unknown token: {st}")
    st, doc = request("PUT", "/api/v1/progress-streams/auth/tasks/t", viewer, body)
    check(st == 403 and doc and "operator" in doc.get("error", ""), f"PUT as viewer: {st} {doc}")
    st, _ = request("DELETE", "/api/v1/progress-streams/mgn/tasks/order", viewer)
    check(st == 403, f"DELETE as viewer: {st}")
    st, _ = request("GET", "/api/v1/progress-streams", None)
    check(st == 401, f"GET streams without a token: {st}")
    st, _ = request("GET", "/api/v1/progress-streams", viewer)
    check(st == 200, f"GET streams as viewer: {st}")
    st, doc = put("auth", "t", body, operator)
    check(st == 201 and doc["updated_by"] == "web:t-operator", f"PUT as operator: {st} {doc}")
    st, doc = put("auth", "t", body, admin)
    check(st == 200 and doc["updated_by"] == "web:t-admin", f"PUT as admin: {st} {doc}")

    note("validation: 400 naming the field")
    bad = [("not json", "request body"),
           ({"progressPercent": 5}, '"status": missing'),
           ({"status": "DONE"}, '"status"'),
           ({"status": 3}, '"status"'),
           ({"status": "FAILED", "progressPercent": 101}, '"progressPercent"'),
           ({"status": "FAILED", "progressPercent": -1}, '"progressPercent"'),
           ({"status": "FAILED", "progressPercent": "50"}, '"progressPercent"'),
           ({"status": "FAILED", "progressPercent": 50.5}, '"progressPercent"'),
           ({"status": "FAILED", "statusDetail": "é" * 501}, '"statusDetail"'),
           ({"status": "FAILED", "statusDetail": "a\u0001b"}, '"statusDetail"'),
           ({"status": "FAILED", "updateDateTime": "yesterday"}, '"updateDateTime"'),
           ({"status": "FAILED", "updateDateTime": "2026-02-30T10:00:00Z"}, '"updateDateTime"'),
           ({"status": "FAILED", "updateDateTime": "2026-12-02T25:00:00Z"}, '"updateDateTime"'),
           ({"status": "FAILED", "updateDateTime": iso(time.time() + 86400)}, '"updateDateTime"'),
           ({"status": "FAILED", "nextUpdateSeconds": -5}, '"nextUpdateSeconds"'),
           ({"status": "FAILED", "nextUpdateSeconds": "soon"}, '"nextUpdateSeconds"'),
           ({"status": "FAILED", "resources": "mq-01"}, '"resources"'),
           ({"status": "FAILED", "resources": [7]}, '"resources"[0]'),
           ({"status": "FAILED", "resources": ["ok", ""]}, '"resources"[1]'),
           ({"status": "FAILED", "resources": ["x" * 256]}, '"resources"[0]'),
           ({"status": "FAILED", "resources": [f"h{i}" for i in range(101)]}, '"resources"'),
           ({"status": "FAILED", "color": "red"}, '"color"'),
           ([1, 2], "request body")]
    for body, field in bad:
        st, doc = request("PUT", "/api/v1/progress-streams/bad/tasks/t", operator, body)
        msg = (doc or {}).get("error", "")
        check(st == 400 and field in msg, f"{json.dumps(body)[:60]}: {st} {msg!r} (wanted 400 naming {field})")
    st, doc = put("bad", "ok", {"status": "FAILED", "statusDetail": "é" * 500,
                                "resources": [f"h{i}" for i in range(100)]})
    check(st == 201, "500 characters of detail and 100 resources are allowed")
    for path, field in [("progress-streams/" + "s" * 51 + "/tasks/t", "stream name"),
                        ("progress-streams/a%7Cb/tasks/t", "stream name"),
                        ("progress-streams/mgn/tasks/a%3Ab", "task name")]:
        st, doc = request("PUT", "/api/v1/" + path, operator, {"status": "FAILED"})
        check(st == 400 and field in (doc or {}).get("error", ""), f"PUT {path}: {st} {doc}")
    st, _ = request("PUT", "/api/v1/progress-streams/mgn/tasks/" + "t" * 256, operator, {"status": "FAILED"})
    check(st == 400, f"a task name of 256 bytes: {st}")
    st, _ = request("POST", "/api/v1/progress-streams/mgn/tasks/x", operator, {"status": "FAILED"})
    check(st == 405, f"POST on a task: {st}")
    st, _ = request("PUT", "/api/v1/progress-streams/mgn", operator, {"status": "FAILED"})
    check(st == 405, f"PUT on a stream: {st}")
    st, _ = request("GET", "/api/v1/progress-streams/mgn/things", viewer)
    check(st == 404, f"GET an unknown resource below a stream: {st}")
    get("progress-streams/nosuch/tasks", want=404)
    get("progress-streams/mgn/tasks/nosuch", want=404)
    check(not any(s["stream"] == "bad" and s["tasks"] != 1 for s in get("progress-streams")["streams"]),
          "a refused report was stored")

    note("a host's status follows its tasks; a person's status wins, both shown")
    x = by_name["mq-01"]["id"]
    put("dms", "mq-replication", {"status": "IN_PROGRESS", "progressPercent": 40, "resources": [x]})
    put("dms", "mq-cutover", {"status": "FAILED", "progressPercent": 20, "resources": ["mq-01"]})
    m = get("hosts/" + x)["migration"]
    # mq-01: early (IN_PROGRESS 10), unknown (IN_PROGRESS 0), dms x2
    check(m["state"] == "FAILED" and m["source"] == "tasks" and m["tasks"]["tasks"] == 4 and
          m["tasks"]["streams"] == "dms, mgn" and m["set"] is None, f"derived host status: {m}")
    st, doc = request("POST", "/api/v1/migration/" + x, operator, {"state": "IN_PROGRESS", "progress": 50})
    check(st == 200, f"POST migration: {st} {doc}")
    m = get("hosts/" + x)["migration"]
    check(m["state"] == "IN_PROGRESS" and m["percent"] == 50 and m["source"] == "set" and
          m["set"]["by"] == "web:t-operator" and m["tasks"]["state"] == "FAILED",
          f"explicit status with tasks: {m}")
    check("(set by web:t-operator)" in m["text"] and "tasks: FAILED" in m["text"] and
          "4 tasks" in m["text"], f"status text: {m['text']}")
    cli = json.loads(cc("host", "mq-01", "--json").stdout)["migration"]
    check(cli == m, f"host --json migration differs from the API's: {cli} vs {m}")
    text = cc("host", "mq-01").stdout
    check("migration:   IN_PROGRESS 50% (set by web:t-operator)" in text and "tasks: FAILED" in text,
          f"host text: {text[:400]}")
    prog = cc("progress").stdout
    check(re.search(r"mq-01 +IN_PROGRESS 50% \(set by web:t-operator\) . tasks: FAILED", prog),
          f"progress text lacks the mq-01 line: {prog[-800:]}")

    note("an application's status follows its hosts' tasks")
    pdoc = get("progress")
    apps = [a for w in pdoc["waves"] for a in w["apps"]]
    app = next(a for a in apps if a["hosts"] >= 2 and not a["explicit"] and
               all(get("hosts/" + h)["migration"]["source"] == "none" for h in get("apps/" + a["id"])["hosts"]))
    app_hosts = get("apps/" + app["id"])["hosts"]
    for i, h in enumerate(app_hosts):
        put("app-move", f"host-{i}", {"status": "COMPLETED", "resources": [h]})
    a = next(a for w in get("progress")["waves"] for a in w["apps"] if a["id"] == app["id"])
    check(a["state"] == "COMPLETED" and a["percent"] == 100 and a["tasks"] >= len(app_hosts) and
          a["host_states"]["COMPLETED"] == len(app_hosts), f"app with every host completed: {a}")
    put("app-move", "host-0", {"status": "FAILED", "progressPercent": 60})  # resources kept
    a = next(a for w in get("progress")["waves"] for a in w["apps"] if a["id"] == app["id"])
    check(a["state"] == "FAILED" and a["host_states"]["FAILED"] == 1, f"app with a failed task: {a}")
    st, _ = request("POST", "/api/v1/migration/" + app["id"], operator, {"state": "IN_PROGRESS", "progress": 90})
    a = next(a for w in get("progress")["waves"] for a in w["apps"] if a["id"] == app["id"])
    check(st == 200 and a["explicit"] and a["state"] == "IN_PROGRESS" and a["percent"] == 90 and
          a["task_states"]["FAILED"] == 1 and a["host_states"]["FAILED"] == 1,
          f"a person's application status wins, its tasks still shown: {st} {a}")
    doc = get("progress")
    want = json.loads(cc("progress", "--json").stdout)
    check(doc == want, "/api/v1/progress differs from `progress --json`")
    check(any(h["id"] == x for h in doc["task_hosts"]) and
          any(s["stream"] == "dms" for s in doc["streams"]), "progress lacks task hosts or streams")

    note("notify: the same from the command line")
    r = cc("notify", "cli", "step-1", "--status", "in-progress", "--percent", "70", "--detail",
           "copying disks", "--resource", "backup-01", "--resource", "nosuch", "--next-update", "600")
    check("cli/step-1: IN_PROGRESS 70% (copying disks), 1 host: backup-01; matched no host (kept): nosuch"
          in r.stdout, f"notify output: {r.stdout}")
    doc = get("progress-streams/cli/tasks/step-1")
    check(doc and doc["status"] == "IN_PROGRESS" and doc["statusDetail"] == "copying disks" and
          doc["nextUpdateSeconds"] == 600 and doc["updated_by"] not in ("", None) and
          not doc["updated_by"].startswith("web:"), f"notify's task through the API: {doc}")
    r = cc("notify", "cli", "step-1", "--status", "COMPLETED", "--json")
    d = json.loads(r.stdout)
    check(d["progressPercent"] == 100 and d["applied"] and [h["name"] for h in d["hosts"]] == ["backup-01"],
          f"notify --json (resources kept): {r.stdout[:300]}")
    r = cc("notify", "cli", "step-2", "--status", "FAILED", "--time", "2026-01-02T03:04:05+01:00", "--json")
    check(json.loads(r.stdout)["updateDateTime"] == "2026-01-02T02:04:05Z", f"notify --time: {r.stdout[:300]}")
    for args, code in [(["cli", "x", "--status", "DONE"], 2), (["cli", "x", "--status", "FAILED", "--percent", "200"], 2),
                       (["cli", "x", "--status", "FAILED", "--time", "noon"], 2),
                       (["cli", "x", "--status", "FAILED", "--detail", "d" * 501], 2),
                       (["cli", "a:b", "--status", "FAILED"], 2), (["cli", "x"], 2),
                       (["list", "nosuch"], 3), (["list", "cli", "nosuch"], 3), (["rm", "nosuch"], 3)]:
        r = cc("notify", *args, check=False)
        check(r.returncode == code, f"notify {' '.join(args)[:60]}: exit {r.returncode}, wanted {code}: {r.stderr}")
    log = json.loads(cc("notify", "log", "cli", "step-1", "--json").stdout)
    check(len(log) == 2 and log[0]["user"] == doc["updated_by"], f"notify's audit entries: {log}")

    note("DELETE a task, a stream")
    st, doc = request("DELETE", "/api/v1/progress-streams/mgn/tasks/order", operator)
    check(st == 200 and doc and doc["deleted"] == 1, f"DELETE task: {st} {doc}")
    get("progress-streams/mgn/tasks/order", want=404)
    st, doc = request("DELETE", "/api/v1/progress-streams/transitions", admin)
    check(st == 200 and doc and doc["deleted"] == 12, f"DELETE stream: {st} {doc}")
    st, _ = request("DELETE", "/api/v1/progress-streams/transitions", admin)
    check(st == 404, f"DELETE a deleted stream: {st}")
    log = json.loads(cc("notify", "log", "--json").stdout)
    dels = [(e["target"], e["user"]) for e in log if e["action"] == "progress.delete"]
    check(dels == [("mgn/order", "web:t-operator"), ("transitions/*", "web:t-admin")], f"delete audit: {dels}")
    r = cc("notify", "rm", "cli")
    check("2 tasks deleted" in r.stdout, f"notify rm: {r.stdout}")
finally:
    for p in procs:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
    if fails:
        print(f"logs kept in {tmp}", file=sys.stderr)
    else:
        shutil.rmtree(tmp, ignore_errors=True)

if fails:
    sys.exit(f"{len(fails)} check(s) failed")
print("progress API: ok")
