#!/bin/sh
# The collector against a hostile or confused agent (issue 15), on loopback:
#   - logs never name a key that did not verify (no all-zero-key fingerprint,
#     "claimed agent ..." for a failed AUTH); reserved HELLO flags refused
#   - the "connected" info line is rate-limited per agent key
#   - forged seq (UINT64_MAX) and gap (1..UINT64_MAX) refused; the agent goes on
#   - same seq with other content (a cloned key) is a conflict, not a replay
#   - one session per agent key: a newer connection takes over
#   - a flood of unknown protobuf fields is malformed, within a memory cap
#   - damaged stores (cut to half, empty) are refused with what to do;
#     a store the user may not read says "permission denied" and the owner
#   - serve on a busy port exits cleanly (no leak under LeakSanitizer)
# Usage: hardening.sh COLLECTOR TESTAGENT
set -u
collector=$1
agent=$2
tmp=$(mktemp -d /tmp/cairn-it-harden-XXXXXX)
cpid=
cleanup() {
	[ -n "$cpid" ] && kill -9 "$cpid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
# Leak detection on for every process of this test (serve's exit paths).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1"
fails=0
fail() {
	echo "FAIL: $*" >&2
	fails=$((fails + 1))
}
note() { echo "--- $*"; }

start_collector() {
	: >"$tmp/log"
	"$collector" serve --state-dir "$tmp/state" --listen 127.0.0.1:0 --accept-any \
		-o commit_interval=5ms -o handshake_timeout=2s 2>>"$tmp/log" &
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
stop_collector() {
	kill -TERM "$cpid"
	wait "$cpid"
	stop_rc=$?
	cpid=
}

key=$("$collector" key create -q --state-dir "$tmp/state") || { echo "key create failed"; exit 1; }
start_collector
note "collector at $addr"
ta() { "$agent" -a "$addr" -k "$key" "$@"; }
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
# agent_field HOSTNAME FIELD: from agents --json
agent_field() {
	"$collector" agents --json --state-dir "$tmp/state" >"$tmp/agents.json"
	awk -v h="\"hostname\": \"$1\"," -v f="\"$2\":" \
		'index($0, h) { g = 1 } g && $1 == f { gsub(/,/, "", $2); print $2; exit }' \
		"$tmp/agents.json"
}

# ---------------------------------------------------------------- log lines
check "HELLO with reserved flags" "error protocol" ta helloflags
check "AUTH that does not verify" "" ta -i "$tmp/h.key" -n honest-01 badauth
check "truncated HELLO" "closed" ta truncated
check "garbage" "" ta garbage
grep -q 89eb0d6a8a691dae "$tmp/log" && fail "log names the all-zero key's fingerprint"
grep 'failed' "$tmp/log" | grep -v 'claimed agent [0-9a-f]*, not verified\|no agent key sent' |
	grep -q '(agent ' && fail "a failed handshake names an unverified agent: $(grep failed "$tmp/log")"
grep -q 'claimed agent [0-9a-f]\{16\}, not verified) failed' "$tmp/log" ||
	fail "the failed AUTH is not logged as a claimed agent: $(tail -5 "$tmp/log")"

# ---------------------------------------------------------------- rate limit
for i in 1 2 3 4 5 6; do
	ta -i "$tmp/h.key" -n honest-01 stream 1 >/dev/null || fail "stream round $i"
done
n=$(grep -c "('honest-01') connected from" "$tmp/log")
[ "$n" -le 1 ] || fail "6 handshakes in a minute logged $n 'connected' lines (want 1)"
note "6 handshakes of one key: $n 'connected' info line(s)"

# ---------------------------------------------------------------- forged seqs
check "batch with seq UINT64_MAX" "error limit" ta -i "$tmp/h.key" -n honest-01 seq 18446744073709551615
check "Gap 1..UINT64_MAX" "error limit" ta -i "$tmp/h.key" -n honest-01 gap 1 18446744073709551615
check "honest batches after the forged ones" "acked" ta -i "$tmp/h.key" -n honest-01 stream 2
high=$(agent_field honest-01 high_seq)
gaps=$(agent_field honest-01 gaps_reported)
[ "$high" = 8 ] || fail "high_seq after forged seqs: '$high', want 8"
[ "$gaps" = 0 ] || fail "gaps_reported after a forged gap: '$gaps', want 0"
grep -q "more than 16777216 ahead" "$tmp/log" || fail "no log line for the forged seq"

# ---------------------------------------------------------------- cloned key
check "same seq, other content" "error conflict" ta -i "$tmp/h.key" -n honest-01 conflict
[ "$(agent_field honest-01 conflicts)" = 1 ] || fail "conflicts not counted: $(cat "$tmp/agents.json")"
[ "$(agent_field honest-01 high_seq)" = 8 ] || fail "a conflict changed high_seq"
grep -q "agent key used by two machines?" "$tmp/log" || fail "no conflict log line"
"$collector" agents --state-dir "$tmp/state" >"$tmp/out"
grep -q "honest-01.*1 conflict, last at seq 8.*agent key used by two machines" "$tmp/out" ||
	fail "agents does not show the conflict: $(cat "$tmp/out")"
check "replay with the same content" "acked" ta -i "$tmp/h.key" -n honest-01 replay

# ---------------------------------------------------------------- takeover
ta -i "$tmp/h.key" -n honest-01 hold 20 >"$tmp/hold.out" 2>&1 &
hpid=$!
i=0
while ! grep -q ready "$tmp/hold.out" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
check "second connection with the same key" "acked" ta -i "$tmp/h.key" -n honest-01 stream 1
wait $hpid
grep -q "error replaced" "$tmp/hold.out" || fail "first session not replaced: $(cat "$tmp/hold.out")"
grep -q "replaces the one from" "$tmp/log" || fail "no takeover log line"

# ---------------------------------------------------------------- unknown fields
check "2M two-byte unknown fields (4 MiB)" "error malformed" \
	ta -i "$tmp/b.key" -n bloat-01 bloat 2000000
grep -q "would take more than .* bytes of memory" "$tmp/log" || fail "no log line for the memory cap"
# (the unknown-field budget alone, below the memory cap: test_ingest)
check "20k unknown fields" "error malformed" ta -i "$tmp/b.key" -n bloat-01 bloat 20000
[ "$(agent_field bloat-01 batches_stored)" = 0 ] || fail "a bloated batch was stored"
[ "$(agent_field bloat-01 malformed_batches)" = 2 ] || fail "bloated batches not counted"
check "honest agent still streams" "acked" ta -i "$tmp/h.key" -n honest-01 stream 3

# ---------------------------------------------------------------- busy port
"$collector" serve --state-dir "$tmp/state2" --listen "$addr" >"$tmp/out" 2>&1
rc=$?
[ $rc -eq 1 ] || fail "serve on a busy port: exit $rc, want 1: $(cat "$tmp/out")"
grep -q "cannot listen on $addr" "$tmp/out" || fail "busy port message: $(cat "$tmp/out")"
grep -q "LeakSanitizer" "$tmp/out" && fail "serve on a busy port leaks: $(cat "$tmp/out")"

stop_collector
[ "$stop_rc" -eq 0 ] || fail "collector exit $stop_rc after SIGTERM"
grep -q "LeakSanitizer" "$tmp/log" && fail "serve leaks at exit: $(grep -A5 LeakSanitizer "$tmp/log")"

# ---------------------------------------------------------------- damaged stores
for cut in half empty; do
	d=$tmp/store-$cut
	mkdir -p "$d/db"
	cp "$tmp/state/db/data.mdb" "$d/db/"
	size=$(stat -c %s "$d/db/data.mdb")
	if [ $cut = half ]; then
		truncate -s $((size / 2)) "$d/db/data.mdb"
		want="cut short: $((size / 2)) bytes"
	else
		truncate -s 0 "$d/db/data.mdb"
		want="is empty (0 bytes)"
	fi
	"$collector" agents --state-dir "$d" >"$tmp/out" 2>&1
	rc=$?
	[ $rc -eq 1 ] || fail "agents on a store cut $cut: exit $rc (135 = SIGBUS), want 1"
	grep -q "$d/db/data.mdb: .*$want" "$tmp/out" || fail "agents, $cut store: $(cat "$tmp/out")"
	grep -q "restore the store from a backup (docs/operations.md" "$tmp/out" ||
		fail "agents, $cut store: no advice: $(cat "$tmp/out")"
	"$collector" serve --state-dir "$d" --listen 127.0.0.1:0 >"$tmp/out" 2>&1
	rc=$?
	[ $rc -eq 1 ] || fail "serve on a store cut $cut: exit $rc, want 1"
	grep -q "$want" "$tmp/out" || fail "serve, $cut store: $(cat "$tmp/out")"
	[ "$(stat -c %s "$d/db/data.mdb")" -le "$size" ] || fail "serve rewrote the $cut store"
	note "store cut $cut: refused ($(grep -o 'data.mdb: [^;]*' "$tmp/out" | head -1))"
done

# ---------------------------------------------------------------- permissions
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1; then
	chmod 755 "$tmp"
	chmod 700 "$tmp/state"
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$collector" agents --state-dir "$tmp/state" >"$tmp/out" 2>&1
	rc=$?
	[ $rc -eq 1 ] || fail "agents on an unreadable store: exit $rc"
	grep -q "permission denied: the collector store belongs to user 'root'" "$tmp/out" ||
		fail "unreadable store message: $(cat "$tmp/out")"
	grep -q "creates it" "$tmp/out" && fail "unreadable store invites 'serve' to create one"
else
	note "permissions part skipped (needs root and setpriv)"
fi

if [ "$fails" -ne 0 ]; then
	echo "--- collector log:" >&2
	tail -30 "$tmp/log" >&2
	echo "$fails failure(s)" >&2
	exit 1
fi
echo "all hardening scenarios passed"
