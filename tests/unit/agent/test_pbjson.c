/* common/pbjson: protobuf-c -> JSON through descriptors. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cairn.pb-c.h"
#include "pbjson.h"

static json_t *to_json(const ProtobufCMessage *m, unsigned flags)
{
	json_t *j = pbjson_from_message(m, flags);
	cr_assert_not_null(j);
	return j;
}

Test(pbjson, scalars_strings_and_default_omission)
{
	Cairn__Process p = CAIRN__PROCESS__INIT;
	p.pid = 4242;
	p.name = "nginx";
	p.cpu_pct = 12.5;
	p.start_time_ms = -5; /* int64 keeps its sign */
	p.rss_bytes = 1ull << 40;
	json_t *j = to_json(&p.base, 0);
	cr_assert_eq(json_integer_value(json_object_get(j, "pid")), 4242);
	cr_assert_str_eq(json_string_value(json_object_get(j, "name")), "nginx");
	cr_assert_float_eq(json_real_value(json_object_get(j, "cpu_pct")), 12.5, 1e-12);
	cr_assert_eq(json_integer_value(json_object_get(j, "start_time_ms")), -5);
	cr_assert_eq(json_integer_value(json_object_get(j, "rss_bytes")), 1ll << 40);
	/* proto3 defaults are omitted: uid 0, exe "" */
	cr_assert_null(json_object_get(j, "uid"));
	cr_assert_null(json_object_get(j, "exe"));
	cr_assert_eq(json_object_size(j), 5);
	json_decref(j);

	j = to_json(&p.base, PBJSON_EMIT_DEFAULTS);
	cr_assert_eq(json_integer_value(json_object_get(j, "uid")), 0);
	cr_assert_str_eq(json_string_value(json_object_get(j, "exe")), "");
	cr_assert_eq(json_object_size(j), 14); /* every field of Process */
	json_decref(j);
}

Test(pbjson, keys_follow_field_number_order)
{
	Cairn__Process p = CAIRN__PROCESS__INIT;
	p.pid = 1;
	p.ppid = 2;
	p.name = "a";
	p.threads = 3;
	char *s = pbjson_dumps(&p.base, 0, 0);
	cr_assert_str_eq(s, "{\"pid\":1,\"ppid\":2,\"name\":\"a\",\"threads\":3}");
	free(s);
}

Test(pbjson, enums_by_name_unknown_by_number)
{
	Cairn__Listener l = CAIRN__LISTENER__INIT;
	l.protocol = CAIRN__PROTOCOL__UDP;
	json_t *j = to_json(&l.base, 0);
	cr_assert_str_eq(json_string_value(json_object_get(j, "protocol")), "UDP");
	json_decref(j);
	l.protocol = (Cairn__Protocol)77;
	j = to_json(&l.base, 0);
	cr_assert_eq(json_integer_value(json_object_get(j, "protocol")), 77);
	json_decref(j);
	l.protocol = CAIRN__PROTOCOL__PROTOCOL_UNSPECIFIED;
	j = to_json(&l.base, PBJSON_EMIT_DEFAULTS);
	cr_assert_str_eq(json_string_value(json_object_get(j, "protocol")), "PROTOCOL_UNSPECIFIED");
	json_decref(j);
}

Test(pbjson, bytes_as_hex)
{
	uint8_t h[4] = { 0x00, 0xab, 0x10, 0xff };
	Cairn__PackageInventory inv = CAIRN__PACKAGE_INVENTORY__INIT;
	inv.content_hash.data = h;
	inv.content_hash.len = sizeof(h);
	json_t *j = to_json(&inv.base, 0);
	cr_assert_str_eq(json_string_value(json_object_get(j, "content_hash")), "00ab10ff");
	json_decref(j);
}

Test(pbjson, sixty_four_bit_limits)
{
	Cairn__CollectorStat s = CAIRN__COLLECTOR_STAT__INIT;
	s.errors = (uint64_t)INT64_MAX;
	s.items = UINT64_MAX;
	json_t *j = to_json(&s.base, 0);
	cr_assert(json_is_integer(json_object_get(j, "errors")));
	cr_assert_eq(json_integer_value(json_object_get(j, "errors")), INT64_MAX);
	cr_assert(json_is_real(json_object_get(j, "items")));
	cr_assert_float_eq(json_real_value(json_object_get(j, "items")), 18446744073709551615.0, 1e4);
	json_decref(j);
}

Test(pbjson, repeated_scalars_and_messages)
{
	uint32_t pids[3] = { 7, 8, 9 };
	Cairn__Process a = CAIRN__PROCESS__INIT, b = CAIRN__PROCESS__INIT;
	a.pid = 1;
	b.pid = 2;
	Cairn__Process *started[2] = { &a, &b };
	Cairn__ProcessDelta d = CAIRN__PROCESS_DELTA__INIT;
	d.exited_pids = pids;
	d.n_exited_pids = 3;
	d.started = started;
	d.n_started = 2;
	char *s = pbjson_dumps(&d.base, 0, 0);
	cr_assert_str_eq(s, "{\"started\":[{\"pid\":1},{\"pid\":2}],\"exited_pids\":[7,8,9]}");
	free(s);

	Cairn__ProcessDelta empty = CAIRN__PROCESS_DELTA__INIT;
	s = pbjson_dumps(&empty.base, 0, 0);
	cr_assert_str_eq(s, "{}");
	free(s);
	s = pbjson_dumps(&empty.base, PBJSON_EMIT_DEFAULTS, 0);
	cr_assert_str_eq(s, "{\"taken_ms\":0,\"started\":[],\"exited_pids\":[]}");
	free(s);
}

Test(pbjson, oneof_only_the_set_member_and_unset_messages_skipped)
{
	Cairn__Gap g = CAIRN__GAP__INIT;
	g.first_seq = 3;
	g.last_seq = 5;
	g.reason = CAIRN__GAP_REASON__SPOOL_FULL;
	Cairn__Record r = CAIRN__RECORD__INIT;
	r.kind_case = CAIRN__RECORD__KIND_GAP;
	r.gap = &g;
	char *s = pbjson_dumps(&r.base, PBJSON_EMIT_DEFAULTS, 0);
	cr_assert_str_eq(s, "{\"gap\":{\"first_seq\":3,\"last_seq\":5,\"reason\":\"SPOOL_FULL\","
			    "\"detail\":\"\",\"window_start_ms\":0,\"window_end_ms\":0}}");
	free(s);

	Cairn__Record none = CAIRN__RECORD__INIT;
	s = pbjson_dumps(&none.base, PBJSON_EMIT_DEFAULTS, 0);
	cr_assert_str_eq(s, "{}");
	free(s);

	Cairn__HostInfo h = CAIRN__HOST_INFO__INIT; /* os, virt unset */
	json_t *j = to_json(&h.base, PBJSON_EMIT_DEFAULTS);
	cr_assert_null(json_object_get(j, "os"));
	cr_assert_null(json_object_get(j, "virt"));
	cr_assert(json_is_array(json_object_get(j, "disks")));
	json_decref(j);
}

Test(pbjson, non_finite_doubles_become_null)
{
	Cairn__Stat st = CAIRN__STAT__INIT;
	st.avg = NAN;
	st.max = INFINITY;
	st.p95 = 1.5;
	json_t *j = to_json(&st.base, 0);
	cr_assert(json_is_null(json_object_get(j, "avg")));
	cr_assert(json_is_null(json_object_get(j, "max")));
	cr_assert_float_eq(json_real_value(json_object_get(j, "p95")), 1.5, 1e-12);
	json_decref(j);
}

Test(pbjson, invalid_utf8_is_replaced_and_output_parses)
{
	Cairn__Process p = CAIRN__PROCESS__INIT;
	p.cmdline = "a\xff" "b\xc0\xaf" "c\xed\xa0\x80" "d\xe2\x82";
	p.name = "caf\xc3\xa9 \xf0\x9f\x98\x80";
	char *s = pbjson_dumps(&p.base, 0, 2);
	cr_assert_not_null(s);
	json_error_t err;
	json_t *back = json_loads(s, 0, &err);
	cr_assert_not_null(back, "%s", err.text);
	cr_assert_str_eq(json_string_value(json_object_get(back, "cmdline")),
			 "a\xef\xbf\xbd" "b\xef\xbf\xbd\xef\xbf\xbd" "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
			 "d\xef\xbf\xbd\xef\xbf\xbd");
	cr_assert_str_eq(json_string_value(json_object_get(back, "name")), "caf\xc3\xa9 \xf0\x9f\x98\x80");
	json_decref(back);
	free(s);
}

Test(pbjson, utf8_helpers)
{
	cr_assert(pbjson_utf8_valid("plain", 5));
	cr_assert(pbjson_utf8_valid("\xf4\x8f\xbf\xbf", 4));     /* U+10FFFF */
	cr_assert_not(pbjson_utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
	cr_assert_not(pbjson_utf8_valid("\xe0\x80\x80", 3));     /* overlong */
	cr_assert_not(pbjson_utf8_valid("a\0b", 3));             /* NUL inside */
	char out[8];
	/* Never cuts a character: the 4-byte emoji does not fit after "ab". */
	size_t n = pbjson_utf8_sanitize(out, 6, "ab\xf0\x9f\x98\x80", 6);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(out, "ab");
	n = pbjson_utf8_sanitize(out, sizeof(out), "\xff", 1);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(out, "\xef\xbf\xbd");
}

Test(pbjson, nested_batch_dumps_and_parses_back)
{
	Cairn__OsRelease os = CAIRN__OS_RELEASE__INIT;
	os.id = "debian";
	Cairn__HostInfo h = CAIRN__HOST_INFO__INIT;
	h.hostname = "web\"01\n";
	h.os = &os;
	char *dns[2] = { "10.0.0.2", "10.0.0.3" };
	h.dns_servers = dns;
	h.n_dns_servers = 2;
	Cairn__Record rec = CAIRN__RECORD__INIT;
	rec.kind_case = CAIRN__RECORD__KIND_HOST;
	rec.host = &h;
	Cairn__Record *recs[1] = { &rec };
	uint8_t id[2] = { 1, 2 };
	Cairn__Batch b = CAIRN__BATCH__INIT;
	b.agent_id.data = id;
	b.agent_id.len = 2;
	b.seq = 9;
	b.records = recs;
	b.n_records = 1;
	char *s = pbjson_dumps(&b.base, 0, 0);
	cr_assert_str_eq(s, "{\"agent_id\":\"0102\",\"seq\":9,\"records\":[{\"host\":{\"hostname\":"
			    "\"web\\\"01\\n\",\"os\":{\"id\":\"debian\"},\"dns_servers\":[\"10.0.0.2\","
			    "\"10.0.0.3\"]}}]}");
	json_t *back = json_loads(s, 0, NULL);
	cr_assert_not_null(back);
	json_decref(back);
	free(s);
	cr_assert_null(pbjson_from_message(NULL, 0));
}

/* `agents --json` printed a forged high_seq of 2^64-1 as -1 (a json_int_t
 * cast): counters go through pbjson_u64, never negative. */
Test(pbjson, u64_counters_are_never_negative)
{
	json_t *v = pbjson_u64(UINT64_MAX);
	cr_assert(json_is_real(v));
	cr_assert_gt(json_real_value(v), 1.8e19);
	json_decref(v);
	v = pbjson_u64((uint64_t)INT64_MAX);
	cr_assert(json_is_integer(v));
	cr_assert_eq(json_integer_value(v), INT64_MAX);
	json_decref(v);
	v = pbjson_u64(7);
	cr_assert_eq(json_integer_value(v), 7);
	json_decref(v);
}
