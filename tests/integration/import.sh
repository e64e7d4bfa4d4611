#!/bin/sh
# Importing servers without agents end to end (docs/import.md): a synthetic
# agent estate (cairn-estate + cairn-plan-enrich) plus the shipped mhub-csv of
# Windows servers, appliances and Linux VMs and the RVTools CSVs of an ESXi
# estate. Checks that the map resolves an agent host's connection to an
# imported server's address to that server, that an application mixes agent
# and imported hosts, that readiness, sizing and cost rows exist for the
# imported Windows servers, that re-import and export -> import change
# nothing, dry runs write nothing, and rejected rows give FILE:LINE and exit 4.
# Usage: import.sh COLLECTOR ESTATE PLAN_ENRICH FIXTURES_DIR
set -u
C=$1
estate=$2
enrich=$3
fx=$4
tmp=$(mktemp -d /tmp/cairn-it-import-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() {
	echo "FAIL: $*" >&2
	fails=$((fails + 1))
}
note() { echo "--- $*"; }
S="--state-dir $tmp/state"

"$estate" --state-dir "$tmp/state" --hosts 20 --seed 7 --write >/dev/null || { echo "estate failed"; exit 1; }
"$enrich" --state-dir "$tmp/state" >/dev/null || { echo "enrich failed"; exit 1; }

note "dry run writes nothing"
$C import mhub-csv "$fx/servers.csv" --dry-run $S >"$tmp/dry.txt" || fail "dry run exit $?"
grep -q "^dry run: .*9 rows: 8 new, 0 updated, 0 unchanged, 1 merged, 0 rejected (nothing written)" "$tmp/dry.txt" ||
	fail "dry run summary: $(tail -1 "$tmp/dry.txt")"
$C hosts $S | grep -q " import  " && fail "a dry run stored imported hosts"

note "import mhub-csv"
$C import mhub-csv "$fx/servers.csv" $S >"$tmp/imp.txt" || fail "import exit $?"
grep -q "servers.csv:8: shop-web-01 = agent host shop-web-01 [0-9a-f]* (by hostname+IP shop-web-01|10.1.0.25)" "$tmp/imp.txt" ||
	fail "the merge is shown: $(cat "$tmp/imp.txt")"
grep -q "9 rows: 8 new, 0 updated, 0 unchanged, 1 merged, 0 rejected$" "$tmp/imp.txt" || fail "summary: $(tail -1 "$tmp/imp.txt")"
$C import mhub-csv "$fx/servers.csv" $S --json >"$tmp/again.json" || fail "re-import exit $?"
python3 - "$tmp/again.json" <<'PY' || fail "re-import is not idempotent"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["unchanged"] == 9 and d["new"] == d["updated"] == d["merged"] == d["rejected"] == 0, d
assert not d["written"], d
PY

note "hosts, agents, host"
$C hosts $S >"$tmp/hosts.txt"
for h in pay-gw-01 pay-sql-01 fileserv-01 ad-dc-01 f5-lb-01 nas-01 build-01; do
	grep -q "^[0-9a-f]* *$h .* imported  *-  *import  " "$tmp/hosts.txt" || fail "hosts: $h not listed as imported"
done
grep -q " shop-web-01 .* agent+import  " "$tmp/hosts.txt" || fail "hosts: shop-web-01 not agent+import"
$C agents $S | grep -q "pay-gw-01" && fail "agents lists an imported server"
$C host pay-sql-01 $S >"$tmp/host.txt" || fail "host pay-sql-01 exit $?"
grep -q "^Import (mhub-csv, .*servers.csv:3," "$tmp/host.txt" || fail "host shows the import: $(cat "$tmp/host.txt")"
grep -q "Utilization (imported from .*servers.csv:3" "$tmp/host.txt" || fail "host shows imported utilization"
$C host shop-web-01 $S | grep -q "merged    into this agent host, matched by hostname+IP" || fail "host shows the merge"

note "Tags column: tags with source import; a person's tag wins over a later file"
$C tag list pay-sql-01 $S >"$tmp/tags.txt" || fail "tag list exit $?"
grep -q "environment *prod *import .*servers.csv:3" "$tmp/tags.txt" || fail "imported tag: $(cat "$tmp/tags.txt")"
$C hosts --tag environment=prod $S | grep -q " pay-gw-01 " || fail "hosts --tag environment=prod misses an imported server"
$C tag set pay-sql-01 owner=alice $S >/dev/null || fail "tag set exit $?"
sed 's/owner:dba/owner:dba-team/' "$fx/servers.csv" >"$tmp/servers2.csv"
$C import mhub-csv "$tmp/servers2.csv" $S | grep -q "1 updated" || fail "a later file updates"
$C tag list pay-sql-01 $S | grep -q "owner *alice *person" || fail "an import replaced a person's tag"

note "the map resolves to imported servers"
$C deps --fresh --json $S >"$tmp/deps.json" || fail "deps exit $?"
python3 - "$tmp/deps.json" <<'PY' || fail "map: the connection to 52.10.0.1 does not reach pay-gw-01"
import json, sys
d = json.load(open(sys.argv[1]))
n = {x["id"]: x for x in d["nodes"]}
assert not any(x["id"].startswith("ext:52.10.0.1") for x in d["nodes"]), "still an external node"
to = [e for e in d["edges"] if n[e["to"]]["name"] == "pay-gw-01"]
assert to and n[to[0]["to"]]["kind"] == "HOST" and n[to[0]["from"]]["name"].startswith("billing-batch"), to
PY

note "applications mix agent and imported hosts"
$C apps --fresh --json $S >"$tmp/apps.json" || fail "apps exit $?"
$C hosts --json $S >"$tmp/hosts.json"
python3 - "$tmp/apps.json" "$tmp/hosts.json" <<'PY' || fail "applications"
import json, sys
apps = json.load(open(sys.argv[1]))["apps"]
src = {h["id"]: h["source"] for h in json.load(open(sys.argv[2]))}
name = {a["name"]: a for a in apps}
pay = name["Payments"]
assert pay["named_from"] == "import" and len(pay["hosts"]) == 3, pay
shop = name["shop"]
kinds = {src[h] for h in shop["hosts"]}
assert {"agent", "agent+import", "import"} <= kinds, kinds
PY

note "readiness, sizing, cost for imported Windows servers"
$C readiness --fresh --json $S >"$tmp/r.json" || fail "readiness exit $?"
$C sizing --json $S >"$tmp/z.json" || fail "sizing exit $?"
$C cost --json $S >"$tmp/c.json" || fail "cost exit $?"
python3 - "$tmp/r.json" "$tmp/z.json" "$tmp/c.json" <<'PY' || fail "planning rows of imported servers"
import json, sys
r = {x["name"]: x for x in json.load(open(sys.argv[1]))["readiness"] if x["kind"] == "host"}
z = json.load(open(sys.argv[2]))["sizing"]
c = {x["name"]: x for x in json.load(open(sys.argv[3]))["hosts"]}
for h in ("pay-gw-01", "pay-sql-01", "ad-dc-01"):
    codes = [x["code"] for x in r[h]["reasons"]]
    assert "imported" in codes and "os_unknown" in codes, (h, codes)
    assert r[h]["confidence"] == 3, (h, r[h]["confidence"])
    assert h in c and c[h]["rightsized_monthly_usd"] > 0, (h, c.get(h))
assert r["fileserv-01"]["confidence"] == 1, r["fileserv-01"]
assert any("too_little_data" == x["code"] for x in r["fileserv-01"]["reasons"])
assert r["legacy-app-01"]["category"] == "Not ready", r["legacy-app-01"]
notes = [x["note"] for x in z if "imported" in x["note"]]
assert any("stands in for the percentile" in n for n in notes), notes
PY

note "waves follow ApplicationWave"
$C plan waves $S >"$tmp/waves.txt" || fail "plan waves exit $?"
grep -q "Payments .*pinned to wave 2 by import" "$tmp/waves.txt" || fail "imported wave pin: $(cat "$tmp/waves.txt")"

note "export mhub-csv round-trips"
$C export mhub-csv -o "$tmp/out.csv" $S >/dev/null || fail "export exit $?"
$C import mhub-csv "$tmp/out.csv" $S >"$tmp/rt.txt" || fail "round-trip import exit $?"
grep -q "0 new, 0 updated, [0-9]* unchanged, 0 merged, 0 rejected (nothing to write)" "$tmp/rt.txt" ||
	fail "export -> import changed something: $(cat "$tmp/rt.txt")"

note "rejected rows: FILE:LINE: column: reason, exit 4, the rest imported"
printf 'HostName,IPAddress,MACAddress,RAM.TotalSizeInMB\r\nok-01,10.77.0.1,,1024\r\nbad-01,10.77.0.300,,1024\r\nbad-02,10.77.0.3,zz,1024\r\nbad-03,10.77.0.4,,-5\r\n' >"$tmp/bad.csv"
$C import mhub-csv "$tmp/bad.csv" $S >"$tmp/bad.out" 2>"$tmp/bad.err"
rc=$?
[ $rc -eq 4 ] || fail "rejected rows: exit $rc, want 4"
grep -q "bad.csv:3: IPAddress: '10.77.0.300' is not an IP address" "$tmp/bad.err" || fail "bad IP line: $(cat "$tmp/bad.err")"
grep -q "bad.csv:4: MACAddress: 'zz' is not a MAC address" "$tmp/bad.err" || fail "bad MAC line"
grep -q "bad.csv:5: RAM.TotalSizeInMB: -5 is negative" "$tmp/bad.err" || fail "negative RAM line"
grep -q "4 rows: 1 new, 0 updated, 0 unchanged, 0 merged, 3 rejected" "$tmp/bad.out" || fail "bad summary: $(cat "$tmp/bad.out")"
$C import mhub-csv "$tmp/missing.csv" $S 2>/dev/null
[ $? -eq 3 ] || fail "a missing file is 'not found' (exit 3)"

note "import rvtools"
$C import rvtools "$fx/rvtools" $S >"$tmp/rv.txt" || fail "rvtools exit $?"
grep -q "8 rows: 7 new, 0 updated, 0 unchanged, 0 merged, 0 rejected" "$tmp/rv.txt" || fail "rvtools summary: $(cat "$tmp/rv.txt")"
grep -q "1 template(s) skipped" "$tmp/rv.txt" || fail "template note"
$C import rvtools "$fx/rvtools" $S | grep -q "0 new, 0 updated, 7 unchanged" || fail "rvtools re-import"
$C readiness old-erp-2008 --fresh $S | grep -q "Strategy: Retire" || fail "a powered-off VM is a Retire candidate"
$C host sql01 $S | grep -q "vmware    ESX-SQL01 vm-202 on esx01.lab.example" || fail "host shows the VMware placement"

[ $fails -eq 0 ] && echo "import: all checks passed"
exit $((fails > 0))
