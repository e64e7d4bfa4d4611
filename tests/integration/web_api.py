#!/usr/bin/env python3
"""The web console's JSON API end to end (docs/console.md):

  web_api.py CAIRN_COLLECTOR CAIRN_ESTATE

A 30-host synthetic estate is sent through `serve` while readers hit the
API from several threads; then every endpoint is compared with the CLI's
--json document, tokens and roles are checked (401, 403), bad input gets a
4xx with a JSON error, ETags give 304, decisions from the API show in the
CLI and the audit trail, and the listen/TLS rules are enforced."""
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

collector, estate = sys.argv[1], sys.argv[2]
tmp = tempfile.mkdtemp(prefix="cairn-web-it.")
state = os.path.join(tmp, "state")
procs = []
fails = []


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    fails.append(msg)


def note(msg):
    print("--- " + msg, flush=True)


def cc(*args, check=True, stdin=None):
    r = subprocess.run([collector, *args, "--state-dir", state], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise SystemExit(f"cairn-collector {' '.join(args)} failed ({r.returncode}): {r.stderr}")
    return r


def start(args, ready_re, log_name):
    log = open(os.path.join(tmp, log_name), "w+")
    p = subprocess.Popen([collector, *args], stdout=subprocess.DEVNULL, stderr=log)
    procs.append(p)
    for _ in range(200):
        log.seek(0)
        m = re.search(ready_re, log.read())
        if m:
            return p, m.group(1)
        if p.poll() is not None:
            break
        time.sleep(0.05)
    log.seek(0)
    raise SystemExit(f"{args[0]} did not start: {log.read()}")


def request(method, path, token=None, body=None, headers=None, port=None):
    c = http.client.HTTPConnection("127.0.0.1", port or web_port, timeout=30)
    h = dict(headers or {})
    if token:
        h["Authorization"] = "Bearer " + token
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data


def get_json(path, token, want=200):
    st, hd, data = request("GET", path, token)
    if st != want:
        fail(f"GET {path}: {st} (wanted {want}): {data[:300]!r}")
        return None, hd
    try:
        return json.loads(data), hd
    except ValueError:
        fail(f"GET {path}: not JSON: {data[:200]!r}")
        return None, hd


try:
    note("serve, and web on the same store")
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

    note("readers on four threads while serve ingests a 30-host estate")
    stop = threading.Event()
    errors, served = [], [0]

    def reader(path):
        while not stop.is_set():
            st, _, data = request("GET", path, viewer)
            if st != 200:
                errors.append((path, st, data[:200]))
            served[0] += 1

    readers = [threading.Thread(target=reader, args=(p,)) for p in
               ("/api/v1/hosts", "/api/v1/deps?level=app", "/api/v1/readiness", "/api/v1/agents")]
    for t in readers:
        t.start()
    send = subprocess.run([estate, "--state-dir", state, "--hosts", "30", "--days", "1", "--seed", "7",
                           "--send", addr, "--key", key], capture_output=True, text=True)
    time.sleep(1.5)  # serve's snapshot refresh (recompute_interval=1s)
    stop.set()
    for t in readers:
        t.join()
    if send.returncode:
        fail("cairn-estate --send: " + send.stderr[-500:])
    if errors:
        fail(f"{len(errors)} of {served[0]} reads during ingest failed: {errors[:3]}")
    elif served[0] < 8:
        fail(f"only {served[0]} reads during ingest")
    serve.terminate()
    serve.wait(timeout=30)
    cc("deps", "--fresh")  # a stored snapshot: the CLI and the API then read the same one

    def first_difference(a, b, where=""):
        if type(a) != type(b):
            return f"{where or '/'}: {type(a).__name__} vs {type(b).__name__}"
        if isinstance(a, dict):
            for k in sorted(set(a) | set(b)):
                if k not in a or k not in b:
                    return f"{where}/{k}: only in {'the API' if k in a else 'the CLI'}"
                d = first_difference(a[k], b[k], f"{where}/{k}")
                if d:
                    return d
            return ""
        if isinstance(a, list):
            if len(a) != len(b):
                return f"{where}: {len(a)} vs {len(b)} items"
            for i, (x, y) in enumerate(zip(a, b)):
                d = first_difference(x, y, f"{where}[{i}]")
                if d:
                    return d
            return ""
        return "" if a == b else f"{where}: {a!r} vs {b!r}"

    note("every endpoint is the CLI's --json document")
    pairs = [("hosts", ["hosts"]), ("agents", ["agents"]), ("apps", ["apps"]),
             ("deps", ["deps"]), ("deps?level=service", ["deps", "--level", "service"]),
             ("deps?level=app", ["deps", "--level", "app"]),
             ("deps?host=shop-app-01", ["deps", "--host", "shop-app-01"]),
             ("deps?app=shop&level=service", ["deps", "--app", "shop", "--level", "service"]),
             ("readiness", ["readiness"]), ("sizing", ["sizing"]), ("cost", ["cost"]),
             ("waves", ["plan", "waves"]), ("progress", ["progress"]),
             ("hosts/shop-db-01", ["host", "shop-db-01"]), ("apps/shop", ["apps", "show", "shop"]),
             ("hosts/" + json.loads(cc("hosts", "--json").stdout)[3]["id"],
              ["host", json.loads(cc("hosts", "--json").stdout)[3]["id"]]),
             ("readiness/shop-db-01", ["readiness", "shop-db-01"])]
    for path, cli in pairs:
        doc, _ = get_json("/api/v1/" + path, viewer)
        want = json.loads(cc(*cli, "--json").stdout)
        if doc is not None and doc != want:
            fail(f"/api/v1/{path} differs from `{' '.join(cli)} --json`: {first_difference(doc, want)}")
        again, _ = get_json("/api/v1/" + path, viewer)  # the second answer comes from the cache
        if again != doc:
            fail(f"/api/v1/{path} answered twice differs")
    app_level, _ = get_json("/api/v1/deps?level=app", viewer)
    names = {n["name"] for n in app_level["nodes"]} if app_level else set()
    # the applications by their members: a name may come from a snapshot
    # serve computed while the estate was still arriving (names are kept
    # stable across recomputation), so it is not always the hostname stem
    hosts = {h["id"]: h["hostname"] for h in json.loads(cc("hosts", "--json").stdout)}
    app_names = {a["name"] for a in json.loads(cc("apps", "--json").stdout)["apps"]
                 if not a["infrastructure"] and
                 any(hosts.get(h, "").split("-")[0] in ("shop", "crm", "billing")
                     for h in a["hosts"])}
    if len(app_names) < 3 or not app_names <= names:
        fail(f"deps?level=app nodes lack the applications {sorted(app_names)}: "
             f"{sorted(names)[:20]}")
    if app_level and not all(e["from"] != e["to"] for e in app_level["edges"]):
        fail("deps?level=app has an edge inside one application")

    note("tokens and roles")
    st, hd, data = request("GET", "/api/v1/hosts")
    if st != 401 or "www-authenticate" not in hd or "error" not in json.loads(data):
        fail(f"no token: {st} {data[:100]!r}")
    st, _, _ = request("GET", "/api/v1/hosts", "cairn_" + "0" * 64)
    if st != 401:
        fail(f"unknown token: {st}")
    st, _, _ = request("GET", "/api/v1/hosts", headers={"Authorization": "Basic dXNlcjpwdw=="})
    if st != 401:
        fail(f"Basic auth: {st}")
    st, _, data = request("GET", "/", None)
    if st != 200 or b"Sign in" not in data:
        fail(f"the login page needs no token: {st}")
    st, _, _ = request("GET", "/assets/d3.min.js")
    if st != 200:
        fail(f"d3 from node-d3: {st}")
    me, _ = get_json("/api/v1/whoami", operator)
    if not me or me.get("role") != "operator" or me.get("name") != "t-operator":
        fail(f"whoami: {me}")
    st, _, data = request("POST", "/api/v1/apps/shop/rename", viewer, b'{"name": "x"}')
    if st != 403:
        fail(f"viewer renames: {st} {data[:100]!r}")
    agent = json.loads(cc("agents", "--json").stdout)[0]["id"]
    st, _, _ = request("POST", f"/api/v1/agents/{agent}/revoke", operator, b"{}")
    if st != 403:
        fail(f"operator revokes an agent: {st}")

    note("bad input: 4xx with a JSON error, the server keeps serving")
    bad = [("GET", "/api/v1/deps?level=planet", None, 400), ("GET", "/api/v1/hosts?limit=abc", None, 400),
           ("GET", "/api/v1/hosts?limit=0", None, 400), ("GET", "/api/v1/hosts?colour=red", None, 400),
           ("GET", "/api/v1/deps?since=yesterday", None, 400), ("GET", "/api/v1/nothing", None, 404),
           ("GET", "/api/v1/hosts/no-such-host", None, 404), ("GET", "/api/v1/apps/no-such-app", None, 404),
           ("GET", "/api/v1/deps?app=shop&host=shop-db-01", None, 400),
           ("POST", "/api/v1/apps/shop/rename", b"{not json", 400),
           ("POST", "/api/v1/apps/shop/rename", b'["name"]', 400),
           ("POST", "/api/v1/apps/shop/rename", b'{"name": ""}', 400),
           ("POST", "/api/v1/apps/shop/rename", b'{"name": 7}', 400),
           ("POST", "/api/v1/migration/shop", b'{"state": "FLYING"}', 400),
           ("POST", "/api/v1/migration/shop", b'{"state": "IN_PROGRESS", "progress": 300}', 400),
           ("POST", "/api/v1/apps/shop/rename", b'{"name": "' + b"x" * 100000 + b'"}', 413),
           ("DELETE", "/api/v1/hosts", None, 405)]
    for method, path, body, want in bad:
        st, hd, data = request(method, path, operator, body)
        ok = st == want
        try:
            ok = ok and "error" in json.loads(data)
        except ValueError:
            ok = False
        if not ok:
            fail(f"{method} {path[:60]}: {st} (wanted {want} with a JSON error): {data[:120]!r}")
    st, _, _ = request("GET", "/api/v1/hosts", viewer, headers={f"X-Pad-{i}": "1" for i in range(80)})
    if st not in (431, 400, 413):
        fail(f"80 headers: {st}")
    st, _, _ = request("GET", "/api/v1/hosts", viewer, headers={"X-Big": "y" * 70000})
    if st < 400:
        fail(f"a 70 KB header: {st}")
    st, _, _ = request("GET", "/assets/../../etc/passwd", viewer)
    if st != 404:
        fail(f"asset path traversal: {st}")
    s = socket.create_connection(("127.0.0.1", web_port))
    s.sendall(b"GARBAGE\x00\xff\r\n\r\n")
    s.settimeout(10)
    try:
        s.recv(1000)
    except OSError:
        pass
    s.close()
    log = open(os.path.join(tmp, "web.log")).read()
    if "400" not in log or "level" not in log:
        fail("bad requests leave no log line")
    doc, _ = get_json("/api/v1/hosts", viewer)
    if doc is None or len(doc) < 30:
        fail("the server stopped serving after bad input")

    note("pagination and ETag")
    full, _ = get_json("/api/v1/hosts", viewer)
    st, hd, data = request("GET", "/api/v1/hosts?limit=7&offset=21", viewer)
    page = json.loads(data) if st == 200 else []
    if st != 200 or len(page) != 7 or hd.get("x-total-count") != str(len(full or [])) or \
            hd.get("x-next-offset") != "28":
        fail(f"hosts?limit=7&offset=21: {st} {len(page)} rows {hd.get('x-total-count')} {hd.get('x-next-offset')}")
    if full and page != full[21:28]:
        fail("a page is not the slice of the whole list")
    st, hd, _ = request("GET", "/api/v1/readiness", viewer)
    etag = hd.get("etag")
    st2, _, data2 = request("GET", "/api/v1/readiness", viewer, headers={"If-None-Match": etag or "x"})
    if not etag or st2 != 304 or data2:
        fail(f"ETag {etag}: If-None-Match gave {st2}")

    note("decisions from the API, as the CLI sees them")
    st, _, data = request("POST", "/api/v1/apps/shop/rename", operator, b'{"name": "webshop"}')
    if st != 200:
        fail(f"operator renames shop: {st} {data[:200]!r}")
    if " webshop " not in cc("apps").stdout:
        fail("the rename from the API is not in `apps`")
    st, hd2, _ = request("GET", "/api/v1/readiness", viewer, headers={"If-None-Match": etag or "x"})
    if st != 200:
        fail(f"the ETag did not change with the new snapshot: {st}")
    st, _, data = request("POST", "/api/v1/migration/webshop", operator,
                          b'{"state": "IN_PROGRESS", "progress": 40, "note": "cutover friday"}')
    if st != 200 or json.loads(data).get("updated_by") != "web:t-operator":
        fail(f"migration status: {st} {data[:200]!r}")
    hist = json.loads(cc("migrate", "history", "webshop", "--json").stdout)
    if not hist or hist[-1]["updated_by"] != "web:t-operator" or hist[-1]["note"] != "cutover friday":
        fail(f"migrate history does not show the API's status: {hist}")
    st, _, data = request("POST", f"/api/v1/agents/{agent}/revoke", admin, b"{}")
    if st != 200:
        fail(f"admin revokes an agent: {st} {data[:200]!r}")
    if json.loads(cc("agents", "--json").stdout)[0]["decided_by"] != "web:t-admin":
        fail("the revocation is not recorded as web:t-admin")

    note("token revoke: the token stops working at once")
    cc("token", "revoke", "t-viewer")
    st, _, _ = request("GET", "/api/v1/hosts", viewer)
    if st != 401:
        fail(f"a revoked token: {st}")
    lst = json.loads(cc("token", "list", "--json").stdout)
    if sorted(t["name"] for t in lst) != ["t-admin", "t-operator"]:
        fail(f"token list: {lst}")
    raw = open(os.path.join(state, "db", "data.mdb"), "rb").read()
    if any(tokens["operator"][6:] in json.dumps(t) for t in lst) or tokens["operator"].encode() in raw \
            or bytes.fromhex(tokens["operator"][6:]) in raw:
        fail("a token is stored or listed in clear")
    r = cc("token", "create", "t-admin", "--role", "admin", check=False)
    if r.returncode != 2 or "exists" not in r.stderr:
        fail(f"a second token of one name: {r.returncode} {r.stderr}")

    note("listen rules: HTTPS off loopback, key file permissions")
    r = subprocess.run([collector, "web", "--state-dir", state, "-o", "web_listen=0.0.0.0:0"],
                       capture_output=True, text=True, timeout=20)
    if r.returncode != 2 or "HTTPS" not in r.stderr:
        fail(f"a non-loopback address without TLS: {r.returncode} {r.stderr}")
    crt, keyf = os.path.join(tmp, "web.crt"), os.path.join(tmp, "web.key")
    if shutil.which("openssl"):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-keyout", keyf, "-out", crt],
                       capture_output=True, check=True)
        os.chmod(keyf, 0o644)
        r = subprocess.run([collector, "web", "--state-dir", state, "-o", "web_listen=0.0.0.0:0",
                            "-o", "web_tls_cert=" + crt, "-o", "web_tls_key=" + keyf],
                           capture_output=True, text=True, timeout=20)
        if r.returncode != 2 or "chmod 600" not in r.stderr:
            fail(f"a world-readable TLS key: {r.returncode} {r.stderr}")
        os.chmod(keyf, 0o600)
        tls, turl = start(["web", "--state-dir", state, "-o", "web_listen=0.0.0.0:0",
                           "-o", "web_tls_cert=" + crt, "-o", "web_tls_key=" + keyf],
                          r"API on (\S+) ", "web-tls.log")
        tport = int(re.search(r":(\d+)/$", turl).group(1))
        if not turl.startswith("https://"):
            fail(f"TLS console URL {turl}")
        import ssl
        ctx = ssl.create_default_context(cafile=crt)
        ctx.check_hostname = False
        c = http.client.HTTPSConnection("127.0.0.1", tport, context=ctx, timeout=20)
        c.request("GET", "/api/v1/whoami", headers={"Authorization": "Bearer " + admin})
        rr = c.getresponse()
        if rr.status != 200 or json.loads(rr.read()).get("role") != "admin":
            fail(f"whoami over HTTPS: {rr.status}")
        c.close()
        tls.terminate()
        tls.wait(timeout=20)
    else:
        print("(openssl not installed: TLS not exercised)")

    note("graph exports: GraphML, Cytoscape.js, edges CSV, DOT at application level")
    import csv
    import io
    import xml.etree.ElementTree as ET
    ns = "{http://graphml.graphdrawing.org/xmlns}"
    host_doc = json.loads(cc("deps", "--json").stdout)
    no_infra = [n for n in host_doc["nodes"] if not n.get("infrastructure")]
    g = ET.fromstring(cc("export", "graphml").stdout)
    gnodes = g.findall(f"{ns}graph/{ns}node")
    if len(gnodes) != len(no_infra):
        fail(f"graphml has {len(gnodes)} nodes, the map {len(no_infra)} without infrastructure")
    g = ET.fromstring(cc("export", "graphml", "--with-infra").stdout)
    if len(g.findall(f"{ns}graph/{ns}node")) != len(host_doc["nodes"]) or \
            len(g.findall(f"{ns}graph/{ns}edge")) != len(host_doc["edges"]):
        fail("graphml --with-infra is not the whole host-level map")
    cy = json.loads(cc("export", "cytoscape", "--level", "app", "--with-infra").stdout)
    app_doc = json.loads(cc("deps", "--level", "app", "--json").stdout)
    if len(cy["elements"]["nodes"]) != len(app_doc["nodes"]) or \
            len(cy["elements"]["edges"]) != len(app_doc["edges"]):
        fail("cytoscape --level app differs from deps --level app")
    rows = list(csv.DictReader(io.StringIO(cc("export", "edges-csv", "--level", "service", "--app",
                                              "webshop", "--with-infra").stdout)))
    svc = json.loads(cc("deps", "--level", "service", "--app", "webshop", "--json").stdout)
    if len(rows) != len(svc["edges"]) or not rows or not all(r["from_name"] and r["to_name"] for r in rows):
        fail(f"edges-csv --app webshop: {len(rows)} rows, deps {len(svc['edges'])}")
    dot_app = cc("export", "dot", "--level", "app").stdout
    if not dot_app.startswith("digraph") or "webshop" not in dot_app or "shared " in dot_app:
        fail("export dot --level app (shared infrastructure left out by default)")
    if "shared " not in cc("export", "dot", "--level", "app", "--with-infra").stdout:
        fail("export dot --level app --with-infra has no shared infrastructure")
    if shutil.which("dot"):
        r = subprocess.run(["dot", "-Tsvg"], input=dot_app, capture_output=True, text=True)
        if r.returncode:
            fail("dot rejects export dot --level app: " + r.stderr[:200])

    note("web_allow_loopback = true: loopback needs no token (default: it does)")
    lo, lurl = start(["web", "--state-dir", state, "-o", "web_listen=127.0.0.1:0",
                      "-o", "web_allow_loopback=true"], r"API on (\S+) ", "web-lo.log")
    lport = int(re.search(r":(\d+)/$", lurl).group(1))
    st, _, data = request("GET", "/api/v1/whoami", port=lport)
    if st != 200 or json.loads(data).get("name") != "loopback":
        fail(f"web_allow_loopback: {st} {data[:100]!r}")
    st, _, _ = request("GET", "/api/v1/whoami", "cairn_" + "1" * 64, port=lport)
    if st != 401:
        fail(f"web_allow_loopback still checks a token that is sent: {st}")
    lo.terminate()
    lo.wait(timeout=20)

    note("SIGTERM stops the console")
    web.terminate()
    if web.wait(timeout=20) != 0:
        fail(f"web exited {web.returncode} on SIGTERM")
finally:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    shutil.rmtree(tmp, ignore_errors=True)

if fails:
    print(f"{len(fails)} failures", file=sys.stderr)
    sys.exit(1)
print("web API: all checks passed")
