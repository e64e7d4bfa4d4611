/* Report batch building (agent/batch.c) without an event loop: records,
 * gaps, shrinking to the size limit, packing and signing. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "collect.h"
#include "keys.h"
#include "sign.h"

static const uint8_t pk0[KEY_PUBLIC_LEN] = { 1, 2, 3 };

static size_t count_kind(const struct batch *b, Cairn__Record__KindCase kind)
{
	size_t n = 0;
	for (size_t i = 0; i < b->msg->n_records; i++)
		n += b->msg->records[i]->kind_case == kind;
	return n;
}

static Cairn__Record *first_kind(const struct batch *b, Cairn__Record__KindCase kind)
{
	for (size_t i = 0; i < b->msg->n_records; i++)
		if (b->msg->records[i]->kind_case == kind)
			return b->msg->records[i];
	return NULL;
}

Test(batch, header_and_signature_verify_after_renumbering)
{
	struct keypair kp;
	cr_assert_eq(keys_generate(&kp), 0);
	struct batch b;
	batch_init(&b, 10, kp.pk, "boot-1", 1000, 2000);
	struct spool_gap pending = { .first_seq = 3, .last_seq = 4, .reason = SPOOL_GAP_UNWRITTEN,
				     .window_start_ms = 10, .window_end_ms = 20 };
	batch_add_gaps(&b, &pending, 1, 2, 500, 900);
	cr_assert_eq(count_kind(&b, CAIRN__RECORD__KIND_GAP), 2);
	cr_assert_eq(b.lost_gap->first_seq, 8);
	cr_assert_eq(b.lost_gap->last_seq, 9);

	cr_assert_eq(batch_pack_sign(&b, 10, &kp), 0);
	cr_assert_eq(sign_batch_verify(b.sig, kp.pk, 10, b.packed, b.packed_len), 0);
	/* The spool moved next_seq: renumbered, the lost-window gap follows. */
	cr_assert_eq(batch_pack_sign(&b, 15, &kp), 0);
	cr_assert_eq(sign_batch_verify(b.sig, kp.pk, 15, b.packed, b.packed_len), 0);
	cr_assert_neq(sign_batch_verify(b.sig, kp.pk, 10, b.packed, b.packed_len), 0);

	Cairn__Batch *u = cairn__batch__unpack(NULL, b.packed_len, b.packed);
	cr_assert_not_null(u);
	cr_assert_eq(u->seq, 15);
	cr_assert_str_eq(u->boot_id, "boot-1");
	cr_assert_eq(u->window_start_ms, 1000);
	cr_assert_eq(u->window_end_ms, 2000);
	cr_assert_eq(u->agent_id.len, KEY_PUBLIC_LEN);
	cr_assert_eq(memcmp(u->agent_id.data, kp.pk, KEY_PUBLIC_LEN), 0);
	cr_assert_eq(u->n_records, 2);
	cr_assert_eq(u->records[0]->gap->first_seq, 3);
	cr_assert_eq(u->records[1]->gap->first_seq, 13);
	cr_assert_eq(u->records[1]->gap->last_seq, 14);
	cr_assert_eq(u->records[1]->gap->window_start_ms, 500);
	cairn__batch__free_unpacked(u, NULL);
	batch_free(&b);
}

Test(batch, process_snapshot_then_delta_keeps_the_base)
{
	struct collect_ctx ctx;
	collect_ctx_init(&ctx, FIXTURE_DIR "/debian12");
	struct proc_state *ps;
	cr_assert_eq(collect_proc_state_new(&ps), 0);
	struct batch_memory m = { 0 };

	struct batch b;
	batch_init(&b, 1, pk0, "", 0, 1);
	batch_add_processes(&b, &ctx, ps, &m, false);
	Cairn__Record *r = first_kind(&b, CAIRN__RECORD__KIND_PROCESSES);
	cr_assert_not_null(r, "no base yet: a full snapshot");
	cr_assert_gt(r->processes->n_processes, 0);
	cr_assert_eq(m.last_procs, r->processes);
	batch_free(&b); /* must leave m.last_procs alive (ASan checks) */
	cr_assert_gt(m.last_procs->n_processes, 0);

	/* Same tree again: no change, so neither snapshot nor delta. */
	batch_init(&b, 2, pk0, "", 1, 2);
	batch_add_processes(&b, &ctx, ps, &m, false);
	cr_assert_eq(b.msg->n_records, 0);
	batch_free(&b);

	/* full: a snapshot again, even without changes. */
	batch_init(&b, 3, pk0, "", 2, 3);
	batch_add_processes(&b, &ctx, ps, &m, true);
	cr_assert_eq(count_kind(&b, CAIRN__RECORD__KIND_PROCESSES), 1);
	batch_free(&b);

	batch_memory_free(&m);
	collect_proc_state_free(ps);
}

Test(batch, host_facts_only_when_changed_or_full)
{
	struct collect_ctx ctx;
	collect_ctx_init(&ctx, FIXTURE_DIR "/debian12");
	struct batch_memory m = { 0 };
	struct batch b;
	for (int i = 0; i < 3; i++) {
		batch_init(&b, (uint64_t)i + 1, pk0, "", 0, 1);
		batch_add_host(&b, &ctx, &m, i == 2);
		cr_assert_eq(count_kind(&b, CAIRN__RECORD__KIND_HOST), i == 1 ? 0 : 1, "round %d", i);
		batch_free(&b);
	}
	batch_memory_free(&m);
}

static Cairn__ProcessSnapshot *big_snapshot(size_t n, size_t cmd_len)
{
	Cairn__ProcessSnapshot *ps = collect_alloc(sizeof(*ps));
	cairn__process_snapshot__init(ps);
	for (size_t i = 0; i < n; i++) {
		Cairn__Process *p = collect_alloc(sizeof(*p));
		cairn__process__init(p);
		p->pid = (uint32_t)i + 1;
		p->cmdline = collect_alloc(cmd_len + 1);
		memset(p->cmdline, 'a', cmd_len);
		/* A 3-byte UTF-8 character across the cut point. */
		memcpy(p->cmdline + BATCH_CMDLINE_CUT - 1, "\xe2\x82\xac", 3);
		*COLLECT_PUSH(ps, processes) = p;
	}
	return ps;
}

static Cairn__PackageInventory *big_inventory(size_t n)
{
	Cairn__PackageInventory *inv = collect_alloc(sizeof(*inv));
	cairn__package_inventory__init(inv);
	inv->manager = collect_strdup("dpkg");
	for (size_t i = 0; i < n; i++) {
		Cairn__Package *p = collect_alloc(sizeof(*p));
		cairn__package__init(p);
		char name[64];
		snprintf(name, sizeof(name), "package-with-a-long-name-%zu", i);
		p->name = collect_strdup(name);
		p->version = collect_strdup("1.2.3-4+deb12u5");
		*COLLECT_PUSH(inv, packages) = p;
	}
	return inv;
}

static void add_packages_record(struct batch *b, Cairn__PackageInventory *inv)
{
	Cairn__Record *r = collect_alloc(sizeof(*r));
	cairn__record__init(r);
	r->kind_case = CAIRN__RECORD__KIND_PACKAGES;
	r->packages = inv;
	*COLLECT_PUSH(b->msg, records) = r;
}

static void add_snapshot_record(struct batch *b, Cairn__ProcessSnapshot *ps)
{
	Cairn__Record *r = collect_alloc(sizeof(*r));
	cairn__record__init(r);
	r->kind_case = CAIRN__RECORD__KIND_PROCESSES;
	r->processes = ps;
	*COLLECT_PUSH(b->msg, records) = r;
}

Test(batch, fit_leaves_a_small_batch_alone)
{
	struct batch_memory m = { .have_host_hash = true };
	m.pkg.m[PKG_DPKG].have_hash = true;
	struct batch b;
	batch_init(&b, 1, pk0, "", 0, 1);
	add_snapshot_record(&b, big_snapshot(10, 1000));
	add_packages_record(&b, big_inventory(10));
	cr_assert_eq(batch_fit(&b, BATCH_SOFT_MAX, &m), 0);
	cr_assert_eq(strlen(first_kind(&b, CAIRN__RECORD__KIND_PROCESSES)->processes->processes[0]->cmdline),
		     1000);
	cr_assert_eq(count_kind(&b, CAIRN__RECORD__KIND_PACKAGES), 1);
	cr_assert(m.pkg.m[PKG_DPKG].have_hash);
	batch_free(&b);
}

Test(batch, fit_cuts_command_lines_at_a_character_boundary)
{
	struct batch_memory m = { 0 };
	m.pkg.m[PKG_DPKG].have_hash = true;
	struct batch b;
	batch_init(&b, 1, pk0, "", 0, 1);
	add_snapshot_record(&b, big_snapshot(2000, 1000)); /* ~2 MB */
	add_packages_record(&b, big_inventory(10));
	cr_assert_eq(batch_fit(&b, 1 << 20, &m), 0, "cutting command lines is enough");
	Cairn__ProcessSnapshot *ps = first_kind(&b, CAIRN__RECORD__KIND_PROCESSES)->processes;
	for (size_t i = 0; i < ps->n_processes; i++)
		cr_assert_eq(strlen(ps->processes[i]->cmdline), BATCH_CMDLINE_CUT - 1,
			     "the euro sign straddling byte 200 goes whole");
	cr_assert_eq(count_kind(&b, CAIRN__RECORD__KIND_PACKAGES), 1);
	cr_assert(m.pkg.m[PKG_DPKG].have_hash, "packages were kept");
	cr_assert_leq(cairn__batch__get_packed_size(b.msg), 1 << 20);
	batch_free(&b);
}

Test(batch, fit_moves_package_lists_to_the_next_batch)
{
	struct batch_memory m = { 0 };
	m.pkg.m[PKG_DPKG].have_hash = true;
	struct batch b;
	batch_init(&b, 1, pk0, "", 0, 1);
	add_snapshot_record(&b, big_snapshot(100, 300));
	add_packages_record(&b, big_inventory(5000)); /* ~230 kB */
	cr_assert_eq(batch_fit(&b, 200 << 10, &m), -EMSGSIZE, "too large even alone");
	cr_assert_eq(count_kind(&b, CAIRN__RECORD__KIND_PACKAGES), 0);
	cr_assert(m.pkg.m[PKG_DPKG].have_hash, "not resent until it changes");
	batch_free(&b);

	batch_init(&b, 2, pk0, "", 0, 1);
	add_snapshot_record(&b, big_snapshot(1000, 300));
	add_packages_record(&b, big_inventory(2000)); /* ~90 kB */
	cr_assert_eq(batch_fit(&b, 200 << 10, &m), 1);
	cr_assert_eq(count_kind(&b, CAIRN__RECORD__KIND_PACKAGES), 0);
	cr_assert_eq(count_kind(&b, CAIRN__RECORD__KIND_PROCESSES), 1);
	cr_assert_not(m.pkg.m[PKG_DPKG].have_hash, "forgotten: the next batch sends them");
	batch_free(&b);
}

Test(batch, soft_max_is_half_the_spool_up_to_3_mib)
{
	cr_assert_eq(batch_soft_max(0), BATCH_SOFT_MAX);
	cr_assert_eq(batch_soft_max(2 << 20), 1 << 20);
	cr_assert_eq(batch_soft_max(64 << 20), BATCH_SOFT_MAX);
}

Test(batch, health_carries_spool_and_send_stats)
{
	struct collect_ctx ctx;
	collect_ctx_init(&ctx, "/nonexistent");
	collect_error(&ctx, COLLECT_SOCK, "boom");
	struct batch b;
	batch_init(&b, 1, pk0, "", 0, 1);
	struct batch_health h = { .spool_errors = 2, .spool_items = 3, .spool_runs = 4,
				  .spool_last_error = "disk full", .send_errors = 5,
				  .send_items = 6, .send_runs = 7, .send_last_error = NULL,
				  .cpu_pct = -1, .rss_bytes = 4096, .spool_batches = 8,
				  .spool_bytes = 9, .dropped_batches = 1 };
	batch_add_health(&b, &ctx, &h);
	Cairn__CollectorHealth *ch = first_kind(&b, CAIRN__RECORD__KIND_HEALTH)->health;
	cr_assert_eq(ch->n_stats, COLLECT_NKINDS + 2);
	Cairn__CollectorStat *spool = ch->stats[COLLECT_NKINDS], *send = ch->stats[COLLECT_NKINDS + 1];
	cr_assert_str_eq(spool->collector, "spool");
	cr_assert_eq(spool->errors, 2);
	cr_assert_str_eq(spool->last_error, "disk full");
	cr_assert_str_eq(send->collector, "send");
	cr_assert_eq(send->runs, 7);
	cr_assert_str_eq(send->last_error, "");
	cr_assert_eq(ch->cpu_pct, 0, "unknown on the first window");
	cr_assert_eq(ch->rss_bytes, 4096);
	cr_assert_eq(ch->dropped_batches, 1);
	cr_assert_eq(ch->stats[COLLECT_SOCK]->errors, 1);
	batch_free(&b);
}
