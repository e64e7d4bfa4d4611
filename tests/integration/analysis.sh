#!/bin/sh
# Analysis end to end: a 50-host synthetic estate sent as signed batches
# through the real agent -> collector path (handshake, encryption, ingest),
# then the map, the grouping and the query commands against it.
#   analysis.sh CAIRN_COLLECTOR CAIRN_ESTATE
set -u
collector=$1
estate=$2
tmp=$(mktemp -d /tmp/cairn-analysis-it.XXXXXX)
fails=0
cpid=
cleanup() {
	[ -n "$cpid" ] && kill "$cpid" 2>/dev/null && wait "$cpid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	fails=$((fails + 1))
}
note() { echo "--- $*"; }
cc() { "$collector" "$@" --state-dir "$tmp/state"; }

key=$("$collector" key create -q --state-dir "$tmp/state") || { echo "key create failed"; exit 1; }
"$collector" serve --state-dir "$tmp/state" --listen 127.0.0.1:0 --accept-any \
	-o recompute_interval=1s -o commit_interval=5ms 2>"$tmp/log" &
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
note "collector at $addr"

note "send a 50-host estate (2 days) as signed batches, evaluate against the truth"
"$estate" --state-dir "$tmp/state" --hosts 50 --days 2 --send "$addr" --key "$key" --eval \
	>"$tmp/eval" 2>&1 || { cat "$tmp/eval"; fail "cairn-estate --send --eval"; }
cat "$tmp/eval"
grep -q 'precision 1.0000 recall 1.0000' "$tmp/eval" || fail "edge precision/recall below 1"
ari=$(sed -n 's/^ARI \([0-9.]*\)$/\1/p' "$tmp/eval")
awk -v a="${ari:-0}" 'BEGIN { exit !(a >= 0.95) }' || fail "ARI ${ari:-?} < 0.95"

note "the trust cases: outside clients, pollers, dispatcher scripts (cairn-estate --cases)"
"$estate" --state-dir "$tmp/cases" --hosts 50 --seed 7 --cases --write --eval >"$tmp/cases.eval" 2>&1 ||
	{ cat "$tmp/cases.eval"; fail "cairn-estate --cases --eval"; }
grep -q '^pollers (monitoring, backup, jump): 3, found as infrastructure 3$' "$tmp/cases.eval" ||
	fail "pollers not all infrastructure: $(grep pollers "$tmp/cases.eval")"
grep -Eq '^outside clients: truth ([0-9]+) addresses, ([0-9]+) .*map [0-9]+ subnet nodes, \1 addresses, \2 of \2 pairs drawn$' \
	"$tmp/cases.eval" || fail "outside clients: $(grep outside "$tmp/cases.eval")"
grep -Eq '^dispatcher roles: ([1-9][0-9]*), attributed to their own program \1, edges of a role to another role.s server 0$' \
	"$tmp/cases.eval" || fail "dispatcher roles: $(grep dispatcher "$tmp/cases.eval")"
ari=$(sed -n 's/^ARI \([0-9.]*\)$/\1/p' "$tmp/cases.eval")
awk -v a="${ari:-0}" 'BEGIN { exit !(a >= 0.95) }' || fail "ARI with the cases ${ari:-?} < 0.95"

note "serve refreshes the snapshot after the batches"
i=0
while ! grep -q 'snapshot [0-9]*: 5[0-9] hosts' "$tmp/log"; do
	i=$((i + 1))
	[ $i -gt 100 ] && { fail "serve did not refresh the snapshot"; break; }
	sleep 0.1
done

note "apps, deps, host while serve runs"
cc apps >"$tmp/apps" || fail "apps"
grep -q '^Shared infrastructure' "$tmp/apps" || fail "apps lists no shared infrastructure"
grep -q ' shop ' "$tmp/apps" || fail "no application named shop: $(cat "$tmp/apps")"
cc apps --json >"$tmp/apps.json" || fail "apps --json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["apps"]) >= 5' \
	"$tmp/apps.json" || fail "apps --json is not the expected JSON"
cc deps --json >"$tmp/deps.json" || fail "deps --json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["edges"]) > 400' \
	"$tmp/deps.json" || fail "deps --json"
cc deps --dot >"$tmp/map.dot" || fail "deps --dot"
if command -v dot >/dev/null 2>&1; then
	dot -Tsvg "$tmp/map.dot" -o "$tmp/map.svg" || fail "dot rejected deps --dot"
else
	echo "(graphviz not installed: DOT not rendered)"
fi
cc deps --host shop-app-01 --level service >"$tmp/deps" || fail "deps --host"
grep -q 'postgres' "$tmp/deps" || fail "shop-app-01 has no postgres dependency: $(cat "$tmp/deps")"
cc deps --host shop-app-01 --json >"$tmp/deps-host.json" || fail "deps --host --json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); names={n["name"] for n in d["nodes"]}
assert "shop-app-01" in names and any(n.startswith("shop-db") for n in names), names' \
	"$tmp/deps-host.json" || fail "deps --host leaves out the host or the other ends of its edges"
cc host shop-db-01 >"$tmp/host" || fail "host shop-db-01"
grep -q 'Used by' "$tmp/host" || fail "host shows no dependencies"
cc host shop-db-1 >"$tmp/out" 2>&1 && fail "unknown host accepted"
grep -q "did you mean 'shop-db-01'" "$tmp/out" || fail "no close match: $(cat "$tmp/out")"
cc deps --level nonsense >/dev/null 2>&1
[ $? -eq 2 ] || fail "usage error does not exit 2"

note "decisions: rename, split, merge survive new snapshots"
cc apps rename shop webshop >/dev/null || fail "apps rename"
cc apps split webshop shop-db-01 >/dev/null || fail "apps split"
cc apps --fresh >"$tmp/apps2" || fail "apps --fresh"
grep -q ' webshop ' "$tmp/apps2" || fail "rename lost: $(cat "$tmp/apps2")"
grep -q 'webshop-split' "$tmp/apps2" || fail "split lost: $(cat "$tmp/apps2")"
cc apps merge webshop webshop-split >/dev/null || fail "apps merge"
cc apps show webshop >"$tmp/show" || fail "apps show"
grep -q 'shop-db-01' "$tmp/show" || fail "merge did not bring shop-db-01 back: $(cat "$tmp/show")"
cc apps show nosuchapp >/dev/null 2>&1 && fail "unknown application accepted"

[ $fails -eq 0 ] || { echo "$fails failure(s)"; tail -20 "$tmp/log"; exit 1; }
echo "analysis: all checks passed"
