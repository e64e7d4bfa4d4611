#!/bin/sh
# serve under systemd's notify protocol: READY=1 with a STATUS, WATCHDOG=1 at
# half of WATCHDOG_USEC, STOPPING=1 and exit 0 on SIGTERM.
# Usage: serve_notify.sh COLLECTOR. Skips (77) without libsystemd or python3.
set -u
collector=$1
command -v python3 >/dev/null || { echo "no python3"; exit 77; }
ldd "$collector" 2>/dev/null | grep -q libsystemd || { echo "built without libsystemd"; exit 77; }
tmp=$(mktemp -d /tmp/cairn-it-notify-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); s.settimeout(0.5)
end = time.time() + 6
while time.time() < end:
    try:
        print(s.recv(4096).decode().replace("\n", " | "), flush=True)
    except socket.timeout:
        pass
' "$tmp/notify" >"$tmp/out" 2>&1 &
lp=$!
sleep 0.5
NOTIFY_SOCKET=$tmp/notify WATCHDOG_USEC=1000000 "$collector" serve --state-dir "$tmp/st" \
	--listen 127.0.0.1:0 2>"$tmp/log" &
cp=$!
sleep 2.5
kill -TERM $cp
wait $cp
rc=$?
wait $lp
fails=0
[ $rc -eq 0 ] || { echo "FAIL: exit $rc after SIGTERM"; fails=1; }
grep -q '^READY=1 | STATUS=listening on 127.0.0.1:' "$tmp/out" || { echo "FAIL: no READY/STATUS"; fails=1; }
[ "$(grep -c '^WATCHDOG=1' "$tmp/out")" -ge 3 ] || { echo "FAIL: too few WATCHDOG=1"; fails=1; }
grep -q '^STOPPING=1' "$tmp/out" || { echo "FAIL: no STOPPING=1"; fails=1; }
[ $fails -eq 0 ] || { cat "$tmp/out" "$tmp/log"; exit 1; }
echo "serve_notify: READY, $(grep -c '^WATCHDOG=1' "$tmp/out") watchdog pings, STOPPING, exit 0"
