# Shared by the packaging tests (sourced): boot this machine's OS under
# systemd in a container, on an overlay of / so nothing it does reaches the
# host. The caller sets work (a scratch directory), ct_dir, ct_name and
# ct_pid="" first, and calls container_stop from its cleanup.
#
#   container_start [UNIT...]  boots a target that wants UNIT...; prints why
#                              not and returns 1 on failure
#   in_ct CMD...               runs CMD inside the container
#   container_stop
# in_ct CMD...: runs CMD inside the container (all its namespaces).
in_ct() { nsenter --target "$ct_leader" --mount --uts --ipc --net --pid -- "$@"; }
container_stop() {
	if [ -n "$ct_pid" ]; then
		kill -TERM "$ct_pid" 2>/dev/null # nspawn asks the container's systemd to power off
		for _ in $(seq 100); do kill -0 "$ct_pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$ct_pid" 2>/dev/null
		wait "$ct_pid" 2>/dev/null
		ct_pid=""
	fi
	umount "$ct_dir/root" 2>/dev/null
	umount "$ct_dir/upper" 2>/dev/null
	rm -rf "/run/systemd/nspawn/propagate/$ct_name"
}
# container_start [UNIT...]: prints why not on failure.
container_start() {
	command -v systemd-nspawn >/dev/null || { echo "systemd-nspawn missing"; return 1; }
	mkdir -p "$ct_dir/upper" "$ct_dir/root"
	mount -t tmpfs -o mode=0755 tmpfs "$ct_dir/upper" || { echo "cannot mount tmpfs"; return 1; }
	mkdir "$ct_dir/upper/u" "$ct_dir/upper/w"
	mount -t overlay overlay -o "lowerdir=/,upperdir=$ct_dir/upper/u,workdir=$ct_dir/upper/w" \
		"$ct_dir/root" || { echo "cannot mount an overlay of /"; return 1; }
	systemd-id128 new >"$ct_dir/root/etc/machine-id"
	# A server, not an image build: this machine's policy-rc.d (Docker style,
	# exit 101) would stop maintainer scripts from (re)starting services.
	rm -f "$ct_dir/root/usr/sbin/policy-rc.d"
	# A fresh server: no keys, no spool, no store (the earlier steps made some).
	find "$ct_dir/root/var/lib/cairn-agent" "$ct_dir/root/var/lib/cairn-collector" -mindepth 1 -delete \
		2>/dev/null
	# Boot only what the test needs, not every service of this machine.
	cat >"$ct_dir/root/etc/systemd/system/cairn-test.target" <<EOF
[Unit]
Description=cairn packaging test
Requires=basic.target
After=basic.target
Wants=$*
EOF
	systemd-nspawn -D "$ct_dir/root" -M "$ct_name" --register=no --keep-unit --link-journal=no \
		--private-network --quiet -b systemd.unit=cairn-test.target \
		</dev/null >"$work/nspawn.log" 2>&1 &
	ct_pid=$!
	ct_leader=""
	local state=""
	for _ in $(seq 300); do
		kill -0 "$ct_pid" 2>/dev/null || { echo "systemd-nspawn exited: $(tail -n 5 "$work/nspawn.log")"; ct_pid=""; return 1; }
		[ -z "$ct_leader" ] && ct_leader=$(pgrep -P "$ct_pid" | head -n1)
		if [ -n "$ct_leader" ]; then
			state=$(in_ct systemctl is-system-running 2>/dev/null)
			case "$state" in running | degraded) return 0 ;; esac
		fi
		sleep 0.2
	done
	echo "the container's systemd did not finish booting in 60 s (state: '${state:-unknown}'): $(tail -n 5 "$work/nspawn.log")"
	return 1
}

