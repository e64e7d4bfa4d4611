#!/bin/sh
# The agent on "Linux 3.10" (RHEL/CentOS 7): every system call added after
# 3.10 answers ENOSYS (cairn-kernel310). A live `collect` must still report
# every collector without errors (sockets through sock_diag, not a fallback),
# and `run` must stream windows that the collector stores.
# Usage: kernel310.sh KERNEL310 AGENT COLLECTOR
set -u
k310=$1
agent=$2
collector=$3
tmp=$(mktemp -d /tmp/cairn-it-k310-XXXXXX)
pids=
cleanup() {
	for p in $pids; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
fail() {
	echo "FAIL: $*" >&2
	fails=$((fails + 1))
}
note() { echo "--- $*"; }
wait_for() { # SECONDS DESCRIPTION CMD...
	limit=$1 what=$2
	shift 2
	i=0
	while ! "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -gt $((limit * 5)) ] && { fail "timed out after ${limit}s waiting for: $what"; return 1; }
		sleep 0.2
	done
}

"$k310" true || { echo "SKIP: cannot install the 3.10 filter here"; exit 77; }
n=$("$k310" --list | wc -l)
note "system calls refused: nr >= 314 ($n named, newest $("$k310" --list | tail -n1 | cut -f2,3))"

# A listener and a connection of our own, so the socket table is not empty.
python3 -c '
import socket, sys, time
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(4)
c = socket.create_connection(l.getsockname()); a, _ = l.accept()
print(l.getsockname()[1], flush=True)
c.sendall(b"x" * 100000); a.recv(65536)
time.sleep(120)
' >"$tmp/port" &
pids="$pids $!"
wait_for 10 "test listener" test -s "$tmp/port"
lport=$(cat "$tmp/port")

note "collect under the filter"
if "$k310" "$agent" collect --json --interval 200 >"$tmp/collect.json" 2>"$tmp/collect.err"; then
	python3 - "$tmp/collect.json" "$lport" <<'PY' || fail "collect under 3.10: see above"
import json, sys
d = json.load(open(sys.argv[1]))
port = int(sys.argv[2])
stats = {s["collector"]: s for s in d["health"]["stats"]}
bad = False
for name in ("host", "perf", "proc", "sock", "pkg"):
    s = stats.get(name)
    # A process ending mid-scan is an error of a busy host, not of the kernel.
    transient = s and s["errors"] and "vanished" in s["last_error"]
    if not s or s["runs"] == 0 or s["items"] == 0 or (s["errors"] and not transient):
        print("collector %s: %s" % (name, s)); bad = True
lst = [l for l in d.get("listeners", {}).get("listeners", []) if l["port"] == port]
if not lst:
    print("listener on port %d not reported: %s" % (port, list(d.keys()))); bad = True
sys.exit(1 if bad else 0)
PY
else
	fail "collect under 3.10 exited $?: $(head -c 600 "$tmp/collect.err")"
fi

note "run under the filter, streaming to a collector"
coll=$tmp/coll
key=$("$collector" key create -q --state-dir "$coll") || { echo "collector key show failed" >&2; exit 1; }
"$collector" serve --state-dir "$coll" --listen 127.0.0.1:0 --accept-any -o commit_interval=5ms \
	2>"$tmp/collector.log" >/dev/null &
pids="$pids $!"
wait_for 20 "collector listening" grep -q 'listening on 127.0.0.1:' "$tmp/collector.log" ||
	{ cat "$tmp/collector.log" >&2; exit 1; }
port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$tmp/collector.log" | tail -1)
"$k310" "$agent" run --state-dir "$tmp/agent" -o collector="127.0.0.1:$port" -o collector_key="$key" \
	-o sample_interval=1s -o report_interval=1s 2>"$tmp/agent.log" >/dev/null &
apid=$!
pids="$pids $apid"
stored() {
	n=$("$collector" agents --json --state-dir "$coll" 2>/dev/null |
		sed -n 's/^ *"batches_stored": *\([0-9]*\).*/\1/p' | head -1)
	[ -n "$n" ] && [ "$n" -ge "$1" ]
}
wait_for 30 "3 batches stored from the 3.10 agent" stored 3 || tail -n 30 "$tmp/agent.log" >&2
"$agent" status --state-dir "$tmp/agent" >"$tmp/status" 2>&1
grep -q '^agent: *running' "$tmp/status" || fail "status: $(cat "$tmp/status")"
kill -TERM "$apid"
wait "$apid"
rc=$?
[ "$rc" -eq 0 ] || fail "agent under 3.10 exit code $rc on SIGTERM: $(tail -n 20 "$tmp/agent.log")"
grep -i 'error' "$tmp/agent.log" | grep -v 'errors 0' | head -n 5 >"$tmp/errors"
[ -s "$tmp/errors" ] && fail "agent logged errors under 3.10: $(cat "$tmp/errors")"

[ "$fails" -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "kernel 3.10 syscall floor: collect and run ok"
