#!/bin/sh
# Planning end to end over a store: a 50-host synthetic estate (cairn-estate)
# enriched with OS, sizes, perf and processes (cairn-plan-enrich), then every
# planning command as a person and a program would run it: readiness (table,
# one host, JSON), sizing modes, cost, plan waves, migrate/progress, validate,
# all exports parsed back (Python csv and json), and the error paths' exit
# codes and messages.
# Usage: planning.sh COLLECTOR ESTATE PLAN_ENRICH CHECK_CSV_PY
set -u
C=$1
estate=$2
enrich=$3
checkcsv=$4
tmp=$(mktemp -d /tmp/cairn-it-plan-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() {
	echo "FAIL: $*" >&2
	fails=$((fails + 1))
}
note() { echo "--- $*"; }
S="--state-dir $tmp/state"

"$estate" --state-dir "$tmp/state" --hosts 50 --seed 7 --write >/dev/null || { echo "estate failed"; exit 1; }
"$enrich" --state-dir "$tmp/state" || { echo "enrich failed"; exit 1; }

note "readiness"
$C readiness $S >"$tmp/r.txt" || fail "readiness exit $?"
for s in Rehost Replatform Retire Retain Relocate Refactor; do
	grep -q " $s " "$tmp/r.txt" || fail "no $s strategy in the readiness table"
done
for c in os_eol os_unsupported hardware_dongle idle; do
	grep -q "$c" "$tmp/r.txt" || fail "reason $c missing"
done
grep -q "^Hosts: .* ready" "$tmp/r.txt" || fail "readiness summary line"
grep -q "^Assessment period 7d; data coverage [0-9]* % of the expected report windows" "$tmp/r.txt" ||
	fail "readiness header states period and coverage: $(head -3 "$tmp/r.txt")"
$C readiness --since 1d --json $S | python3 -c "
import json,sys
d=json.load(sys.stdin)
hosts=[x for x in d['readiness'] if x['kind']=='host']
for x in hosts:
    want=min(5,max(1,-(-round(x['coverage']*100)//20)))
    assert x['confidence']==want or abs(x['coverage']*100-round(x['coverage']*100))>0.4, (x['target'],x['coverage'],x['confidence'])
" || fail "readiness --since 1d: confidence is not the Azure buckets of coverage"
$C readiness billing-batch-02 $S >"$tmp/one.txt" || fail "readiness HOST"
grep -q "hardware_dongle" "$tmp/one.txt" || fail "dongle host explained: $(cat "$tmp/one.txt")"
grep -q "Strategy: Retain" "$tmp/one.txt" || fail "dongle host Retain"
$C readiness --json $S >"$tmp/r.json" || fail "readiness --json"
python3 - "$tmp/r.json" <<'PY' || fail "readiness JSON"
import json, sys
d = json.load(open(sys.argv[1]))
r = d["readiness"]
hosts = [x for x in r if x["kind"] == "host"]
assert len(hosts) == 51, len(hosts)
for x in r:
    assert 0 <= x["score"] <= 100 and 1 <= x["confidence"] <= 5
    assert x["category"] in ("Ready", "Conditionally ready", "Not ready", "Unknown")
    assert x["strategy_reasons"], x["target"]
PY

note "sizing and cost"
$C sizing $S >"$tmp/s.txt" || fail "sizing"
[ "$(grep -c ' p95 ' "$tmp/s.txt")" -eq 51 ] || fail "sizing rows: $(grep -c ' p95 ' "$tmp/s.txt")"
grep -q "2026-07-20" "$tmp/s.txt" || fail "catalog date beside prices"
$C sizing --mode max --comfort 1.5 --json $S >"$tmp/smax.json" || fail "sizing --mode max"
python3 -c "
import json,sys
d=json.load(open('$tmp/smax.json'))
assert d['mode']=='max' and len(d['sizing'])==51
assert all(abs(z['comfort']-1.5)<1e-9 for z in d['sizing'])
" || fail "sizing --mode max JSON"
grep -q "EBS prices as of 2024-07-01 (us-east-1): EBS is older" "$tmp/s.txt" ||
	fail "sizing footer does not say why EBS and EC2 prices differ: $(tail -1 "$tmp/s.txt")"
$C cost $S >"$tmp/c.txt" || fail "cost"
grep -q "^TOTAL 51 hosts: as-is" "$tmp/c.txt" || fail "cost total: $(tail -1 "$tmp/c.txt")"
grep -q "^EC2 prices as of 2026-07-20, EBS prices as of 2024-07-01 (us-east-1): EBS is older" \
	"$tmp/c.txt" || fail "cost header does not say why EBS and EC2 prices differ"
$C cost --json $S | grep -q '"price_dates": "EC2 prices as of 2026-07-20, EBS prices as of 2024-07-01 (us-east-1): EBS is older' ||
	fail "cost --json has no price_dates reason"
$C cost --json $S | python3 -c "
import json,sys
d=json.load(sys.stdin)
t=d['total']
assert t['hosts']==51 and t['rightsized_monthly_usd']>0 and t['asis_monthly_usd']>=t['rightsized_monthly_usd']
assert abs(sum(h['asis_monthly_usd'] for h in d['hosts'])-t['asis_monthly_usd'])<0.01
" || fail "cost JSON totals"

note "plan waves"
$C plan waves --max-hosts 15 $S >"$tmp/w.txt" || fail "plan waves"
grep -q "^Wave 1 " "$tmp/w.txt" || fail "wave 1"
grep -q "shared infrastructure" "$tmp/w.txt" || fail "infrastructure first"
grep -q "^Not migrated" "$tmp/w.txt" || fail "Retire/Retain apps listed apart"
$C plan waves --max-hosts 15 --json $S | python3 -c "
import json,sys
d=json.load(sys.stdin)
assert d['max_hosts']==15
for w in d['waves']:
    assert all(a['why'] for a in w['apps'])
" || fail "plan waves JSON"

$C plan pin wiki 7 $S >/dev/null || fail "plan pin"
$C plan waves --json $S | python3 -c "
import json,sys
d=json.load(sys.stdin)
w={a['name']:x['number'] for x in d['waves'] for a in x['apps']}
assert w['wiki']==7, w
" || fail "pinned app not in its wave"
$C plan unpin wiki $S >/dev/null || fail "plan unpin"
$C plan waves --json $S | python3 -c "
import json,sys
d=json.load(sys.stdin)
w={a['name']:x['number'] for x in d['waves'] for a in x['apps']}
assert w['wiki']!=7, w
" || fail "unpinned app still in wave 7"
$C plan pin shop-web-01 2 $S 2>/dev/null; [ $? -eq 2 ] || fail "pinning a host is a usage error"

note "wave rules: score, confidence, reasons, --explain"
$C plan waves --json $S | python3 -c "
import json,sys
d=json.load(sys.stdin)
codes=[r['code'] for r in d['rules']]
assert codes==['pin','two_way','whole_app','dependency_order','env_order','env_separate','critical_late','infra_first','wave_size'], codes
assert d['critical_after']==1 and d['min_hosts']==0, d
for w in d['waves']:
    assert 0<=w['score']<=100 and 1<=w['confidence']<=5 and w['reasons'], w['number']
    for a in w['apps']:
        assert a['rules'] and all(r['code'] and r['text'] for r in a['rules']), a
" || fail "plan waves JSON: rules, score, confidence, reasons"
$C plan waves --explain shop $S >"$tmp/explain.txt" || fail "plan waves --explain"
grep -q "^shop (.*): wave [0-9]* of [0-9]*" "$tmp/explain.txt" || fail "explain header: $(head -1 "$tmp/explain.txt")"
grep -q "^Placed by" "$tmp/explain.txt" || fail "explain lists the rules that placed it"
grep -q "^  dependency_order  depends on " "$tmp/explain.txt" || fail "explain: shop depends on infrastructure: $(cat "$tmp/explain.txt")"
grep -q "^Wave [0-9]*: score [0-9]*/100, confidence [1-5]/5" "$tmp/explain.txt" || fail "explain: wave score"
$C plan waves --explain shop --json $S | python3 -c "
import json,sys
d=json.load(sys.stdin)
assert d['app']['name']=='shop' and d['wave']>=2 and d['app']['rules'], d
" || fail "plan waves --explain --json"
$C plan waves --explain billing $S | grep -q "in no wave: strategy Retain" || fail "explain a Retain app"
$C plan waves --explain nosuchapp $S 2>/dev/null; [ $? -eq 3 ] || fail "explain an unknown app: exit 3"
$C plan waves --min-hosts 30 --max-hosts 10 $S 2>/dev/null; [ $? -eq 2 ] || fail "min above max is a usage error"
$C plan waves --min-hosts 6 --max-hosts 15 --json $S | python3 -c "
import json,sys
d=json.load(sys.stdin)
assert d['min_hosts']==6 and d['max_hosts']==15, d
small=[w for w in d['waves'] if w['hosts']<6]
for w in small:
    assert any('fewer than --min-hosts 6' in x for x in w['warnings']), w
" || fail "--min-hosts: waves below the minimum are reported"

note "plan export, edit, import (pins), re-import changes nothing"
$C plan export -o "$tmp/plan.csv" $S 2>/dev/null || fail "plan export"
python3 - "$tmp/plan.csv" "$tmp/edited.csv" <<'PY' || fail "plan CSV columns / edit"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
want = ["Wave", "Application", "AppId", "Hosts", "Environment", "Criticality", "Score",
        "Confidence", "Rules", "Reasons", "Pinned"]
assert list(rows[0].keys()) == want, list(rows[0].keys())
moving = [r for r in rows if r["Wave"]]
assert any(r["Application"] == "billing" and not r["Wave"] for r in rows), "Retain app without a wave"
last = max(int(r["Wave"]) for r in moving)
for r in rows:
    if r["Application"] == "wiki":
        assert r["Wave"] != str(last + 1)
        r["Wave"] = str(last + 1)          # the edit: wiki into a new last wave
bad1 = dict(rows[0], Application="nosuch", AppId="app-nosuch")
bad2 = dict(rows[1], Wave="soon")
rows += [bad1, bad2]
w = csv.DictWriter(open(sys.argv[2], "w", newline=""), fieldnames=want)
w.writeheader()
w.writerows(rows)
print(last + 1, file=open(sys.argv[2] + ".wave", "w"))
PY
want_wave=$(cat "$tmp/edited.csv.wave")
nrows=$(($(wc -l <"$tmp/edited.csv") - 1))
$C plan import "$tmp/edited.csv" --dry-run $S >"$tmp/dry.txt" 2>"$tmp/dry.err"; rc=$?
[ $rc -eq 1 ] || fail "import with rejected rows: exit $rc, want 1"
grep -q "edited.csv:[0-9]*: wiki: wave [0-9]* -> $want_wave (would pin)" "$tmp/dry.txt" || fail "dry run: $(cat "$tmp/dry.txt")"
grep -q "edited.csv:$((nrows)): AppId: no application 'app-nosuch'" "$tmp/dry.err" || fail "unknown app as FILE:LINE: column: $(cat "$tmp/dry.err")"
grep -q "edited.csv:$((nrows + 1)): Wave: 'soon' is not a wave number" "$tmp/dry.err" || fail "bad wave as FILE:LINE: column: $(cat "$tmp/dry.err")"
$C plan waves --json $S | python3 -c "
import json,sys
d=json.load(sys.stdin)
w={a['name']:x['number'] for x in d['waves'] for a in x['apps']}
assert w['wiki']!=$want_wave, w
" || fail "a dry run changed the plan"
$C plan import "$tmp/edited.csv" $S >"$tmp/imp.txt" 2>/dev/null
grep -q "1 pinned" "$tmp/imp.txt" || fail "import: $(cat "$tmp/imp.txt")"
$C plan waves --json $S | python3 -c "
import json,sys
d=json.load(sys.stdin)
w={a['name']:(x['number'],a) for x in d['waves'] for a in x['apps']}
n,a=w['wiki']
assert n==$want_wave and a['pinned'] and a['pinned_by'] and a['rules'][0]['code']=='pin', (n,a)
" || fail "the next plan has not the edited placement"
$C plan waves --json $S | python3 -c "
import csv,json,sys
d=json.load(sys.stdin)
w={a['id']:x['number'] for x in d['waves'] for a in x['apps']}
rows=[r for r in csv.DictReader(open('$tmp/edited.csv')) if r['Wave'].isdigit() and r['AppId'] in w]
assert len(rows) >= 3, rows
bad=[(r['Application'],r['Wave'],w[r['AppId']]) for r in rows if int(r['Wave'])!=w[r['AppId']]]
assert not bad, bad
" || fail "the next plan is not the file's plan (every row where the file put it)"
$C plan export -o "$tmp/plan2.csv" $S 2>/dev/null || fail "plan export again"
$C plan import "$tmp/plan2.csv" $S >"$tmp/imp2.txt" || fail "re-import of an unedited export: exit $?"
grep -q " 0 pinned, .* 0 rejected" "$tmp/imp2.txt" || fail "re-import changed something: $(cat "$tmp/imp2.txt")"
# the imported plan pinned every application; the later checks plan freely again
for a in $($C plan waves --json $S | python3 -c "
import json,sys
print(' '.join(a['id'] for x in json.load(sys.stdin)['waves'] for a in x['apps'] if a['pinned']))"); do
	$C plan unpin "$a" $S >/dev/null || fail "plan unpin $a"
done
printf 'Name,Wave2\nx,1\n' >"$tmp/nohdr.csv"
$C plan import "$tmp/nohdr.csv" $S 2>"$tmp/nohdr.err"; [ $? -eq 2 ] || fail "a file without the columns: exit 2"
grep -q "nohdr.csv:1: the header needs the columns Wave and AppId or Application" "$tmp/nohdr.err" ||
	fail "header error: $(cat "$tmp/nohdr.err")"
$C plan unpin wiki $S >/dev/null || fail "plan unpin after import"

note "migrate, progress"
$C migrate set shop IN_PROGRESS --progress 40 --note "rehearsal, done" $S >/dev/null || fail "migrate set app"
$C migrate set shop-db-01 COMPLETED $S >/dev/null || fail "migrate set host"
$C migrate set shop-db-01 FAILED --note "rollback" $S >/dev/null || fail "migrate set host again"
$C migrate history shop-db-01 $S >"$tmp/h.txt" || fail "migrate history"
[ "$(grep -cE 'COMPLETED|FAILED' "$tmp/h.txt")" -eq 2 ] || fail "history has both changes: $(cat "$tmp/h.txt")"
$C progress --json $S | python3 -c "
import json,sys
d=json.load(sys.stdin)
apps={a['name']:a for w in d['waves'] for a in w['apps']}
assert apps['shop']['state']=='IN_PROGRESS' and abs(apps['shop']['percent']-40)<1e-6, apps['shop']
" || fail "progress JSON"
$C migrate set shop DONE $S 2>"$tmp/err"; rc=$?
[ $rc -eq 2 ] || fail "bad state exit $rc"

note "validate"
$C validate shop-web-01 shop-web-02 $S >"$tmp/v.txt"; rc=$?
[ $rc -eq 0 ] || [ $rc -eq 4 ] || fail "validate exit $rc (0 ok, 4 check failed)"
$C validate no-such-host shop-web-02 $S 2>/dev/null; [ $? -eq 3 ] || fail "validate of an unknown host is not-found (3), not a failed check"
grep -q "^listener" "$tmp/v.txt" || fail "validate compares listeners"
$C validate shop-web-01 shop-web-01 $S 2>/dev/null; [ $? -eq 2 ] || fail "validate same host is a usage error"

note "exports"
mkdir -p "$tmp/out"
$C export mhub-csv -o "$tmp/out/mhub.csv" $S 2>/dev/null || fail "export mhub-csv"
$C export ads-csv "$tmp/out/ads" $S 2>/dev/null || fail "export ads-csv"
$C export json -o "$tmp/out/inv.json" $S 2>/dev/null || fail "export json"
$C export dot -o "$tmp/out/map.dot" $S 2>/dev/null || fail "export dot"
python3 "$checkcsv" "$tmp/out" >"$tmp/csv.txt" || fail "CSV check: $(cat "$tmp/csv.txt")"
[ "$(($(wc -l <"$tmp/out/mhub.csv") - 1))" -eq 51 ] || fail "mhub rows"
python3 -c "
import json
d=json.load(open('$tmp/out/inv.json'))
assert d['schema']=='cairn-export/1' and len(d['hosts'])==51
assert all(h['readiness'] and h['sizing'] for h in d['hosts'])
" || fail "json export"
grep -q "^digraph cairn" "$tmp/out/map.dot" || fail "dot export"
if command -v dot >/dev/null; then dot -Tsvg "$tmp/out/map.dot" -o "$tmp/out/map.svg" || fail "dot does not parse"; fi

note "errors"
$C readiness no-such-host $S 2>"$tmp/err"; rc=$?
[ $rc -eq 3 ] && grep -q "no host or application 'no-such-host'" "$tmp/err" || fail "unknown host: $rc $(cat "$tmp/err")"
[ "$(wc -l <"$tmp/err")" -le 2 ] || fail "an error is one line, not the help: $(cat "$tmp/err")"
$C sizing --mode median $S 2>"$tmp/err"
[ "$(wc -l <"$tmp/err")" -eq 2 ] && grep -q "^Try 'cairn-collector sizing --help'" "$tmp/err" ||
	fail "a usage error is one line + try --help: $(cat "$tmp/err")"
$C readiness shop-web-0 $S 2>"$tmp/err"; grep -q "did you mean" "$tmp/err" || fail "no suggestion: $(cat "$tmp/err")"
$C sizing --mode median $S 2>/dev/null; [ $? -eq 2 ] || fail "bad --mode is a usage error"
printf 'instance_type,family,vcpu,memory_gib,linux_on_demand_usd_per_hour,region,as_of\nx.large,x,two,4,0.1,r,2026-01-01\n' >"$tmp/bad.csv"
$C sizing --catalog "$tmp/bad.csv" $S 2>"$tmp/err"; rc=$?
[ $rc -eq 1 ] && grep -q "bad.csv:2: vcpu 'two'" "$tmp/err" || fail "bad catalog: $rc $(cat "$tmp/err")"
$C plan bogus $S 2>/dev/null; [ $? -eq 2 ] || fail "plan bogus"
$C store bogus $S 2>/dev/null; [ $? -eq 2 ] || fail "store bogus"
$C store stats --days x $S 2>/dev/null; [ $? -eq 2 ] || fail "store stats --days x"
$C export xml $S 2>/dev/null; [ $? -eq 2 ] || fail "export xml"

note "tags"
# a person labels hosts and applications; every planning view filters by them
$C tag set hr environment=UAT criticality=critical owner="team hr" $S >"$tmp/tg.txt" || fail "tag set exit $?"
grep -q "environment  *test  *person" "$tmp/tg.txt" || fail "tag set: folded value shown: $(cat "$tmp/tg.txt")"
$C tag set billing-batch-02 environment=prod $S >/dev/null || fail "tag set host"
$C tag set hr environment=moon $S 2>"$tmp/err"; rc=$?
[ $rc -eq 2 ] && grep -q "use one of prod, staging, test, dev" "$tmp/err" || fail "bad environment: $rc $(cat "$tmp/err")"
$C tag set nosuchthing a=b $S 2>/dev/null; [ $? -eq 3 ] || fail "tag set on an unknown target: exit 3"
$C tag set hr novalue $S 2>/dev/null; [ $? -eq 2 ] || fail "tag without '=': exit 2"
$C readiness --tag environment=test --json $S | python3 -c "
import json,sys
r=json.load(sys.stdin)['readiness']
names=sorted(x['name'] for x in r)
assert [x for x in r if x['kind']=='app'] and all(x['name']=='hr' for x in r if x['kind']=='app'), names
assert len([x for x in r if x['kind']=='host'])==9 and all(n.startswith('hr') for n in names), names
" || fail "readiness --tag environment=test: only hr and its 9 hosts"
$C sizing --tag environment=prod $S >"$tmp/sz.txt" || fail "sizing --tag exit $?"
[ "$(grep -c "^billing-bat.* p95 " "$tmp/sz.txt")" -eq 1 ] && ! grep -q "^hr-" "$tmp/sz.txt" || fail "sizing --tag environment=prod: $(cat "$tmp/sz.txt")"
$C cost --tag criticality=high --json $S | python3 -c "
import json,sys
d=json.load(sys.stdin)
assert {h['app'] for h in d['hosts']}=={'hr'} and len(d['hosts'])==9, d['hosts']
assert [a['name'] for a in d['apps']]==['hr'], d['apps']
" || fail "cost --tag criticality=high: hr only"
$C plan waves --tag environment=test --json $S | python3 -c "
import json,sys
d=json.load(sys.stdin)
apps=[a for w in d['waves'] for a in w['apps']]
assert len(apps)==1, apps
" || fail "plan waves --tag: only hr's entry"
$C apps --tag owner="team hr" --json $S | python3 -c "
import json,sys
a=json.load(sys.stdin)['apps']
assert [x['name'] for x in a]==['hr'] and a[0]['tags']['owner']=='team hr', a
" || fail "apps --tag owner: hr with its tags"
$C host billing-batch-02 $S | grep -q "^tags: *environment=prod (person" || fail "host shows its tags"
$C export mhub-csv --tag environment=test -o "$tmp/tag.csv" $S >/dev/null || fail "export --tag"
[ "$(($(wc -l <"$tmp/tag.csv") - 1))" -eq 9 ] || fail "export mhub-csv --tag: 9 rows, got $(wc -l <"$tmp/tag.csv")"
$C tag rm hr owner $S >/dev/null || fail "tag rm"
$C tag list hr --json $S | python3 -c "
import json,sys
t=json.load(sys.stdin)[0]['tags']
assert sorted(x['key'] for x in t)==['criticality','environment'], t
" || fail "tag rm: owner gone"
$C readiness --tag environment=staging $S | grep -q "no host or application has that tag" || fail "no match message"

note "store stats"
# the store as a person reads it: DBs with the rollups, days, hosts
$C store stats --days 3 --hosts 2 $S >"$tmp/st.txt" || fail "store stats exit $?"
grep -q "^perf_day  *[1-9]" "$tmp/st.txt" || fail "store stats: no perf_day rollups: $(cat "$tmp/st.txt")"
grep -q "^DAY (UTC)" "$tmp/st.txt" || fail "store stats: no per-day table"
$C store stats --json $S >"$tmp/st.json" || fail "store stats --json"
python3 - "$tmp/st.json" <<'PY' || fail "store stats JSON"
import json, sys
s = json.load(open(sys.argv[1]))
dbs = {d["name"]: d for d in s["dbs"]}
assert dbs["perf_day"]["entries"] > 0 and dbs["perf"]["entries"] > 0, dbs
assert s["file_bytes"] >= s["used_bytes"] > 0, s
assert s["readahead"] is True, "a store smaller than memory keeps readahead"
assert len(s["hosts"]) == 10 and s["hosts"][0]["bytes"] >= s["hosts"][-1]["bytes"], s["hosts"]
assert s["days"] and all(d["bytes"] > 0 for d in s["days"]), s["days"]
PY

note "wave rules with environment and criticality tags"
# the same facts again, now with tags on the hosts (an application takes what
# its hosts agree on): prod shop (high criticality) and crm, dev wiki, test hr
"$enrich" --state-dir "$tmp/state" --tag shop-:environment=prod --tag shop-:criticality=high \
	--tag crm-:environment=production --tag wiki-:environment=dev --tag hr-:environment=test \
	--tag payroll-:criticality=high >/dev/null || fail "enrich with tags"
$C plan waves --json $S >"$tmp/tw.json" || fail "plan waves with tags"
python3 - "$tmp/tw.json" <<'PY' || fail "the tag rules do not hold (or are not reported)"
import json, sys
d = json.load(open(sys.argv[1]))
at = {a["name"]: (w, a) for w in d["waves"] for a in w["apps"]}
env = {n: a["environment"] for n, (w, a) in at.items()}
assert env["shop"] == "prod" and env["crm"] == "prod" and env["wiki"] == "dev" and env["hr"] == "test", env
assert at["shop"][1]["criticality"] == "high"
notes = [x for w in d["waves"] for x in w["warnings"]]
first_prod = min(w["number"] for n, (w, a) in at.items() if env[n] == "prod")
for n, (w, a) in at.items():
    if env[n] in ("dev", "test", "staging") and w["number"] > first_prod:
        assert any("env_order not honored: " + n in x for x in notes), (n, notes)
for w in d["waves"]:
    e = {a["environment"] for a in w["apps"]} & {"prod", "dev", "test", "staging"}
    if "prod" in e and len(e) > 1:
        assert any("env_separate not honored" in x for x in w["warnings"]), w["number"]
first = d["waves"][0]["number"]
for n, (w, a) in at.items():
    if a["criticality"] == "high":
        assert w["number"] != first or any("critical_late not honored: " + n in x for x in notes), n
codes = {r["code"] for r in at["shop"][1]["rules"]}
assert "env_order" in codes or "env_separate" in codes, codes
PY
$C plan waves --explain shop $S >"$tmp/te.txt" || fail "explain with tags"
grep -q "environment prod, criticality high" "$tmp/te.txt" || fail "explain shows the tags: $(head -1 "$tmp/te.txt")"
grep -q "^  critical_late " "$tmp/te.txt" || fail "explain: critical_late for shop: $(cat "$tmp/te.txt")"
$C plan waves --tag environment=prod --json $S | python3 -c "
import json,sys
d=json.load(sys.stdin)
apps={a['name']:a for w in d['waves'] for a in w['apps']}
assert sorted(apps)==['crm','shop'], sorted(apps)
assert all(a['environment']=='prod' and a['rules'] for a in apps.values()), apps
" || fail "plan waves --tag keeps each application's own placement"
$C plan export $S >"$tmp/tp.csv" || fail "plan export with tags"
grep -q ",shop,[^,]*,6,prod,high," "$tmp/tp.csv" || fail "plan CSV has the tags: $(grep ',shop,' "$tmp/tp.csv")"

[ $fails -eq 0 ] && echo "planning: all checks passed"
exit $((fails > 0))
