#!/bin/sh
# The collector's command line as a new user meets it (docs/operations.md,
# cairn-collector(8)): one exit-code rule (0 ok, 1 runtime, 2 usage,
# 3 not found, 4 check failed), usage errors in one line + "Try --help",
# refusals that say why, --sort, name order and deps --unresolved.
# Usage: cli_rules.sh COLLECTOR ESTATE MANPAGE
set -u
C=$1
estate=$2
man=$3
tmp=$(mktemp -d /tmp/cairn-it-rules-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() {
	echo "FAIL: $*" >&2
	fails=$((fails + 1))
}
S="--state-dir $tmp/state"
expect_rc() { # WANT DESCRIPTION ARGS...
	want=$1
	what=$2
	shift 2
	$C "$@" $S >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ "$rc" -eq "$want" ] || fail "$what: exit $rc, want $want; stderr: $(cat "$tmp/err")"
}
"$estate" --state-dir "$tmp/state" --hosts 20 --seed 7 --write >/dev/null || { echo "estate failed"; exit 1; }

# 3: what was named does not exist, the same in every command
for args in "host no-such" "deps --host no-such" "deps --app no-such" "apps show no-such" \
	"apps split no-such x" "readiness no-such" "migrate set no-such IN_PROGRESS" \
	"validate no-such shop-web-01" "agents accept no-such"; do
	expect_rc 3 "$args" $args
	[ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "$args: not one line: $(cat "$tmp/err")"
done
expect_rc 3 "split of a host not in the app" apps split shop billing-db-01

# 2: usage errors, one line and where the help is
for args in "deps --bogus" "hosts --sort" "frobnicate" "apps frob" "deps --level process" \
	"sizing --mode median" "deps --host a --app b"; do
	expect_rc 2 "$args" $args
	[ "$(wc -l <"$tmp/err")" -le 2 ] || fail "$args: more than one line + try --help: $(cat "$tmp/err")"
done
expect_rc 2 "unknown option" deps --bogus
grep -q "^Try 'cairn-collector deps --help'" "$tmp/err" || fail "no try --help: $(cat "$tmp/err")"
expect_rc 2 "level process" deps --level process
grep -q "no level per process id" "$tmp/err" || fail "--level process does not say why: $(cat "$tmp/err")"
expect_rc 2 "serve with port 99999" serve --listen :99999
grep -q "is not ADDR:PORT with a port of 0-65535" "$tmp/err" || fail "serve --listen :99999 does not say why: $(cat "$tmp/err")"

# what --help documents works
expect_rc 0 "sizing --mode p --percentile 90" sizing --mode p --percentile 90
grep -q "sizing p90" "$tmp/out" || fail "--mode p --percentile 90 is not p90: $(head -2 "$tmp/out")"

# 4: validate's check failed is not "no such host"
expect_rc 4 "validate of two different hosts" validate shop-web-01 billing-db-01
grep -q "MISSING" "$tmp/out" || fail "validate 4 without a MISSING line"

# apps rename refuses a taken name, --merge merges
expect_rc 2 "rename onto a taken name" apps rename billing shop
grep -q "is already named 'shop'" "$tmp/err" || fail "rename refusal: $(cat "$tmp/err")"
expect_rc 0 "apps show shop still unique" apps show shop
expect_rc 0 "rename --merge" apps rename billing shop --merge
grep -q "^merged billing into shop" "$tmp/out" || fail "rename --merge: $(cat "$tmp/out")"
expect_rc 3 "billing is gone after the merge" apps show billing
expect_rc 0 "deps --app shop after the merge" deps --app shop

# order: by name by default, --sort by any column
expect_rc 0 "hosts" hosts
sed -n '2,$p' "$tmp/out" | awk '{print $2}' >"$tmp/names"
sort -c "$tmp/names" 2>/dev/null || fail "hosts not in name order: $(cat "$tmp/names" | tr '\n' ' ')"
expect_rc 0 "cost --sort saving" cost --sort saving
awk '/^HOST /{f=1;next} f&&NF==0{exit} f{print $NF}' "$tmp/out" >"$tmp/saving"
sort -g -c "$tmp/saving" 2>/dev/null || fail "cost --sort saving: $(cat "$tmp/saving" | tr '\n' ' ')"
expect_rc 0 "hosts --sort bogus" hosts --sort bogus
grep -q "no column 'bogus'" "$tmp/err" || fail "--sort of an unknown column is not reported"

# filters: --app, --until
expect_rc 0 "sizing --app shop --json" sizing --app shop --json
napp=$(python3 -c "import json,sys; print(len(json.load(open('$tmp/out'))['sizing']))")
expect_rc 0 "sizing --json" sizing --json
nall=$(python3 -c "import json,sys; print(len(json.load(open('$tmp/out'))['sizing']))")
[ "$napp" -ge 5 ] && [ "$napp" -lt "$nall" ] || fail "sizing --app shop: $napp of $nall hosts"
expect_rc 2 "cost --app is refused, not ignored" cost --app shop
expect_rc 3 "sizing --app of an unknown application" sizing --app no-such
expect_rc 0 "hosts --app shop" hosts --app shop --wide
[ "$(sed -n '2,$p' "$tmp/out" | awk '{print $NF}' | sort -u)" = "shop" ] ||
	fail "hosts --app shop lists other applications' hosts: $(cat "$tmp/out")"
[ "$(($(wc -l <"$tmp/out") - 1))" -ge 5 ] || fail "hosts --app shop lists too few hosts"
expect_rc 3 "hosts --app of an unknown application" hosts --app no-such
expect_rc 2 "plan waves --app is refused, not ignored" plan waves --app shop
expect_rc 0 "readiness --until --since" readiness --until 2026-11-30 --since 1d
grep -q "period since 2026-11-29 00:00 UTC" "$tmp/out" || fail "--until does not end the period: $(head -1 "$tmp/out")"
expect_rc 2 "readiness --until garbage" readiness --until yesterday

# unresolved endpoints listed, not only counted
expect_rc 0 "deps --unresolved" deps --unresolved --wide
grep -q "52.10.0.1" "$tmp/out" || fail "deps --unresolved does not list the external endpoint: $(cat "$tmp/out")"
grep -q "to unresolved endpoints" "$tmp/out" || fail "deps --unresolved summary"

# long work shows progress on a terminal, and nothing when stderr is not one
expect_rc 0 "export json to a file" export json -o "$tmp/inv.json"
[ "$(cat "$tmp/err")" = "wrote $tmp/inv.json" ] || fail "export wrote more than its result to a non-terminal: $(cat -A "$tmp/err")"
if command -v script >/dev/null; then
	script -qec "$C export json -o $tmp/inv2.json $S" "$tmp/tty" >/dev/null 2>&1
	grep -q "export: 22/22 hosts" "$tmp/tty" || fail "no progress line on a terminal: $(cat -A "$tmp/tty")"
fi

# the man page documents every subcommand and flag --help shows
for c in serve key agents hosts host deps apps readiness sizing cost plan migrate progress \
	validate export check-config; do
	grep -q "^\.B.* $c\b\|^\.B $c\|^\.BR.*$c" "$man" || fail "cairn-collector(8) has no '$c'"
	for f in $($C $c --help 2>&1 | grep -o -- '--[a-z][a-z-]*' | sort -u); do
		grep -q -- "$(echo "$f" | sed 's/-/\\\\-/g')" "$man" || fail "cairn-collector(8) lacks $c $f"
	done
done
grep -q '^What was named does not exist' "$man" || fail "cairn-collector(8) has no exit code 3"

[ $fails -eq 0 ] && echo "cli_rules: all checks passed"
exit $((fails > 0))
