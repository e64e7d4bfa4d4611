#!/bin/sh
# The portable agent in an empty root: a chroot holding only the binary,
# /proc, /sys, /etc/hosts, /etc/resolv.conf, /etc/passwd (and its state dir),
# inside a private mount and network namespace. It must
#   - run `collect` as an unprivileged user and name that user from
#     /etc/passwd (no NSS module, no shared library exists in the root),
#   - resolve the collector's name from /etc/hosts and stream to it,
#   - resolve another name through DNS (a tiny DNS server on 127.0.0.1:53
#     inside the namespace, named by /etc/resolv.conf) and stream again.
# Usage: portable_root.sh AGENT COLLECTOR
# Skips (77) unless run as root with a statically linked AGENT
# (scripts/package portable or meson -Dportable=true).
set -u
agent=$1
collector=$2

if [ -z "${CAIRN_PORTABLE_INNER:-}" ]; then
	[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (chroot, mount and network namespaces)"; exit 77; }
	if readelf -d "$agent" 2>/dev/null | grep -q NEEDED; then
		echo "SKIP: $agent is dynamically linked; build with -Dportable=true (scripts/package portable)"
		exit 77
	fi
	command -v unshare >/dev/null && command -v python3 >/dev/null && command -v ip >/dev/null ||
		{ echo "SKIP: needs unshare, ip and python3"; exit 77; }
	agent=$(readlink -f "$agent")
	collector=$(readlink -f "$collector")
	CAIRN_PORTABLE_INNER=1 exec unshare --mount --net --fork sh "$0" "$agent" "$collector"
fi

tmp=$(mktemp -d /tmp/cairn-it-portable-XXXXXX)
chmod 0755 "$tmp"
pids=
cleanup() {
	for p in $pids; do kill -9 "$p" 2>/dev/null; done
	umount -l "$tmp/root/proc" "$tmp/root/sys" 2>/dev/null
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

mount --make-rprivate / 2>/dev/null
ip link set lo up || { echo "cannot bring up lo in the new network namespace" >&2; exit 1; }

# The root: nothing but what the target names.
r=$tmp/root
mkdir -p "$r/proc" "$r/sys" "$r/etc" "$r/state"
cp "$agent" "$r/cairn-agent"
mount -t proc proc "$r/proc" || { echo "mount proc failed" >&2; exit 1; }
mount --rbind /sys "$r/sys" || { echo "bind /sys failed" >&2; exit 1; }
cat >"$r/etc/hosts" <<EOF
127.0.0.1	localhost
127.0.0.1	collector-by-hosts.cairn.test
EOF
echo "nameserver 127.0.0.1" >"$r/etc/resolv.conf"
cat >"$r/etc/passwd" <<EOF
root:x:0:0:root:/root:/bin/sh
cairnprobe:x:4242:4242:cairn portable test:/nonexistent:/bin/false
EOF
chown 4242:4242 "$r/state"
chmod 0700 "$r/state"
found=$(cd "$r" && find . -path ./proc -prune -o -path ./sys -prune -o -type f -print | sort | tr "\n" " ")
note "root holds: $found"

# DNS: answers A queries for dns-only.cairn.test with 127.0.0.1, NXDOMAIN else.
cat >"$tmp/dns.py" <<'EOF'
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
log = open(sys.argv[1], "a", buffering=1)
while True:
    q, peer = s.recvfrom(512)
    if len(q) < 12:
        continue
    i, labels = 12, []
    while i < len(q) and q[i]:
        labels.append(q[i + 1:i + 1 + q[i]].decode("ascii", "replace"))
        i += 1 + q[i]
    name = ".".join(labels).lower()
    qtype = struct.unpack("!H", q[i + 1:i + 3])[0] if i + 3 <= len(q) else 0
    question = q[12:i + 5]
    log.write("query %s type %d\n" % (name, qtype))
    ok = name == "dns-only.cairn.test"
    flags = 0x8180 if ok else 0x8183
    ans = b""
    if ok and qtype == 1:
        ans = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton("127.0.0.1")
    hdr = q[:2] + struct.pack("!HHHHH", flags, 1, 1 if ans else 0, 0, 0)
    s.sendto(hdr + question + ans, peer)
EOF
python3 "$tmp/dns.py" "$tmp/dns.log" 2>"$tmp/dns.err" &
pids="$pids $!"

coll=$tmp/coll
key=$("$collector" key create -q --state-dir "$coll") || { echo "collector key show failed" >&2; exit 1; }
"$collector" serve --state-dir "$coll" --listen 127.0.0.1:0 --accept-any -o commit_interval=5ms \
	2>"$tmp/collector.log" >/dev/null &
pids="$pids $!"
wait_for 20 "collector listening" grep -q 'listening on 127.0.0.1:' "$tmp/collector.log" ||
	{ cat "$tmp/collector.log" >&2; exit 1; }
port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$tmp/collector.log" | tail -1)

in_root() { chroot --userspec=4242:4242 "$r" /cairn-agent "$@"; }

# ------------------------------------------------------------ collect
note "collect in the empty root as uid 4242"
if in_root collect --only host,proc,sock --json --interval 100 >"$tmp/collect.json" 2>"$tmp/collect.err"; then
	python3 - "$tmp/collect.json" <<'EOF' || fail "collect output: $(head -c 600 "$tmp/collect.json")"
import json, sys
d = json.load(open(sys.argv[1]))
procs = d["processes"]["processes"]
mine = [p for p in procs if p["uid"] == 4242]
assert mine and all(p["user"] == "cairnprobe" for p in mine), mine[:2]
assert d["host"]["hostname"], d["host"]
assert d["host"]["dns_servers"] == ["127.0.0.1"], d["host"]["dns_servers"]
EOF
else
	fail "collect in the empty root exited $?: $(cat "$tmp/collect.err")"
fi

agents_stored() { # -> number of batches the collector stored for the agent
	"$collector" agents --json --state-dir "$coll" 2>/dev/null |
		sed -n 's/^ *"batches_stored": *\([0-9]*\).*/\1/p' | head -1
}
stored_at_least() { n=$(agents_stored); [ -n "$n" ] && [ "$n" -ge "$1" ]; }

run_in_root() { # COLLECTOR_NAME LOG
	chroot --userspec=4242:4242 "$r" /cairn-agent run --state-dir /state \
		-o collector="$1:$port" -o collector_key="$key" \
		-o sample_interval=1s -o report_interval=1s 2>>"$2" >/dev/null &
	apid=$!
	pids="$pids $apid"
}
stop_agent() {
	kill -TERM "$apid"
	wait "$apid"
	rc=$?
	[ "$rc" -eq 0 ] || fail "agent exit code $rc on SIGTERM"
}

# ------------------------------------------------------------ /etc/hosts
note "run: collector named in /etc/hosts"
run_in_root collector-by-hosts.cairn.test "$tmp/agent-hosts.log"
wait_for 30 "2 batches stored through /etc/hosts" stored_at_least 2 ||
	{ tail -n 20 "$tmp/agent-hosts.log" >&2; tail -n 20 "$tmp/collector.log" >&2; }
stop_agent
grep -q 'query collector-by-hosts' "$tmp/dns.log" 2>/dev/null &&
	fail "the /etc/hosts name went to DNS: $(cat "$tmp/dns.log")"
first=$(agents_stored)
note "stored after the /etc/hosts run: ${first:-none}"

# ------------------------------------------------------------ DNS
note "run: collector name only in DNS"
run_in_root dns-only.cairn.test "$tmp/agent-dns.log"
wait_for 30 "2 more batches stored through DNS" stored_at_least $((${first:-0} + 2)) ||
	{ tail -n 20 "$tmp/agent-dns.log" >&2; cat "$tmp/dns.log" "$tmp/dns.err" >&2; }
stop_agent
grep -q 'query dns-only.cairn.test' "$tmp/dns.log" || fail "no DNS query seen for dns-only.cairn.test"
note "stored after the DNS run: $(agents_stored)"

# The agent's own status in the root, as its user.
in_root status --state-dir /state >"$tmp/status.out" 2>&1 || fail "status in the root: $(cat "$tmp/status.out")"
grep -q '^agent: *not running' "$tmp/status.out" || fail "status text: $(cat "$tmp/status.out")"

[ "$fails" -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "portable agent: collect, /etc/hosts and DNS streaming in an empty root: ok"
