#!/bin/sh
# eBPF connection capture end to end, with real short-lived traffic:
#   A  loopback TCP: 200 connections (300 bytes up, 700 down, each closed
#      well within one sample interval) counted exactly, with the client and
#      server processes, bytes exact
#   B  two network namespaces joined by a veth pair (addresses only on that
#      pair): 150 connections, the same assertions across namespaces
#   C  UDP request/response over unconnected sockets: 300 exchanges, both
#      directions counted, both processes named
#   D  the capture unavailable at run time (CAP_BPF, CAP_PERFMON and
#      CAP_SYS_ADMIN dropped with setpriv): the agent says "poll (reason: no
#      CAP_BPF...)" and still reports sockets; nothing is attached afterwards
# Needs root and kernel BTF (exit 77 = skipped otherwise; CI runs as root).
# Usage: capture.sh AGENT TRAFFIC.py
set -u
agent=$1
traffic=$2
if [ "$(id -u)" -ne 0 ]; then
	echo "capture.sh: not root: skipped (CI runs it as root)"
	exit 77
fi
if [ ! -r /sys/kernel/btf/vmlinux ]; then
	echo "capture.sh: no kernel BTF (/sys/kernel/btf/vmlinux): skipped"
	exit 77
fi
tmp=$(mktemp -d /tmp/cairn-it-capture-XXXXXX)
nsa=cairn-it-a-$$
nsb=cairn-it-b-$$
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	ip netns del "$nsa" 2>/dev/null
	ip netns del "$nsb" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
fail() {
	echo "FAIL: $*" >&2
	fails=$((fails + 1))
}
note() { echo "--- $*"; }

probe=$("$agent" collect --only sock --json 2>/dev/null |
	python3 -c 'import json,sys; print(json.load(sys.stdin).get("capture",""))')
case $probe in
*"built without eBPF"*)
	echo "capture.sh: this cairn-agent was built without eBPF ($probe): skipped"
	exit 77 ;;
ebpf*) ;;
*)
	echo "FAIL: as root with BTF the capture should load; collect says: '$probe'" >&2
	exit 1 ;;
esac
note "capture probed: $probe"

# Free ports (the kernel picks them).
ports=$(python3 -c '
import socket
out = []
for kind in (socket.SOCK_STREAM, socket.SOCK_STREAM, socket.SOCK_DGRAM):
    s = socket.socket(socket.AF_INET, kind); s.bind(("127.0.0.1", 0))
    out.append(str(s.getsockname()[1])); s.close()
print(" ".join(out))')
set -- $ports
tport=$1
nport=$2
uport=$3

start_server() { # READYFILE CMD...: starts CMD in the background, waits for it
	rf=$1
	shift
	"$@" "$rf" >"$rf.log" 2>&1 &
	pids="$pids $!"
	i=0
	while [ ! -s "$rf" ]; do
		i=$((i + 1))
		if [ $i -gt 50 ]; then
			fail "server did not start: $* ($(cat "$rf.log"))"
			return 1
		fi
		sleep 0.1
	done
	cat "$rf"
}

# --- network namespaces: 10.213.N.1 (a) <-> 10.213.N.2 (b) on a veth pair only
net=$(( ($$ % 200) + 20 ))
ip netns add "$nsa" && ip netns add "$nsb" &&
	ip link add "cva$$" type veth peer name "cvb$$" &&
	ip link set "cva$$" netns "$nsa" && ip link set "cvb$$" netns "$nsb" &&
	ip -n "$nsa" addr add "10.213.$net.1/24" dev "cva$$" &&
	ip -n "$nsb" addr add "10.213.$net.2/24" dev "cvb$$" &&
	ip -n "$nsa" link set "cva$$" up && ip -n "$nsb" link set "cvb$$" up &&
	ip -n "$nsa" link set lo up && ip -n "$nsb" link set lo up ||
	{ fail "cannot set up the namespaces and the veth pair"; exit 1; }

tsrv=$(start_server "$tmp/tcp.ready" python3 "$traffic" tcp-server 127.0.0.1 "$tport" 300 700) || exit 1
nsrv=$(start_server "$tmp/ns.ready" ip netns exec "$nsb" python3 "$traffic" tcp-server \
	"10.213.$net.2" "$nport" 300 700) || exit 1
usrv=$(start_server "$tmp/udp.ready" python3 "$traffic" udp-server 127.0.0.1 "$uport" 64 200) || exit 1

# Ids of the capture's programs loaded now (ids are never reused soon, so
# other agents on the machine do not confuse the leak check at the end).
prog_ids() {
	bpftool prog show 2>/dev/null | sed -n 's/^\([0-9]*\): .* name \(tcp_state_\|udp_xmit_\|udp_send_\|udp6_send_\).*/\1/p' | sort
}
ids_before=$(prog_ids)

# --- one capture window around all the traffic
note "A-C: collect --only sock --window 6s while the clients run"
"$agent" collect --only sock --window 6s --interval 1000 --json >"$tmp/win.json" 2>"$tmp/win.err" &
apid=$!
pids="$pids $apid"
i=0
until grep -q 'connection capture: ebpf' "$tmp/win.err" 2>/dev/null; do
	i=$((i + 1))
	[ $i -gt 50 ] && { fail "the agent did not start its capture: $(cat "$tmp/win.err")"; break; }
	sleep 0.1
done
ids_ours=$(prog_ids | comm -13 "$(printf '%s\n' "$ids_before" >"$tmp/ids0"; echo "$tmp/ids0")" -)
[ -n "$ids_ours" ] || fail "no capture program is loaded while the agent runs"
python3 "$traffic" tcp-client 127.0.0.1 "$tport" 200 300 700 &
tcli=$!
ip netns exec "$nsa" python3 "$traffic" tcp-client "10.213.$net.2" "$nport" 150 300 700 &
ncli=$!
python3 "$traffic" udp-client 127.0.0.1 "$uport" 300 64 200 &
ucli=$!
wait $tcli || fail "loopback TCP client failed"
wait $ncli || fail "namespace TCP client failed"
wait $ucli || fail "UDP client failed"
wait $apid || fail "collect --window failed: $(cat "$tmp/win.err")"

# check EDGE_FILTER EXPECT...: python assertions over the one matching edge
check() {
	python3 - "$tmp/win.json" "$@" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
proto, port, cpid, spid, n, up, down = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), \
    int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8])
edges = [e for e in doc["connections"]["edges"]
         if e["protocol"] == proto and e["remote_port"] == port and e["direction"] == "LOCAL"]
bad = []
if len(edges) != 1:
    print("expected one LOCAL %s edge to port %d, got %d: %s" % (proto, port, len(edges),
          json.dumps(edges)[:1500]))
    sys.exit(1)
e = edges[0]
def want(cond, what):
    if not cond:
        bad.append(what)
want(e["pid"] == cpid, "client pid %d, want %d" % (e["pid"], cpid))
want(e["peer_pid"] == spid, "server pid %d, want %d" % (e["peer_pid"], spid))
want("capture_traffic.py" in e["identity"], "client identity %r" % e["identity"])
want("capture_traffic.py" in e["peer_identity"], "server identity %r" % e["peer_identity"])
if proto == "TCP":
    for k in ("connections_opened", "connections_closed", "short_lived"):
        want(e[k] == n, "%s %d, want %d" % (k, e[k], n))
    want(e["duration_max_ms"] < 1000, "duration_max_ms %d" % e["duration_max_ms"])
else:
    want(e["datagrams_sent"] == n, "datagrams_sent %d, want %d" % (e["datagrams_sent"], n))
    want(e["datagrams_received"] == n,
         "datagrams_received %d, want %d" % (e["datagrams_received"], n))
for k, v in (("bytes_sent", n * up), ("bytes_received", n * down)):
    want(abs(e[k] - v) <= v / 100, "%s %d, want %d within 1%%" % (k, e[k], v))
if bad:
    print("; ".join(bad) + "\nedge: " + json.dumps(e))
    sys.exit(1)
print("%s port %d: %d x, pid %d -> %d, bytes %d/%d" % (proto, port, n, cpid, spid,
      e["bytes_sent"], e["bytes_received"]))
EOF
}
health=$(python3 -c 'import json,sys; h=json.load(open(sys.argv[1]))["health"]; print(h["capture"], h["capture_ringbuf_drops"], h["capture_map_full"])' "$tmp/win.json")
note "health: $health"
case $health in "ebpf "*" 0 0") ;; *) fail "capture health: $health" ;; esac
out=$(check TCP "$tport" "$tcli" "$tsrv" 200 300 700) && note "A $out" || fail "A loopback TCP: $out"
out=$(check TCP "$nport" "$ncli" "$nsrv" 150 300 700) && note "B $out" || fail "B netns TCP: $out"
out=$(check UDP "$uport" "$ucli" "$usrv" 300 64 200) && note "C $out" || fail "C UDP: $out"

# --- D: no capability, no capture: the fallback says why
note "D: collect with CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN dropped"
setpriv --inh-caps=-all --bounding-set=-bpf,-perfmon,-sys_admin -- \
	"$agent" collect --only sock --window 2s --json >"$tmp/nocap.json" 2>"$tmp/nocap.err" &
apid=$!
sleep 0.5
python3 "$traffic" tcp-client 127.0.0.1 "$tport" 20 300 700 || fail "D client failed"
wait $apid || fail "collect without capabilities failed: $(cat "$tmp/nocap.err")"
python3 - "$tmp/nocap.json" "$tport" <<'EOF' || fail "D fallback"
import json, sys
doc = json.load(open(sys.argv[1]))
cap, port = doc.get("capture", ""), int(sys.argv[2])
if not cap.startswith("poll (reason: no CAP_BPF/CAP_PERFMON"):
    sys.exit("capture without CAP_BPF: %r" % cap)
if doc["health"]["capture_ebpf"] or doc["health"]["capture"] != cap:
    sys.exit("health disagrees: %r" % doc["health"])
counted = [e for e in doc["connections"]["edges"] if e["connections_opened"]]
if counted:
    sys.exit("polling cannot count connections, yet: %s" % json.dumps(counted)[:400])
if not any(l["port"] == port for l in doc["listeners"]["listeners"]):
    sys.exit("the samples still work: listener %d missing" % port)
print("--- D " + cap)
EOF
prog_ids >"$tmp/ids1"
left=$(printf '%s\n' $ids_ours | sort | comm -12 - "$tmp/ids1" | paste -sd' ' -)
[ -z "$left" ] && note "programs $(printf '%s ' $ids_ours)detached after exit" ||
	fail "BPF programs left loaded after the agent exited: ids $left"

if [ $fails -ne 0 ]; then
	echo "capture: $fails failure(s)"
	exit 1
fi
echo "capture: all passed"
