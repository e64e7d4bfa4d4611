#!/usr/bin/env python3
"""Recall and cost of the agent's eBPF connection capture (docs/benchmarks.md
"Connection capture"). Needs root and kernel BTF; run with a release build:

  tests/bench/capture_bench.py build/release/agent/cairn-agent [TCP_N] [UDP_N]
  tests/bench/capture_bench.py AGENT rate CONNRATE RATE SECONDS [RATE...]

rate: for each RATE, one window at the default 15 s sample interval around
SECONDS of cairn-connrate (tests/bench/connrate.c: short loopback TCP
connections at a steady RATE per second, one client thread per 5,000/s, at least 4); prints the
connections counted against those made, lost events (ring buffer drops, map
full), the agent's CPU as a share of one core over the window and its max RSS.

Per scenario one `cairn-agent collect --only sock --window DUR --json` runs
while the traffic goes (tests/integration/capture_traffic.py):
  loopback  TCP_N connections of 1-20 ms (20 clients in parallel) to a server
            on 127.0.0.1
  netns     TCP_N connections of 1-20 ms from one network namespace to another
            over a veth pair (10.213.250.1 -> .2, addresses on that pair only)
  udp       UDP_N request/response exchanges over unconnected sockets
  idle      the same window without traffic (the agent's own sampling cost)
Recall = connections (datagrams) counted on the edge / sent; processes =
both ends named with the right pids; bytes = counted / sent. CPU = the
agent's user+system time minus the idle run's, per event read (TCP: open and
close; UDP: per datagram counted); kernel = the BPF programs' run time per
run (kernel.bpf_stats_enabled, restored afterwards)."""
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TRAFFIC = os.path.join(HERE, "..", "integration", "capture_traffic.py")
CLIENTS = 20
REQ, RESP = 300, 700


def sh(*cmd, check=True):
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


def free_port(kind):
    import socket
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start_server(prefix, mode, host, port, req, resp, tmp):
    rf = os.path.join(tmp, "%s-%d.ready" % (mode, port))
    p = subprocess.Popen(prefix + ["python3", TRAFFIC, mode, host, str(port), str(req), str(resp), rf])
    for _ in range(100):
        if os.path.exists(rf):
            return p, int(open(rf).read())
        time.sleep(0.05)
    raise SystemExit("server did not start: %s %s:%d" % (mode, host, port))


def bpf_prog_stats():
    out = {}
    try:
        for p in json.loads(sh("bpftool", "-j", "prog", "show").stdout):
            name = p.get("name", "")
            if name.startswith(("tcp_state_", "udp_xmit_", "udp_send_", "udp6_send_")):
                out[p["id"]] = (p.get("run_time_ns", 0), p.get("run_cnt", 0))
    except (OSError, ValueError, subprocess.CalledProcessError):
        pass
    return out


def run_window(agent, seconds, clients):
    return run_window_interval(agent, seconds, clients, 1000)


def run_window_interval(agent, seconds, clients, interval_ms):
    """Runs the agent for `seconds` with the client commands started once its
    capture is up; returns (document, agent CPU seconds, max RSS KiB, BPF ns,
    BPF runs)."""
    err = open("/tmp/cairn-capture-bench.err", "w+")
    a = subprocess.Popen([agent, "collect", "--only", "sock", "--window", "%ds" % seconds,
                          "--interval", str(interval_ms), "--json"], stdout=subprocess.PIPE,
                         stderr=err, text=True)
    for _ in range(100):
        err.seek(0)
        if "connection capture:" in err.read():
            break
        time.sleep(0.05)
    stats0 = None
    procs = []
    for _ in range(100):
        stats0 = bpf_prog_stats()
        if stats0:
            break
        time.sleep(0.02)
    for c in clients:
        procs.append(subprocess.Popen(c))
    for p in procs:
        if p.wait() != 0:
            raise SystemExit("client failed: %s" % " ".join(p.args))
    stats1 = bpf_prog_stats()
    out = a.stdout.read()
    _, status, ru = os.wait4(a.pid, 0)  # the agent's own CPU, not the clients'
    a.returncode = 0
    if status != 0:
        err.seek(0)
        raise SystemExit("agent failed: " + err.read())
    rss_kib = ru.ru_maxrss
    ns = sum(stats1.get(i, (0, 0))[0] - v[0] for i, v in stats0.items())
    runs = sum(stats1.get(i, (0, 0))[1] - v[1] for i, v in stats0.items())
    return json.loads(out), ru.ru_utime + ru.ru_stime, rss_kib, ns, runs


def rate_main(agent, connrate, seconds, rates):
    """Sustained-rate windows: counted vs made, drops, CPU share, RSS."""
    window = seconds + 6
    _, idle_cpu, idle_rss, _, _ = run_window_interval(agent, window, [], 15000)
    print("load average: %s" % open("/proc/loadavg").read().strip())
    print("window %d s at the default 15 s sample interval; idle window: agent CPU %.3f s "
          "(%.2f %% of a core), max RSS %d KiB" % (window, idle_cpu, 100.0 * idle_cpu / window,
                                                  idle_rss))
    for rate in rates:
        out = "/tmp/cairn-connrate-%d.json" % os.getpid()
        threads = max(4, rate // 5000)
        client = ["sh", "-c", "sleep 2; exec %s %d %d %d >%s" % (connrate, rate, seconds, threads, out)]
        doc, cpu, rss, ns, runs = run_window_interval(agent, window, [client], 15000)
        made = json.load(open(out))
        os.unlink(out)
        es = edge_for(doc, "TCP", made["port"])
        h = doc["health"]
        counted = sum(e["connections_closed"] for e in es)
        lost = h["capture_ringbuf_drops"] + h["capture_map_full"]
        # the client's last connection wakes its server's accept: one more than it reports
        print("rate %6d/s: made %7d (%.0f/s reached) counted %7d (%.2f %%)  lost events %d "
              "(ring buffer %d, map full %d)  agent CPU %.3f s = %.2f %% of a core "
              "(%.2f %% over idle)  max RSS %d KiB  kernel %.2f us/run" % (
                  rate, made["connections"], made["rate"], counted,
                  100.0 * counted / (made["connections"] + 1), lost, h["capture_ringbuf_drops"],
                  h["capture_map_full"], cpu, 100.0 * cpu / window,
                  100.0 * max(cpu - idle_cpu, 0) / window, rss, ns / runs / 1000.0 if runs else 0))


def edge_for(doc, proto, port):
    return [e for e in doc["connections"]["edges"]
            if e["protocol"] == proto and e["remote_port"] == port and e["direction"] == "LOCAL"]


def main():
    agent = sys.argv[1]
    if len(sys.argv) > 5 and sys.argv[2] == "rate":
        if os.geteuid() != 0:
            raise SystemExit("needs root (BPF)")
        stats_old = open("/proc/sys/kernel/bpf_stats_enabled").read().strip()
        try:
            open("/proc/sys/kernel/bpf_stats_enabled", "w").write("1")
            rate_main(agent, sys.argv[3], int(sys.argv[5]), [int(r) for r in [sys.argv[4]] + sys.argv[6:]])
        finally:
            open("/proc/sys/kernel/bpf_stats_enabled", "w").write(stats_old)
        return
    tcp_n = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    udp_n = int(sys.argv[3]) if len(sys.argv) > 3 else 5000
    if os.geteuid() != 0:
        raise SystemExit("needs root (BPF, network namespaces)")
    tmp = "/tmp/cairn-capture-bench-%d" % os.getpid()
    os.makedirs(tmp, exist_ok=True)
    nsa, nsb = "cairn-bench-a-%d" % os.getpid(), "cairn-bench-b-%d" % os.getpid()
    stats_old = open("/proc/sys/kernel/bpf_stats_enabled").read().strip()
    servers = []
    try:
        open("/proc/sys/kernel/bpf_stats_enabled", "w").write("1")
        for cmd in (["ip", "netns", "add", nsa], ["ip", "netns", "add", nsb],
                    ["ip", "link", "add", "cba%d" % os.getpid(), "type", "veth", "peer", "name",
                     "cbb%d" % os.getpid()],
                    ["ip", "link", "set", "cba%d" % os.getpid(), "netns", nsa],
                    ["ip", "link", "set", "cbb%d" % os.getpid(), "netns", nsb],
                    ["ip", "-n", nsa, "addr", "add", "10.213.250.1/24", "dev", "cba%d" % os.getpid()],
                    ["ip", "-n", nsb, "addr", "add", "10.213.250.2/24", "dev", "cbb%d" % os.getpid()],
                    ["ip", "-n", nsa, "link", "set", "cba%d" % os.getpid(), "up"],
                    ["ip", "-n", nsb, "link", "set", "cbb%d" % os.getpid(), "up"],
                    ["ip", "-n", nsa, "link", "set", "lo", "up"],
                    ["ip", "-n", nsb, "link", "set", "lo", "up"]):
            sh(*cmd)
        tport, nport = free_port(1), free_port(1)
        uport = free_port(2)
        s1, tsrv = start_server([], "tcp-server", "127.0.0.1", tport, REQ, RESP, tmp)
        s2, nsrv = start_server(["ip", "netns", "exec", nsb], "tcp-server", "10.213.250.2", nport,
                                REQ, RESP, tmp)
        s3, usrv = start_server([], "udp-server", "127.0.0.1", uport, 64, 200, tmp)
        servers = [s1, s2, s3]
        per = tcp_n // CLIENTS
        window = 12 + tcp_n * 11 // 1000 // CLIENTS  # 10.5 ms average hold, 20 in parallel
        rows = []
        _, idle_cpu, idle_rss, _, _ = run_window(agent, window, [])
        for name, prefix, host, port, srv in (
                ("loopback", [], "127.0.0.1", tport, tsrv),
                ("netns", ["ip", "netns", "exec", nsa], "10.213.250.2", nport, nsrv)):
            clients = [prefix + ["python3", TRAFFIC, "tcp-client", host, str(port), str(per), str(REQ),
                                 str(RESP), "1-20"] for _ in range(CLIENTS)]
            doc, cpu, rss, ns, runs = run_window(agent, window, clients)
            rows.append((name, doc, port, srv, per * CLIENTS, ns, runs, cpu, rss))
        clients = [["python3", TRAFFIC, "udp-client", "127.0.0.1", str(uport), str(udp_n), "64", "200"]]
        doc, cpu, rss, ns, runs = run_window(agent, window, clients)
        rows.append(("udp", doc, uport, usrv, udp_n, ns, runs, cpu, rss))
    finally:
        for s in servers:
            s.kill()
        sh("ip", "netns", "del", nsa, check=False)
        sh("ip", "netns", "del", nsb, check=False)
        open("/proc/sys/kernel/bpf_stats_enabled", "w").write(stats_old)
    print("load average: %s" % open("/proc/loadavg").read().strip())
    print("window %d s; idle window: agent CPU %.3f s, max RSS %d KiB" % (window, idle_cpu, idle_rss))
    for name, doc, port, srv, sent, ns, runs, cpu, rss in rows:
        proto = "UDP" if name == "udp" else "TCP"
        es = edge_for(doc, proto, port)
        h = doc["health"]
        counted = sum(e["datagrams_sent"] if proto == "UDP" else e["connections_closed"] for e in es)
        named = sum(e["datagrams_sent"] if proto == "UDP" else e["connections_closed"]
                    for e in es if e["peer_pid"] == srv and e["pid"] > 0
                    and "capture_traffic.py" in e["identity"])
        up = sum(e["bytes_sent"] for e in es)
        want_up = sent * (64 if proto == "UDP" else REQ)
        events = h["capture_events"] if proto == "TCP" else h["capture_udp_datagrams"]
        print("%-8s sent %6d  counted %6d (recall %.2f %%, processes right %.2f %%)  bytes up %.3f %% "
              " edges %d  lost %d/%d  events %d  kernel %.2f us/run  (%s)" % (
                  name, sent, counted, 100.0 * counted / sent, 100.0 * named / sent,
                  100.0 * up / want_up if want_up else 0, len(es), h["capture_ringbuf_drops"],
                  h["capture_map_full"], events, ns / runs / 1000.0 if runs else 0, h["capture"]))
        extra = max(cpu - idle_cpu, 0.0)
        print("         kernel: %d program runs, %.2f us per %s (all runs of the hooks, other "
              "traffic on the machine included); kernel + reader %.2f us per event" % (
                  runs, ns / 1000.0 / sent, "datagram" if proto == "UDP" else "connection",
                  (ns / 1000.0 + h["capture_cpu_us"]) / events if events else 0))
        print("         reader+aggregation %.3f ms = %.2f us per event; agent CPU %.3f s (%.3f s "
              "over idle: sampling the extra sockets too); max RSS %d KiB" % (
                  h["capture_cpu_us"] / 1000.0, h["capture_cpu_us"] / events if events else 0,
                  cpu, extra, rss))


if __name__ == "__main__":
    main()
