#!/bin/sh
# The agent daemon as an operator runs it, against the real collector on
# loopback, with 1 s intervals:
#   A  no collector: windows go to the spool, `status` (text and --json)
#      while running, SIGHUP reload, SIGTERM closes the window and exits 0 fast
#   B  collector down for several windows, then up: the spool drains, every
#      seq stored exactly once
#   C  collector down long enough for the spool (1 MiB) to overflow: oldest
#      batches dropped, the collector receives a Gap for them; stored + gaps
#      account for every seq
#   D  agent killed with -9 while streaming, then restarted: nothing lost,
#      nothing stored twice
#   E  IPv6 collector address, sd_notify
#   F  status exit codes 0/4/3; a spool cut to half is moved aside, reported
#      as a SPOOL_DAMAGED gap, and the agent delivers again
#   G  two agents with one copied state dir: a conflict, counted by the
#      collector; the refused agent keeps its batches and exits 4 in status
# Usage: agent_run.sh AGENT COLLECTOR
set -u
agent=$1
collector=$2
tmp=$(mktemp -d /tmp/cairn-it-agent-XXXXXX)
apid=
cpid=
cleanup() {
	[ -n "$apid" ] && kill -9 "$apid" 2>/dev/null
	[ -n "$cpid" ] && kill -9 "$cpid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
fail() {
	echo "FAIL: $*" >&2
	fails=$((fails + 1))
}
note() { echo "--- $*"; }

# jget KEY FILE: the first "KEY": value in pretty-printed JSON.
jget() {
	sed -n "s/^ *\"$1\": *\"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" "$2" | head -1
}

# wait_for SECONDS DESCRIPTION CMD...: polls CMD every 0.2 s.
wait_for() {
	limit=$1
	what=$2
	shift 2
	i=0
	while ! "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt $((limit * 5)) ]; then
			fail "timed out after ${limit}s waiting for: $what"
			return 1
		fi
		sleep 0.2
	done
	return 0
}

nstarts=0
start_collector() { # LISTEN
	nstarts=$((nstarts + 1))
	clog=$tmp/collector-$nstarts.log
	"$collector" serve --state-dir "$coll" --listen "$1" --accept-any \
		-o commit_interval=5ms 2>"$clog" >/dev/null &
	cpid=$!
	want="listening on $1 "
	[ "${1%:0}" != "$1" ] && want="listening on ${1%:0}:"
	wait_for 20 "collector $want" grep -q "$want" "$clog" ||
		{ cat "$clog" >&2; exit 1; }
}

stop_collector() {
	kill -TERM "$cpid" 2>/dev/null
	wait "$cpid" 2>/dev/null
	cpid=
}

start_agent() { # STATE_DIR LOG [-o ...]
	dir=$1
	log=$2
	shift 2
	"$agent" run --state-dir "$dir" -o sample_interval=1s -o report_interval=1s "$@" \
		2>>"$log" >/dev/null &
	apid=$!
}

# stop_agent: SIGTERM, returns after exit; sets stop_rc and stop_ms.
stop_agent() {
	t0=$(date +%s%N)
	kill -TERM "$apid"
	wait "$apid"
	stop_rc=$?
	t1=$(date +%s%N)
	stop_ms=$(((t1 - t0) / 1000000))
	apid=
}

agent_status() { # STATE_DIR -> $tmp/st.json (exit 3 and 4 still print the state)
	"$agent" status --json --state-dir "$1" >"$tmp/st.json"
	[ $? -ne 1 ] && [ -s "$tmp/st.json" ]
}

spool_batches_at_least() { # STATE_DIR N
	agent_status "$1" && [ "$(jget batches "$tmp/st.json")" -ge "$2" ]
}

spool_empty_and_connected() { # STATE_DIR
	agent_status "$1" && [ "$(jget batches "$tmp/st.json")" -eq 0 ] &&
		[ "$(jget connected "$tmp/st.json")" = true ]
}

collector_agents() {
	"$collector" agents --json --state-dir "$coll" >"$tmp/agents.json"
}

# check_accounting AGENT_STATE_DIR NAME: every seq the agent produced is stored
# exactly once by the collector or covered by a gap it received.
check_accounting() {
	agent_status "$1"
	next=$(jget next_seq "$tmp/st.json")
	waiting=$(jget batches "$tmp/st.json")
	id=$(jget agent_id "$tmp/st.json")
	collector_agents
	block=$(awk -v id="\"$id\"," '$2 == id { f = 1 } f { print } f && /^  }/ { exit }' \
		"$tmp/agents.json")
	echo "$block" >"$tmp/agent.json"
	high=$(jget high_seq "$tmp/agent.json")
	stored=$(jget batches_stored "$tmp/agent.json")
	gaps=$(jget gaps_reported "$tmp/agent.json")
	replays=$(jget replays_rejected "$tmp/agent.json")
	note "$2: agent next seq $next, $waiting in the spool; collector high $high, stored $stored, gaps $gaps, replays $replays"
	[ -n "$high" ] || { fail "$2: collector does not know agent $id"; return; }
	# What waits in the spool may have been stored already (sent, ACK not
	# seen before the agent stopped); the next READY acknowledges it.
	[ "$high" -le $((next - 1)) ] && [ "$high" -ge $((next - 1 - waiting)) ] ||
		fail "$2: collector high seq $high, agent produced $((next - 1)), $waiting waiting"
	[ "$((stored + gaps))" -eq "$high" ] ||
		fail "$2: stored $stored + gaps $gaps != $high (a seq lost or stored twice)"
}

# Each scenario gets its own collector store: every agent state dir is a new
# identity, and a collector refuses a second key for a known hostname.
new_store() { # NAME
	coll=$tmp/coll-$1
	key=$("$collector" key create -q --state-dir "$coll") ||
		{ echo "key create failed" >&2; exit 1; }
}
new_store port

# A free port for the collector: let the kernel pick one, then reuse it.
start_collector 127.0.0.1:0
port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$clog" | tail -1)
stop_collector
addr=127.0.0.1:$port
note "collector address $addr"

# ---------------------------------------------------------------- A
note "A: no collector; status, SIGHUP, SIGTERM"
cat >"$tmp/agent.conf" <<EOF
[agent]
state_dir = $tmp/a
sample_interval = 1s
report_interval = 1s
EOF
"$agent" run -c "$tmp/agent.conf" 2>>"$tmp/alog" >/dev/null &
apid=$!
wait_for 20 "two windows spooled" spool_batches_at_least "$tmp/a" 2
"$agent" status --state-dir "$tmp/a" >"$tmp/out" || fail "status exit code $?"
grep -q '^agent: *running (pid' "$tmp/out" || fail "status text: $(cat "$tmp/out")"
grep -q '^collector: *none configured' "$tmp/out" || fail "status collector line: $(cat "$tmp/out")"
grep -q '^spool: *[0-9]* batch' "$tmp/out" || fail "status spool line: $(cat "$tmp/out")"
grep -q '^dropped: *0 batches' "$tmp/out" || fail "status dropped line: $(cat "$tmp/out")"
grep -q '^last ACK: *none' "$tmp/out" || fail "status last ACK line: $(cat "$tmp/out")"
agent_status "$tmp/a"
[ "$(jget running "$tmp/st.json")" = true ] || fail "status --json running: $(cat "$tmp/st.json")"
[ "$(jget connected "$tmp/st.json")" = false ] || fail "status --json connected"
[ "$(jget pid "$tmp/st.json")" = "$apid" ] || fail "status --json pid"

"$agent" run -c "$tmp/agent.conf" >/dev/null 2>"$tmp/second.err"
rc=$?
[ "$rc" -eq 1 ] || fail "a second run on the same state dir: exit $rc, want 1"
grep -q "another 'cairn-agent run' (pid $apid) uses state dir" "$tmp/second.err" ||
	fail "second run message: $(cat "$tmp/second.err")"

sed -i 's/^report_interval = 1s/report_interval = 2s/' "$tmp/agent.conf"
kill -HUP "$apid"
wait_for 10 "reload logged" grep -q 'reload: report_interval 1s -> 2s' "$tmp/alog"
kill -0 "$apid" 2>/dev/null || fail "agent died on SIGHUP"

before=$(grep -c 'spooled' "$tmp/alog")
stop_agent
[ "$stop_rc" -eq 0 ] || fail "SIGTERM exit code $stop_rc"
[ "$stop_ms" -lt 5000 ] || fail "SIGTERM took ${stop_ms} ms"
after=$(grep -c 'spooled' "$tmp/alog")
[ "$after" -eq $((before + 1)) ] || fail "SIGTERM did not spool the open window ($before -> $after)"
"$agent" status --state-dir "$tmp/a" >"$tmp/out"
grep -q '^agent: *not running' "$tmp/out" || fail "status after stop: $(cat "$tmp/out")"
agent_status "$tmp/a"
[ "$(jget newest_seq "$tmp/st.json")" -eq "$after" ] ||
	fail "spool newest seq $(jget newest_seq "$tmp/st.json"), $after windows spooled"
note "A: SIGTERM exit 0 in ${stop_ms} ms"
"$agent" status --state-dir "$tmp/nothing" >/dev/null 2>&1 && fail "status without state must fail"

# ---------------------------------------------------------------- B
note "B: collector down for several windows, then up"
new_store b
start_agent "$tmp/b" "$tmp/blog" -o collector="$addr" -o collector_key="$key"
wait_for 30 "four windows spooled while the collector is down" spool_batches_at_least "$tmp/b" 4
agent_status "$tmp/b"
[ "$(jget connect "$tmp/st.json")" -ge 1 ] || fail "B: connect errors not counted: $(cat "$tmp/st.json")"
"$agent" status --state-dir "$tmp/b" >"$tmp/out"
grep -q "^collector: *$addr: backoff" "$tmp/out" || fail "B: status while down: $(cat "$tmp/out")"
start_collector "$addr"
wait_for 60 "spool drained after the collector came up" spool_empty_and_connected "$tmp/b"
"$agent" status --state-dir "$tmp/b" >"$tmp/out"
grep -q "^collector: *$addr: connected to" "$tmp/out" || fail "B: status when up: $(cat "$tmp/out")"
grep -q '^last ACK: *seq [1-9]' "$tmp/out" || fail "B: last ACK: $(cat "$tmp/out")"
stop_agent
[ "$stop_rc" -eq 0 ] || fail "B: SIGTERM exit code $stop_rc"
check_accounting "$tmp/b" B
[ "$waiting" -le 1 ] || fail "B: SIGTERM should leave at most its own window, $waiting waiting"
# That window goes out with the next run.
start_agent "$tmp/b" "$tmp/blog" -o collector="$addr" -o collector_key="$key"
wait_for 30 "B: restart drained" spool_empty_and_connected "$tmp/b"
stop_agent
check_accounting "$tmp/b" B2
stop_collector

# ---------------------------------------------------------------- C
note "C: collector down until the spool overflows"
new_store c
# Full inventory in every batch (inventory_interval = 1s) with a root whose
# only content is a 3,000-package dpkg database makes batches of ~340 KB, so
# the smallest spool (1 MiB) overflows in seconds whatever this host runs.
# (The other collectors find no /proc there: they count errors and go on.)
mkdir -p "$tmp/root/var/lib/dpkg"
awk 'BEGIN { for (i = 0; i < 3000; i++)
	printf "Package: cairn-test-package-%05d\nStatus: install ok installed\n" \
	       "Architecture: amd64\nVersion: 1.0.%d-a-long-version-string-to-fill-the-spool\n" \
	       "Installed-Size: %d\nDescription: filler\n\n", i, i, i }' \
	>"$tmp/root/var/lib/dpkg/status"
start_agent "$tmp/c" "$tmp/clog-agent" -o collector="$addr" -o collector_key="$key" \
	-o spool_max=1MiB -o inventory_interval=1s -o root="$tmp/root"
spool_dropped() {
	agent_status "$tmp/c" && [ "$(jget dropped_batches "$tmp/st.json")" -ge 2 ]
}
wait_for 60 "spool overflow" spool_dropped
stop_agent
agent_status "$tmp/c"
dropped=$(jget dropped_batches "$tmp/st.json")
# (the gap is pending, or already carried by the window SIGTERM closed)
grep -q 'full (spool_max 1048576 bytes): dropped' "$tmp/clog-agent" || fail "C: drop not logged"
# Drain with small batches, so nothing in flight is dropped meanwhile.
start_collector "$addr"
start_agent "$tmp/c" "$tmp/clog-agent" -o collector="$addr" -o collector_key="$key" \
	-o spool_max=1MiB -o root="$tmp/root"
wait_for 60 "C: spool drained" spool_empty_and_connected "$tmp/c"
agent_status "$tmp/c"
[ "$(jget pending_gaps "$tmp/st.json")" -eq 0 ] || fail "C: gap still pending after drain"
stop_agent
check_accounting "$tmp/c" C
stop_collector
[ "$gaps" -ge "$dropped" ] || fail "C: $dropped batches dropped, collector heard of $gaps"

# ---------------------------------------------------------------- D
note "D: agent killed with -9 while streaming, then restarted"
new_store d
start_collector "$addr"
for round in 1 2 3; do
	start_agent "$tmp/d" "$tmp/dlog" -o collector="$addr" -o collector_key="$key" \
		-o inventory_interval=1s -o max_inflight=2
	sleep "$round.3"
	kill -9 "$apid"
	wait "$apid" 2>/dev/null
	apid=
done
start_agent "$tmp/d" "$tmp/dlog" -o collector="$addr" -o collector_key="$key"
wait_for 60 "D: spool drained after restart" spool_empty_and_connected "$tmp/d"
stop_agent
check_accounting "$tmp/d" D
[ "$gaps" -eq 0 ] || fail "D: gaps reported without a full spool ($gaps)"
stop_collector

# ---------------------------------------------------------------- E
note "E: IPv6 literal collector address, sd_notify READY/WATCHDOG/RELOADING/STOPPING"
new_store e
nstarts=$((nstarts + 1))
clog=$tmp/collector-$nstarts.log
"$collector" serve --state-dir "$coll" --listen '[::1]:0' --accept-any 2>"$clog" >/dev/null &
cpid=$!
addr6=
i=0
while [ $i -lt 50 ] && kill -0 "$cpid" 2>/dev/null; do
	addr6=$(sed -n 's/.*listening on \(\[::1\]:[0-9]*\) .*/\1/p' "$clog")
	[ -n "$addr6" ] && break
	sleep 0.1
	i=$((i + 1))
done
notify_pid=
if command -v python3 >/dev/null 2>&1; then
	python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(1)
end = time.time() + 30
while time.time() < end:
    try:
        m = s.recv(4096).decode()
    except socket.timeout:
        continue
    print(m, flush=True)
    if m.startswith("STOPPING"):
        break
' "$tmp/notify.sock" >"$tmp/notify.out" &
	notify_pid=$!
	wait_for 10 "notify socket" test -S "$tmp/notify.sock"
fi
if [ -z "$addr6" ]; then
	note "E: no IPv6 loopback here: IPv6 part skipped"
	addr6=$addr
	stop_collector
	start_collector "$addr"
fi
if [ -n "$notify_pid" ]; then
	NOTIFY_SOCKET=$tmp/notify.sock WATCHDOG_USEC=1000000 \
		"$agent" run --state-dir "$tmp/e" -o sample_interval=1s -o report_interval=1s \
		-o collector="$addr6" -o collector_key="$key" 2>>"$tmp/elog" >/dev/null &
	apid=$!
else
	start_agent "$tmp/e" "$tmp/elog" -o collector="$addr6" -o collector_key="$key"
fi
wait_for 30 "E: connected to $addr6 and delivered" spool_empty_and_connected "$tmp/e"
"$agent" status --state-dir "$tmp/e" >"$tmp/out"
grep -qF "connected to $addr6" "$tmp/out" || fail "E: status: $(cat "$tmp/out")"
kill -HUP "$apid"
sleep 1.2
stop_agent
[ "$stop_rc" -eq 0 ] || fail "E: SIGTERM exit code $stop_rc"
check_accounting "$tmp/e" E
stop_collector
if [ -n "$notify_pid" ]; then
	wait "$notify_pid"
	for m in READY=1 WATCHDOG=1 RELOADING=1 STOPPING=1; do
		grep -qx "$m" "$tmp/notify.out" || fail "E: no $m from sd_notify: $(cat "$tmp/notify.out")"
	done
	[ "$(grep -cx READY=1 "$tmp/notify.out")" -ge 2 ] || fail "E: READY=1 after reload missing"
else
	note "E: python3 missing: sd_notify part skipped"
fi

# ---------------------------------------------------------------- F
note "F: status exit codes; a damaged spool is moved aside and the agent goes on"
new_store f
start_collector "$addr"
start_agent "$tmp/f" "$tmp/flog" -o collector="$addr" -o collector_key="$key"
wait_for 30 "F: delivered" spool_empty_and_connected "$tmp/f"
"$agent" status --state-dir "$tmp/f" >"$tmp/out"
rc=$?
[ $rc -eq 0 ] || fail "F: status of a delivering agent: exit $rc, want 0: $(cat "$tmp/out")"
stop_collector
# No ACK for more than two report windows (1 s each) while batches wait.
stalled() {
	"$agent" status --state-dir "$tmp/f" >"$tmp/out"
	[ $? -eq 4 ]
}
wait_for 20 "F: status exit 4 (running, not delivering)" stalled
grep -q '^delivery: *not delivering: no ACK for' "$tmp/out" ||
	fail "F: status says why it is not delivering: $(cat "$tmp/out")"
stop_agent
"$agent" status --state-dir "$tmp/f" >"$tmp/out"
rc=$?
[ $rc -eq 3 ] || fail "F: status of a stopped agent: exit $rc, want 3"
agent_status "$tmp/f"
lost_from=$(($(jget acked_seq "$tmp/st.json") + 1))
data=$tmp/f/spool/data.mdb
truncate -s $(($(stat -c %s "$data") / 2)) "$data"
"$agent" status --state-dir "$tmp/f" >"$tmp/out" 2>&1
rc=$?
[ $rc -eq 3 ] || fail "F: status with a damaged spool: exit $rc, want 3 (no crash): $(cat "$tmp/out")"
grep -q '^spool: *unreadable: .*data.mdb: the LMDB data file is cut short' "$tmp/out" ||
	fail "F: status names the damaged spool: $(cat "$tmp/out")"
start_collector "$addr"
start_agent "$tmp/f" "$tmp/flog" -o collector="$addr" -o collector_key="$key"
wait_for 30 "F: delivering again after the damaged spool" spool_empty_and_connected "$tmp/f"
kill -0 "$apid" 2>/dev/null || fail "F: agent stopped on a damaged spool"
grep -q 'damaged spool moved aside to .*/spool.damaged-' "$tmp/flog" ||
	fail "F: move aside not logged: $(tail -5 "$tmp/flog")"
ls -d "$tmp/f"/spool.damaged-* >/dev/null 2>&1 || fail "F: no spool.damaged-* in the state dir"
"$agent" status --state-dir "$tmp/f" >"$tmp/out"
rc=$?
[ $rc -eq 0 ] || fail "F: status after recovery: exit $rc: $(cat "$tmp/out")"
stop_agent
collector_agents
gaps=$(jget gaps_reported "$tmp/agents.json")
high=$(jget high_seq "$tmp/agents.json")
stored=$(jget batches_stored "$tmp/agents.json")
note "F: lost from seq $lost_from; collector high $high, stored $stored, gaps $gaps"
[ "$gaps" -ge 1 ] || fail "F: the collector heard of no gap for the damaged spool"
# Every seq up to high is stored or covered by the SPOOL_DAMAGED gap (which
# may overlap what the collector got before the ACK came back).
[ $((stored + gaps)) -ge "$high" ] || fail "F: stored $stored + gaps $gaps < high $high"
stop_collector

# ---------------------------------------------------------------- G
note "G: a copied state dir (cloned key): a conflict, the batch kept, status exit 4"
new_store g
start_collector "$addr"
start_agent "$tmp/g1" "$tmp/g1log" -o collector="$addr" -o collector_key="$key"
wait_for 30 "G: first agent delivered" spool_empty_and_connected "$tmp/g1"
stop_agent
cp -a "$tmp/g1" "$tmp/g2"
conflicted() {
	for d in g1 g2; do
		"$agent" status --state-dir "$tmp/$d" >"$tmp/$d.out"
		[ $? -eq 4 ] && grep -q 'conflict' "$tmp/$d.out" && { cdir=$d; return 0; }
	done
	return 1
}
# Each READY tells a clone the seq the collector has, so a clone alone never
# conflicts: the two must race. In each round both spool a backlog while the
# collector is down; when it is back, the one connecting second gets a READY
# from before the other's in-flight batches commit and sends the same seqs.
stop_collector
start_agent "$tmp/g1" "$tmp/g1log" -o collector="$addr" -o collector_key="$key"
g1=$apid
start_agent "$tmp/g2" "$tmp/g2log" -o collector="$addr" -o collector_key="$key"
g2=$apid
cdir=
for round in 1 2 3 4; do
	sleep 3
	start_collector "$addr"
	i=0
	while [ $i -lt 100 ] && ! conflicted; do
		sleep 0.2
		i=$((i + 1))
	done
	[ -n "$cdir" ] && break
	note "G: round $round: no conflict within 20 s"
	stop_collector
done
[ -n "$cdir" ] || fail "G: no clone reported a conflict (status exit 4) in 4 rounds"
if [ -n "$cdir" ]; then
	grep -q '^delivery: *refused by the collector as a conflict' "$tmp/$cdir.out" ||
		fail "G: status does not say why: $(cat "$tmp/$cdir.out")"
	agent_status "$tmp/$cdir"
	[ "$(jget batches "$tmp/st.json")" -ge 1 ] ||
		fail "G: the conflicted agent dropped its batches: $(cat "$tmp/st.json")"
	grep -q 'agent key used by two machines' "$tmp/${cdir}log" || fail "G: no conflict in the agent log"
fi
collector_agents
[ "$(jget conflicts "$tmp/agents.json")" -ge 1 ] || fail "G: collector counted no conflict"
grep -q 'agent key used by two machines?' "$tmp"/collector-*.log ||
	fail "G: no conflict line in the collector log"
kill -TERM "$g1" "$g2"
wait "$g1" "$g2" 2>/dev/null
apid=
stop_collector

if [ "$fails" -ne 0 ]; then
	echo "--- agent log (A):" >&2
	tail -20 "$tmp/alog" >&2
	echo "--- collector log:" >&2
	tail -20 "$clog" >&2
	echo "$fails failure(s)" >&2
	exit 1
fi
echo "all agent run scenarios passed"
