#!/bin/sh
# Identity and configuration commands of both programs, as an operator runs
# them: exit codes 0/1/2, key file modes, refusal of readable keys, file:line
# configuration errors. Usage: cli_identity.sh AGENT COLLECTOR
set -u
agent=$1
collector=$2
tmp=$(mktemp -d /tmp/cairn-it-cli-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() {
	echo "FAIL: $*" >&2
	fails=$((fails + 1))
}
expect_rc() { # WANT DESCRIPTION CMD...
	want=$1
	what=$2
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ "$rc" -eq "$want" ] || fail "$what: exit $rc, want $want; stderr: $(cat "$tmp/err")"
}

expect_rc 0 "agent --version" "$agent" --version
grep -q '^cairn-agent ' "$tmp/out" || fail "--version output: $(cat "$tmp/out")"
expect_rc 0 "agent --help" "$agent" --help
expect_rc 2 "agent without command" "$agent"
expect_rc 2 "agent unknown command" "$agent" frobnicate
expect_rc 2 "agent unknown option" "$agent" keygen --frobnicate --state-dir "$tmp/a"
[ -e "$tmp/a" ] && fail "a usage error must not create anything"

expect_rc 0 "keygen" "$agent" keygen --state-dir "$tmp/a"
id1=$(sed -n 's/^agent id: *//p' "$tmp/out")
[ ${#id1} -eq 64 ] || fail "keygen printed no 64-digit id: $(cat "$tmp/out")"
[ "$(stat -c %a "$tmp/a/agent.key")" = 600 ] || fail "agent.key mode $(stat -c %a "$tmp/a/agent.key")"
[ "$(stat -c %a "$tmp/a")" = 700 ] || fail "state dir mode $(stat -c %a "$tmp/a")"
expect_rc 0 "keygen again" "$agent" keygen --state-dir "$tmp/a"
grep -q "$id1" "$tmp/out" || fail "second keygen changed the key"
expect_rc 0 "id -q" "$agent" id -q --state-dir "$tmp/a"
[ "$(cat "$tmp/out")" = "$id1" ] || fail "id -q: $(cat "$tmp/out")"
expect_rc 0 "id --json" "$agent" id --json --state-dir "$tmp/a"
grep -q "\"agent_id\": \"$id1\"" "$tmp/out" || fail "id --json: $(cat "$tmp/out")"
expect_rc 1 "id without key" "$agent" id --state-dir "$tmp/none"
grep -q "cairn-agent keygen" "$tmp/err" || fail "id without key gives no hint: $(cat "$tmp/err")"

chmod 644 "$tmp/a/agent.key"
expect_rc 1 "id with 0644 key" "$agent" id --state-dir "$tmp/a"
grep -q "chmod 600 $tmp/a/agent.key" "$tmp/err" || fail "0644 refusal lacks the fix: $(cat "$tmp/err")"
chmod 600 "$tmp/a/agent.key"

# A mistyped --state-dir must not become a new collector identity: only
# `key create` and `serve` create the key (and the directory).
expect_rc 3 "key show of a missing state dir" "$collector" key show --state-dir "$tmp/c-typo"
[ ! -e "$tmp/c-typo" ] || fail "key show created $tmp/c-typo"
grep -q "no collector key at $tmp/c-typo/collector.key.*key create" "$tmp/err" ||
	fail "key show without a key: $(cat "$tmp/err")"
expect_rc 0 "key create" "$collector" key create --state-dir "$tmp/c"
grep -q "(created now)" "$tmp/out" || fail "key create did not say it created: $(cat "$tmp/out")"
expect_rc 0 "key show" "$collector" key show --state-dir "$tmp/c"
pk=$(sed -n 's/^public key: *//p' "$tmp/out")
[ ${#pk} -eq 64 ] || fail "key show printed no public key: $(cat "$tmp/out")"
expect_rc 0 "key show -q" "$collector" key show -q --state-dir "$tmp/c"
[ "$(cat "$tmp/out")" = "$pk" ] || fail "key show changed the key or -q output: $(cat "$tmp/out")"
[ "$(stat -c %a "$tmp/c/collector.key")" = 600 ] || fail "collector.key mode"
expect_rc 2 "key without show" "$collector" key --state-dir "$tmp/c"
expect_rc 2 "key unknown subcommand" "$collector" key list --state-dir "$tmp/c"

cat >"$tmp/agent.conf" <<CONF
[agent]
collector = 127.0.0.1:7415
collector_key = $pk
state_dir = $tmp/a
CONF
expect_rc 0 "check-config ok" "$agent" check-config -c "$tmp/agent.conf"
expect_rc 0 "keygen from config" "$agent" id -q -c "$tmp/agent.conf"
[ "$(cat "$tmp/out")" = "$id1" ] || fail "state_dir from the config file not used"

printf '[agent]\nsample_intervl = 15s\nspool_max = 12XB\n' >"$tmp/bad.conf"
expect_rc 2 "check-config errors" "$agent" check-config -c "$tmp/bad.conf"
grep -q "bad.conf:2: unknown key 'sample_intervl' in \[agent\] (did you mean 'sample_interval'?)" "$tmp/err" ||
	fail "no file:line + suggestion: $(cat "$tmp/err")"
grep -q "bad.conf:3: spool_max" "$tmp/err" || fail "second error not reported: $(cat "$tmp/err")"
expect_rc 2 "keygen with bad config" "$agent" keygen -c "$tmp/bad.conf"
expect_rc 2 "bad -o" "$agent" id -o report_interval=soon --state-dir "$tmp/a"
expect_rc 2 "misspelled secret -o" "$agent" id -o enrol_token=s3cr3t-xyz --state-dir "$tmp/a"
grep -q "s3cr3t" "$tmp/err" && fail "a misspelled enroll_token was echoed: $(cat "$tmp/err")"
grep -q "did you mean 'enroll_token'" "$tmp/err" || fail "no suggestion for enrol_token: $(cat "$tmp/err")"
expect_rc 2 "collector check-config token without file" "$collector" check-config -c /dev/null -o accept=token
expect_rc 0 "collector check-config --json" "$collector" check-config -c /dev/null --json -o accept=any
grep -q '"ok": true' "$tmp/out" || fail "check-config --json: $(cat "$tmp/out")"

# check-config checks what the file means on this machine, and reports every
# problem of one file in one run (a syntax error does not hide the others).
mkdir -p "$tmp/m" && chmod 700 "$tmp/m"
"$agent" keygen --state-dir "$tmp/m" >/dev/null 2>&1
chmod 644 "$tmp/m/agent.key"
cat >"$tmp/meaning.conf" <<CONF
[agent]
collector = 127.0.0.1:7415
enroll_token_file = $tmp/no-such-token
state_dir = $tmp/m
root = $tmp/no-such-root
sample_intervl = 15s
CONF
expect_rc 2 "check-config meaning" "$agent" check-config -c "$tmp/meaning.conf"
for want in "meaning.conf:6: unknown key 'sample_intervl'" \
	"collector is set but collector_key is not" \
	"enroll_token_file: $tmp/no-such-token: No such file or directory" \
	"root: $tmp/no-such-root: No such file or directory" \
	"chmod 600 $tmp/m/agent.key" \
	"5 errors in $tmp/meaning.conf"; do
	grep -qF "$want" "$tmp/err" || fail "check-config meaning: no '$want' in: $(cat "$tmp/err")"
done
expect_rc 2 "check-config meaning --json" "$agent" check-config -c "$tmp/meaning.conf" --json
grep -q '"ok": false' "$tmp/out" || fail "check-config --json ok: $(cat "$tmp/out")"
[ "$(grep -c "$tmp" "$tmp/out")" -ge 4 ] || fail "check-config --json lists every error: $(cat "$tmp/out")"
chmod 600 "$tmp/m/agent.key"
: >"$tmp/empty-token"
expect_rc 2 "check-config empty token file" "$agent" check-config -c /dev/null \
	-o enroll_token_file="$tmp/empty-token" --state-dir "$tmp/m"
grep -qF "$tmp/empty-token is empty" "$tmp/err" || fail "empty token file: $(cat "$tmp/err")"
echo tok >"$tmp/empty-token"
expect_rc 0 "check-config good token file" "$agent" check-config -c /dev/null \
	-o enroll_token_file="$tmp/empty-token" --state-dir "$tmp/m"
expect_rc 2 "check-config key without collector" "$agent" check-config -c /dev/null \
	-o collector_key="$pk" --state-dir "$tmp/m"
grep -q "collector_key is set but collector is not" "$tmp/err" || fail "key without collector: $(cat "$tmp/err")"

chmod 644 "$tmp/c/collector.key"
expect_rc 2 "collector check-config meaning" "$collector" check-config -c /dev/null \
	--state-dir "$tmp/c" -o accept=token -o enroll_token_file="$tmp/no-such-token" \
	-o catalog="$tmp/no-such.csv" -o max_connections=0
for want in "enroll_token_file: $tmp/no-such-token: No such file or directory" \
	"catalog: $tmp/no-such.csv: No such file or directory" \
	"chmod 600 $tmp/c/collector.key" "max_connections: must be at least 1" "4 errors"; do
	grep -qF "$want" "$tmp/err" || fail "collector check-config: no '$want' in: $(cat "$tmp/err")"
done
chmod 600 "$tmp/c/collector.key"
expect_rc 0 "collector check-config unused token file" "$collector" check-config -c /dev/null \
	--state-dir "$tmp/c" -o accept=explicit -o enroll_token_file="$tmp/empty-token"
grep -q "the token is not used" "$tmp/err" || fail "unused token file not warned: $(cat "$tmp/err")"

[ $fails -eq 0 ] && echo "cli_identity: all checks passed"
exit $((fails > 0))
