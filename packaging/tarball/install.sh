#!/bin/sh
# Installs the portable cairn-agent from this tarball on hosts where the
# .deb/.rpm cannot be used: any x86_64 Linux with kernel 3.10 or newer,
# systemd (any version from 219) or SysV init. Same paths as the packages:
#   /usr/sbin/cairn-agent           (0750 root:cairn-agent)
#   /etc/cairn/agent.conf           (0640 root:cairn-agent, kept if present)
#   /var/lib/cairn-agent            (0700 cairn-agent: key and spool)
#   /etc/systemd/system/cairn-agent.service  or  /etc/init.d/cairn-agent
#
#   sudo ./install.sh [--collector HOST:PORT] [--collector-key HEX]
#                     [--enroll-token-file FILE] [--no-start]
#   sudo ./install.sh --uninstall [--purge]
#
# Running it again with the same arguments changes nothing (it says
# "unchanged" and leaves a running agent alone); with other values it
# updates agent.conf and reloads the agent. The last line says what was done.
# Exit codes: 0 ok, 1 failed, 2 usage.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
BIN=/usr/sbin/cairn-agent
CONF_DIR=/etc/cairn
CONF=$CONF_DIR/agent.conf
STATE=/var/lib/cairn-agent
USER=cairn-agent
UNIT=/etc/systemd/system/cairn-agent.service
INITD=/etc/init.d/cairn-agent
CAPS=cap_dac_read_search,cap_sys_ptrace=ep

collector= key= token_file= start=1 uninstall= purge=
# For tests: force an init system or a systemd generation (219, 229, 235, 245, 246).
init=${CAIRN_INSTALL_INIT:-}
generation=${CAIRN_INSTALL_SYSTEMD_GENERATION:-}

usage() {
	sed -n '2,18s/^# \{0,1\}//p' "$0" >&2
	exit 2
}
die() {
	echo "install.sh: $*" >&2
	exit 1
}
while [ $# -gt 0 ]; do
	case "$1" in
	--collector) [ $# -ge 2 ] || usage; collector=$2; shift ;;
	--collector-key) [ $# -ge 2 ] || usage; key=$2; shift ;;
	--enroll-token-file) [ $# -ge 2 ] || usage; token_file=$2; shift ;;
	--no-start) start= ;;
	--uninstall) uninstall=1 ;;
	--purge) purge=1 ;;
	-h | --help) usage ;;
	*) echo "install.sh: unknown argument $1" >&2; usage ;;
	esac
	shift
done
[ "$(id -u)" -eq 0 ] || die "run as root (it creates a system user and installs a service)"
if [ -n "$key" ]; then
	case "$key" in *[!0-9a-fA-F]*) key_ok= ;; *) key_ok=1 ;; esac
	[ -n "$key_ok" ] && [ "${#key}" -eq 64 ] ||
		die "--collector-key: 64 hex digits, from 'cairn-collector key show' (got '$key')"
fi
[ -z "$token_file" ] || [ -r "$token_file" ] || die "--enroll-token-file $token_file: not readable"

changed=""
note() { changed="$changed $1"; }

# ---------------------------------------------------------------- init system
if [ -z "$init" ]; then
	if [ -d /run/systemd/system ]; then init=systemd; else init=sysv; fi
fi
if [ "$init" = systemd ] && [ -z "$generation" ]; then
	v=$(systemctl --version 2>/dev/null | awk 'NR == 1 { print $2 }')
	case "$v" in '' | *[!0-9]*) die "cannot read the systemd version from 'systemctl --version'" ;; esac
	if [ "$v" -ge 246 ]; then generation=246
	elif [ "$v" -ge 245 ]; then generation=245
	elif [ "$v" -ge 235 ]; then generation=235
	elif [ "$v" -ge 229 ]; then generation=229
	elif [ "$v" -ge 219 ]; then generation=219
	else die "systemd $v is older than 219, the oldest cairn supports; use CAIRN_INSTALL_INIT=sysv"
	fi
fi

service() { # ACTION
	if [ "$init" = systemd ]; then
		systemctl "$1" cairn-agent.service
	else
		"$INITD" "$1"
	fi
}
is_running() {
	if [ "$init" = systemd ]; then
		systemctl is-active --quiet cairn-agent.service
	else
		"$INITD" status >/dev/null 2>&1
	fi
}

# ---------------------------------------------------------------- uninstall
if [ -n "$uninstall" ]; then
	if [ -f "$UNIT" ]; then
		systemctl disable --now cairn-agent.service >/dev/null 2>&1 || true
		rm -f "$UNIT"
		systemctl daemon-reload || true
	fi
	if [ -f "$INITD" ]; then
		"$INITD" stop >/dev/null 2>&1 || true
		if command -v chkconfig >/dev/null 2>&1; then chkconfig --del cairn-agent >/dev/null 2>&1 || true
		elif command -v update-rc.d >/dev/null 2>&1; then update-rc.d -f cairn-agent remove >/dev/null 2>&1 || true
		fi
		rm -f "$INITD"
	fi
	rm -f "$BIN" /usr/share/man/man8/cairn-agent.8 /usr/share/man/man5/cairn.conf.5
	if [ -n "$purge" ]; then
		rm -rf "$STATE" "$CONF" /var/log/cairn-agent.log
		rmdir "$CONF_DIR" 2>/dev/null || true
		userdel "$USER" 2>/dev/null || true
		groupdel "$USER" 2>/dev/null || true
		echo "install.sh: cairn-agent removed with its configuration, key, spool and user"
	else
		echo "install.sh: cairn-agent removed; kept $CONF, $STATE and the user (--purge removes them)"
	fi
	exit 0
fi

# ---------------------------------------------------------------- checks
[ "$(uname -m)" = x86_64 ] || die "this build is for x86_64, the host is $(uname -m)"
kmaj=$(uname -r | cut -d. -f1) kmin=$(uname -r | cut -d. -f2 | sed 's/[^0-9].*//')
if [ "$kmaj" -lt 3 ] || { [ "$kmaj" -eq 3 ] && [ "$kmin" -lt 10 ]; }; then
	die "kernel $(uname -r) is older than 3.10, the oldest the portable agent supports"
fi
"$here/bin/cairn-agent" --version >/dev/null || die "$here/bin/cairn-agent does not run here"

# ---------------------------------------------------------------- user, files
if ! getent group "$USER" >/dev/null 2>&1; then
	groupadd -r "$USER" || die "groupadd $USER failed"
	note group
fi
if ! getent passwd "$USER" >/dev/null 2>&1; then
	nologin=/sbin/nologin
	[ -x /usr/sbin/nologin ] && nologin=/usr/sbin/nologin
	useradd -r -g "$USER" -d "$STATE" -M -s "$nologin" -c "cairn discovery agent" "$USER" ||
		die "useradd $USER failed"
	note user
fi

# install_file SRC DST MODE OWNER:GROUP: copies when the content differs.
# Owner and mode are only touched when they differ: chown clears file
# capabilities.
install_file() {
	if [ -f "$2" ] && cmp -s "$1" "$2"; then
		[ "$(stat -c '%a %U:%G' "$2")" = "${3#0} $4" ] || { chown "$4" "$2" && chmod "$3" "$2"; }
		return 1
	fi
	mkdir -p "$(dirname "$2")"
	cp "$1" "$2.cairn-new" && chmod "$3" "$2.cairn-new" && chown "$4" "$2.cairn-new" &&
		mv -f "$2.cairn-new" "$2" || die "cannot install $2"
	return 0
}

bin_changed=
if install_file "$here/bin/cairn-agent" "$BIN" 0750 "root:$USER"; then
	note binary
	bin_changed=1
fi
for m in man/cairn-agent.8:man8 man/cairn.conf.5:man5; do
	[ -d /usr/share/man ] && install_file "$here/${m%%:*}" "/usr/share/man/${m##*:}/$(basename "${m%%:*}")" \
		0644 root:root && true
done

if [ ! -d "$STATE" ]; then
	mkdir -p "$STATE"
	note state-dir
fi
chown "$USER:$USER" "$STATE"
chmod 0700 "$STATE"

mkdir -p "$CONF_DIR"
chmod 0755 "$CONF_DIR"
if [ ! -f "$CONF" ]; then
	cp "$here/agent.conf" "$CONF"
	note agent.conf
fi
chown "root:$USER" "$CONF"
chmod 0640 "$CONF"

# set_key KEY VALUE: KEY = VALUE in agent.conf's [agent] section (replacing
# an active line of KEY, else added after the section header).
conf_changed=
set_key() {
	cur=$(sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*//p" "$CONF" | tail -n 1)
	[ "$cur" = "$2" ] && return 0
	if grep -q "^[[:space:]]*$1[[:space:]]*=" "$CONF"; then
		sed "s|^[[:space:]]*$1[[:space:]]*=.*|$1 = $2|" "$CONF" >"$CONF.cairn-new"
	else
		sed "/^\[agent\]/a\\
$1 = $2" "$CONF" >"$CONF.cairn-new"
	fi
	chown "root:$USER" "$CONF.cairn-new" && chmod 0640 "$CONF.cairn-new" && mv -f "$CONF.cairn-new" "$CONF"
	conf_changed=1
	note "$1"
}
[ -n "$collector" ] && set_key collector "$collector"
[ -n "$key" ] && set_key collector_key "$key"
if [ -n "$token_file" ]; then
	install_file "$token_file" "$CONF_DIR/enroll.token" 0640 "root:$USER" && note enroll.token
	set_key enroll_token_file "$CONF_DIR/enroll.token"
fi
"$BIN" check-config -c "$CONF" >/dev/null || die "$CONF has errors (cairn-agent check-config -c $CONF)"

# ---------------------------------------------------------------- capabilities
# Without ambient capabilities (systemd < 229, SysV init) the binary carries
# the two the agent needs; 0750 root:cairn-agent keeps them to that user.
if [ "$init" = sysv ] || [ "$generation" -lt 229 ]; then
	command -v setcap >/dev/null 2>&1 || die "setcap not found (RHEL/SLES: libcap; Debian: libcap2-bin)"
	have=$(getcap "$BIN" 2>/dev/null | sed 's/^[^ ]* *=* *//')
	case "$have" in
	cap_dac_read_search,cap_sys_ptrace[=+]ep) ;;
	*) setcap "$CAPS" "$BIN" || die "setcap $CAPS $BIN failed"; note file-capabilities ;;
	esac
fi

# ---------------------------------------------------------------- service
unit_changed=
if [ "$init" = systemd ]; then
	src="$here/systemd/cairn-agent.service"
	[ "$generation" -lt 246 ] && src="$here/systemd/cairn-agent.service.systemd$generation"
	if install_file "$src" "$UNIT" 0644 root:root; then
		unit_changed=1
		note "unit(systemd $generation)"
		systemctl daemon-reload
	fi
	systemctl is-enabled --quiet cairn-agent.service 2>/dev/null ||
		{ systemctl enable cairn-agent.service >/dev/null 2>&1 && note enabled; }
else
	if install_file "$here/sysv/cairn-agent" "$INITD" 0755 root:root; then
		unit_changed=1
		note init-script
		if command -v chkconfig >/dev/null 2>&1; then chkconfig --add cairn-agent
		elif command -v update-rc.d >/dev/null 2>&1; then update-rc.d cairn-agent defaults >/dev/null
		fi
	fi
fi

if [ -n "$start" ]; then
	if ! is_running; then
		service start >/dev/null || die "starting cairn-agent failed (journalctl -u cairn-agent / /var/log/cairn-agent.log)"
		note started
	elif [ -n "$bin_changed$unit_changed" ]; then
		service restart >/dev/null || die "restarting cairn-agent failed"
		note restarted
	elif [ -n "$conf_changed" ]; then
		service reload >/dev/null || die "reloading cairn-agent failed"
		note reloaded
	fi
	# Verify: the agent writes its status within a few seconds of starting.
	i=0
	until "$BIN" status -c "$CONF" 2>/dev/null | grep -q '^agent: *running'; do
		i=$((i + 1))
		[ $i -le 50 ] || die "the agent does not report running after 10 s: $("$BIN" status -c "$CONF" 2>&1 | head -n 3)"
		sleep 0.2 2>/dev/null || sleep 1
	done
fi

if [ -z "$changed" ]; then
	echo "install.sh: cairn-agent $("$BIN" --version | cut -d' ' -f2) unchanged ($init${generation:+ $generation})"
else
	echo "install.sh: cairn-agent $("$BIN" --version | cut -d' ' -f2) installed ($init${generation:+ $generation}):$changed"
fi
