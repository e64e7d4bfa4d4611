# A small lab of "hosts" on this machine, sourced by tests/e2e/run.
#
# Every host is a network namespace (its own interface and address on a bridge
# that lives in a separate "switch" namespace, so nothing touches the machine's
# own network) plus a PID and mount namespace (so each agent sees only its own
# host's processes, and /tmp, /run and the state dirs are its own tmpfs).
# Addresses come from 198.18.0.0/24 (RFC 2544's benchmarking range) and exist
# only inside these namespaces.

# The prefix names this run's namespaces: "ce2e<pid>-", so that two runs on
# one machine (two checkouts, CI beside a developer) never tear down each
# other's hosts. lab_init removes leftovers of runs whose process is gone.
LAB_PREFIX=${LAB_PREFIX:-ce2e$$}
LAB_NET=198.18.0
LAB_SW="$LAB_PREFIX-sw"
declare -A LAB_IP LAB_INIT

lab_log() { printf '[lab %s] %s\n' "$(date +%T)" "$*" >&2; }

# Removes every namespace and process of a previous lab with this prefix.
lab_teardown() {
	local ns pid
	for pid in "${LAB_INIT[@]}"; do
		kill -KILL "$pid" 2>/dev/null || true
	done
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$LAB_PREFIX-" || true); do
		# Kill whatever still runs inside (a namespace's init dying takes its
		# PID namespace with it, but be thorough).
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null || true
		done
		ip netns del "$ns" 2>/dev/null || true
	done
	LAB_INIT=()
}

# Removes the namespaces of earlier runs that died without tearing down
# (their prefix names a pid that no longer runs).
lab_reap_dead_runs() {
	local ns owner pid
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^ce2e[0-9]*-' || true); do
		owner=${ns%%-*}
		owner=${owner#ce2e}
		[ -z "$owner" ] && continue # another checkout's fixed-prefix lab: its own
		kill -0 "$owner" 2>/dev/null && continue
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null || true
		done
		ip netns del "$ns" 2>/dev/null || true
	done
}

lab_init() {
	lab_teardown
	lab_reap_dead_runs
	ip netns add "$LAB_SW"
	ip -n "$LAB_SW" link add br0 type bridge
	ip -n "$LAB_SW" link set br0 up
	ip -n "$LAB_SW" link set lo up
}

# lab_host NAME LAST_OCTET: creates the host and starts its init.
lab_host() {
	local name=$1 ip="$LAB_NET.$2" ns="$LAB_PREFIX-$1"
	ip netns add "$ns"
	ip link add "v-$name" netns "$LAB_SW" type veth peer name eth0 netns "$ns"
	ip -n "$LAB_SW" link set "v-$name" master br0 up
	ip -n "$ns" link set lo up
	ip -n "$ns" addr add "$ip/24" dev eth0
	ip -n "$ns" link set eth0 up
	LAB_IP[$name]=$ip
	# The host's init: PID 1 of its own PID namespace, with private /tmp and
	# /run; every later command joins it with nsenter. bash as PID 1 reaps
	# orphans.
	ip netns exec "$ns" unshare --pid --mount --uts --fork --mount-proc --propagation private \
		bash -c "mount -t tmpfs -o mode=1777 tmpfs /tmp && mount -t tmpfs tmpfs /run &&
			 mkdir -p /run/lock && hostname '$name';
			 trap 'exit 0' TERM; while :; do sleep 3600 & wait; done" \
		</dev/null >/dev/null 2>&1 &
	local unshare_pid=$! child="" i
	disown "$unshare_pid"
	for i in $(seq 1 50); do
		child=$(pgrep -P "$unshare_pid" 2>/dev/null | head -n 1 || true)
		[ -n "$child" ] && break
		sleep 0.1
	done
	[ -n "$child" ] || { lab_log "host $name: init did not start"; return 1; }
	LAB_INIT[$name]=$child
	# Wait until the tmpfs mounts are in place.
	for i in $(seq 1 50); do
		nsenter -t "$child" -m -- findmnt -n /run >/dev/null 2>&1 && break
		sleep 0.1
	done
}

# lab_exec NAME CMD...: runs CMD inside the host (network, mount, PID, UTS).
lab_exec() {
	local name=$1
	shift
	nsenter -t "${LAB_INIT[$name]}" -n -m -p -u -- "$@"
}

# lab_spawn NAME LOG CMD...: runs CMD in the background inside the host and
# prints the host-side pid of the nsenter wrapper.
lab_spawn() {
	local name=$1 log=$2
	shift 2
	nsenter -t "${LAB_INIT[$name]}" -n -m -p -u -- "$@" </dev/null >>"$log" 2>&1 &
	echo $!
	disown $!
}

# lab_pids NAME PATTERN: host-side pids of processes in NAME matching PATTERN.
lab_pids() {
	local name=$1 pat=$2 pid
	local want
	want=$(readlink "/proc/${LAB_INIT[$name]}/ns/pid")
	for pid in $(pgrep -f -- "$pat" 2>/dev/null); do
		[ "$(readlink "/proc/$pid/ns/pid" 2>/dev/null)" = "$want" ] && echo "$pid"
	done
	return 0
}

lab_link() { # lab_link NAME up|down
	ip -n "$LAB_SW" link set "v-$1" "$2"
}
