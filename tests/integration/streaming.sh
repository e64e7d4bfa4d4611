#!/bin/sh
# Streaming end to end on loopback: enrollment, an honest agent that keeps
# streaming while every kind of bad input hits the same collector, nothing
# stored from the bad input, kill -9 of the collector mid-stream (exactly-once
# after restart), clean SIGTERM shutdown.
# Usage: streaming.sh COLLECTOR TESTAGENT [HALFOPEN_COUNT]
set -u
collector=$1
agent=$2
halfopen=${3:-10000}
tmp=$(mktemp -d /tmp/cairn-it-stream-XXXXXX)
cpid=
cleanup() {
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

start_collector() { # LISTEN extra args...
	listen=$1
	shift
	: >"$tmp/log"
	"$collector" serve --state-dir "${state:-$tmp/state}" --listen "$listen" -o max_connections=15000 \
		-o handshake_timeout=2s -o idle_timeout=30s -o max_records=2000 \
		-o commit_interval=5ms "$@" 2>>"$tmp/log" &
	cpid=$!
	i=0
	while ! grep -q 'listening on' "$tmp/log"; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 "$cpid" 2>/dev/null; then
			cat "$tmp/log" >&2
			echo "collector did not start" >&2
			exit 1
		fi
		sleep 0.1
	done
	addr=$(sed -n 's/.*listening on \([^ ]*\) .*/\1/p' "$tmp/log" | tail -1)
}

key=$("$collector" key create -q --state-dir "$tmp/state") || { echo "key create failed"; exit 1; }
start_collector 127.0.0.1:0
note "collector at $addr"
ta() { "$agent" -a "$addr" -k "$key" "$@"; }
# -- enrollment (explicit mode)
ta -i "$tmp/honest.key" -n honest-01 expect-error pending >"$tmp/out" ||
	fail "unknown agent was not kept pending: $(cat "$tmp/out")"
ta -i "$tmp/bad.key" -n attacker-01 expect-error pending >/dev/null || fail "second agent pending"
"$collector" agents --pending --state-dir "$tmp/state" >"$tmp/out"
grep -q honest-01 "$tmp/out" || fail "agents --pending does not list honest-01: $(cat "$tmp/out")"
"$collector" agents accept honest-01 --state-dir "$tmp/state" >/dev/null || fail "accept honest-01"
"$collector" agents accept attacker-01 --state-dir "$tmp/state" >/dev/null || fail "accept attacker-01"

# -- an honest agent streams throughout
ta -i "$tmp/honest.key" -n honest-01 stream 400 25 >"$tmp/honest.out" 2>&1 &
hpid=$!
ta -i "$tmp/bad.key" -n attacker-01 stream 3 >/dev/null || fail "attacker's honest batches"

check() { # DESCRIPTION WANT_PATTERN CMD...
	what=$1
	want=$2
	shift 2
	"$@" >"$tmp/out" 2>&1
	rc=$?
	if [ $rc -ne 0 ] || ! grep -q -- "$want" "$tmp/out"; then
		fail "$what: rc $rc, output: $(cat "$tmp/out")"
	else
		note "$what: $(tail -1 "$tmp/out")"
	fi
}
check "forged batch signature" "error bad-signature" ta -i "$tmp/bad.key" -n attacker-01 forge
check "well-signed malformed protobuf" "error malformed" ta -i "$tmp/bad.key" -n attacker-01 malformed
check "batch over max_records/limits" "error limit" ta -i "$tmp/bad.key" -n attacker-01 toolarge
check "replayed old batch" "acked" ta -i "$tmp/bad.key" -n attacker-01 replay
check "frame over the pre-auth limit" "error frame-too-large" ta oversize
check "frame over max_frame after auth" "error frame-too-large" ta -i "$tmp/bad.key" -n attacker-01 oversize-auth
check "truncated frame then EOF" "closed" ta truncated
check "garbage bytes" "" ta garbage
check "slowloris handshake" "error timeout" ta slowloris
check "agent pinning a different collector key" "handshake failed" ta wrongkey
check "unknown agent" "error pending" ta -n stranger-01 expect-error pending

grep -q "above the pre-auth limit" "$tmp/log" || fail "no log line for the oversize frame"
grep -q "signature over seq" "$tmp/log" || fail "no log line for the forged batch"
grep -q "not a valid cairn.Batch" "$tmp/log" || fail "no log line for the malformed batch"
grep -q "handshake timeout" "$tmp/log" || fail "no log line for slowloris"

# -- revocation
"$collector" agents revoke attacker-01 --state-dir "$tmp/state" >/dev/null || fail "revoke"
check "revoked agent" "error revoked" ta -i "$tmp/bad.key" -n attacker-01 expect-error revoked

# -- many half-open connections while the honest agent streams
check "$halfopen half-open connections" "halfopen: opened $halfopen" ta halfopen "$halfopen" 8

wait $hpid || fail "honest agent did not finish: $(cat "$tmp/honest.out")"
grep -q "acked 400 (from 0, 1 connection)" "$tmp/honest.out" ||
	fail "honest agent was disturbed: $(cat "$tmp/honest.out")"

# -- nothing stored from the bad input: attacker has exactly its 3 honest batches
"$collector" agents --json --state-dir "$tmp/state" >"$tmp/agents.json"
attacker=$(awk '/"hostname": "attacker-01"/ { f = 1 } f && /"batches_stored"/ { gsub(/[ ,]/, ""); split($0, a, ":"); print a[2]; exit }' "$tmp/agents.json")
[ "$attacker" = 3 ] || fail "attacker batches_stored = '$attacker', want 3"
# malformed_batches counts undecodable and over-limit batches
for fw in bad_signatures=1 malformed_batches=2 replays_rejected=1; do
	f=${fw%=*}
	want=${fw#*=}
	v=$(awk -v f="\"$f\":" '/"hostname": "attacker-01"/ { g = 1 } g && $1 == f { gsub(/,/, "", $2); print $2; exit }' "$tmp/agents.json")
	[ "$v" = "$want" ] || fail "attacker $f = '$v', want $want"
done
"$collector" hosts --state-dir "$tmp/state" >"$tmp/out" || fail "hosts"
grep -q honest-01 "$tmp/out" || fail "hosts does not list honest-01: $(cat "$tmp/out")"

# -- kill -9 during a stream of 1000 batches, restart: exactly once
ta -i "$tmp/crash.key" -n crash-01 expect-error pending >/dev/null
"$collector" agents accept crash-01 --state-dir "$tmp/state" >/dev/null || fail "accept crash-01"
ta -i "$tmp/crash.key" -n crash-01 stream 1000 1 reconnect >"$tmp/crash.out" 2>&1 &
spid=$!
sleep 1.5
kill -9 "$cpid"
wait "$cpid" 2>/dev/null
note "collector killed with -9 mid-stream"
start_collector "$addr"
wait $spid || fail "crash agent did not complete: $(cat "$tmp/crash.out")"
"$collector" agents --json --state-dir "$tmp/state" >"$tmp/agents.json"
for f in high_seq batches_stored; do
	v=$(awk -v f="\"$f\":" '/"hostname": "crash-01"/ { g = 1 } g && $1 == f { gsub(/,/, "", $2); print $2; exit }' "$tmp/agents.json")
	[ "$v" = 1000 ] || fail "after kill -9: crash-01 $f = '$v', want 1000"
done
grep -q "connections)" "$tmp/crash.out" ||
	fail "the kill did not interrupt the stream (test too slow or agent too fast): $(cat "$tmp/crash.out")"
note "after kill -9 and restart: $(tail -1 "$tmp/crash.out")"

# -- SIGTERM: clean exit 0
kill -TERM "$cpid"
wait "$cpid"
rc=$?
cpid=
[ $rc -eq 0 ] || fail "SIGTERM exit code $rc"
grep -q "stopped:" "$tmp/log" || fail "no shutdown summary in the log"

# -- store full: no ACKs, nothing lost; more space, everything arrives once
state=$tmp/full
mkdir -p "$state"
cp "$tmp/state/collector.key" "$state/"
start_collector 127.0.0.1:0 --accept-any -o map_size=256KiB -o map_max=1MiB
ta -i "$tmp/full.key" -n full-01 stream 300 0 reconnect >"$tmp/full.out" 2>&1 &
fpid=$!
i=0
until grep -q "cannot commit" "$tmp/log"; do
	i=$((i + 1))
	[ $i -lt 200 ] || break
	sleep 0.1
done
grep -q "cannot commit" "$tmp/log" || fail "the store never filled up"
sleep 1
kill -TERM "$cpid"
wait "$cpid"
rc=$?
[ $rc -eq 1 ] || fail "stopping with a full store: exit $rc, want 1"
"$collector" agents --json --state-dir "$state" >"$tmp/agents.json"
held=$(awk '/"high_seq":/ { gsub(/,/, "", $2); print $2; exit }' "$tmp/agents.json")
note "store full at high seq $held of 300; restarting with map_max=256MiB"
[ "${held:-0}" -lt 300 ] || fail "everything was stored although the map was full"
start_collector "$addr" --accept-any -o map_max=256MiB
wait $fpid || fail "agent did not complete after space returned: $(cat "$tmp/full.out")"
"$collector" agents --json --state-dir "$state" >"$tmp/agents.json"
for f in high_seq batches_stored; do
	v=$(awk -v f="\"$f\":" '$1 == f { gsub(/,/, "", $2); print $2; exit }' "$tmp/agents.json")
	[ "$v" = 300 ] || fail "after the store was full: $f = '$v', want 300"
done
note "after space returned: $(tail -1 "$tmp/full.out")"
kill -TERM "$cpid"
wait "$cpid"
cpid=

# -- max_connections: the excess is refused with ERROR busy and a log line
start_collector 127.0.0.1:0 -o max_connections=5
check "connections above max_connections" "busy 5)" ta halfopen 10 4
grep -q "max_connections (5) reached" "$tmp/log" || fail "no log line for max_connections"
kill -TERM "$cpid"
wait "$cpid"
cpid=

if [ $fails -ne 0 ]; then
	echo "---- collector log (tail)" >&2
	tail -40 "$tmp/log" >&2
	exit 1
fi
echo "streaming: all checks passed"
