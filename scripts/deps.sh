# Sourced by scripts/test, scripts/demo and scripts/package: the Debian packages
# cairn needs to build and test, installed when missing.

# Build and run.
CAIRN_BUILD_PACKAGES="gcc pkg-config meson ninja-build protobuf-c-compiler libprotobuf-c-dev
libuv1-dev libsodium-dev liblmdb-dev lmdb-utils libinih-dev libjansson-dev
libsystemd-dev python3 clang bpftool libbpf-dev libelf-dev zlib1g-dev libmicrohttpd-dev libgnutls28-dev
node-d3"
# (clang, bpftool, libbpf-dev, libelf-dev, zlib1g-dev: the agent's eBPF
# connection capture, -Dbpf=auto; without them the agent polls only.
# libmicrohttpd-dev + libgnutls28-dev: the web console; node-d3: its map.)
# scripts/package portable: the static archives Debian ships outside the -dev
# packages above (glibc's libc.a is in libc6-dev, pulled in by gcc).
CAIRN_PORTABLE_PACKAGES="binutils libc6-dev"
# tests/packaging/portable: file capabilities, containers, rpm tools, the
# Ansible role's test.
CAIRN_PACKAGING_TEST_PACKAGES="libcap2-bin systemd-container rpm cpio python3 ansible-core"
# Tests: unit framework, graph rendering, CSV checks, namespaces, rpm fixtures, fuzzing,
# capability drops for the capture fallback test (setpriv: util-linux); the
# console's browser tests (chromium, chromium-driver, python3-selenium) and its
# HTTPS test (openssl makes a certificate).
CAIRN_TEST_PACKAGES="libcriterion-dev graphviz python3 iproute2 procps rpm clang
libclang-rt-14-dev util-linux bsdutils chromium chromium-driver python3-selenium openssl curl"

cairn_missing_packages() {
	local missing="" p
	for p in "$@"; do
		if ! dpkg-query -W -f '${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed; then
			missing="$missing $p"
		fi
	done
	printf '%s' "$missing"
}

# cairn_ensure_packages PKG... : apt-get installs whatever is missing.
cairn_ensure_packages() {
	local missing sudo=""
	missing=$(cairn_missing_packages "$@")
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null || {
			echo "missing packages:$missing (run as root or install sudo)" >&2
			return 1
		}
		sudo="sudo"
	fi
	echo "==> installing:$missing"
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
	# shellcheck disable=SC2086
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		$missing >/dev/null || return 1
}
