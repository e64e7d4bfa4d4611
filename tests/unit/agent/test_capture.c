/* The eBPF capture itself (agent/capture.c), live: a ring buffer too small
 * for the burst must drop and say so, never lose events silently; what it
 * kept is counted right. Needs root and kernel BTF (skipped otherwise). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "capture.h"
#include "collect.h"

static bool can_capture(void)
{
	return geteuid() == 0 && access("/sys/kernel/btf/vmlinux", R_OK) == 0;
}

/* n loopback connections opened and closed, both ends in this process. */
static uint16_t churn(int n)
{
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	cr_assert_eq(bind(ls, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(ls, 64), 0);
	cr_assert_eq(getsockname(ls, (struct sockaddr *)&a, &al), 0);
	for (int i = 0; i < n; i++) {
		int c = socket(AF_INET, SOCK_STREAM, 0);
		cr_assert_eq(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
		int s = accept(ls, NULL, NULL);
		cr_assert_geq(s, 0);
		cr_assert_eq(write(c, "ping", 4), 4);
		char buf[8];
		cr_assert_eq(read(s, buf, sizeof(buf)), 4);
		close(c);
		close(s);
	}
	close(ls);
	return ntohs(a.sin_port);
}

static void count_port(const struct capture_take *t, uint16_t port, uint64_t *opened,
		       uint64_t *closed)
{
	*opened = *closed = 0;
	for (size_t i = 0; i < t->nflows; i++) {
		const struct capture_flow *f = &t->flows[i];
		if (f->protocol == IPPROTO_TCP && f->role == CAPTURE_ROLE_CLIENT &&
		    f->remote_port == port) {
			*opened += f->opened;
			*closed += f->closed;
		}
	}
}

Test(capture, small_ring_buffer_drops_are_counted)
{
	if (!can_capture())
		cr_skip_test("needs root and kernel BTF");
	struct collect_ctx ctx;
	collect_ctx_init(&ctx, "/");
	struct capture *c;
	/* One page: 32 events; 400 connections make 1,600 and more. */
	struct capture_opts o = { .ringbuf_bytes = 4096, .wakeup_bytes = 1u << 30 };
	cr_assert_eq(capture_open(&c, &ctx, &o), 0);
	if (!capture_active(c)) {
		capture_close(c);
		cr_skip_test("capture unavailable here");
	}
	uint16_t port = churn(400);
	struct capture_take t;
	cr_assert_eq(capture_take(c, &t), 0);
	struct capture_counters k;
	capture_get_counters(c, &k);
	uint64_t opened, closed;
	count_port(&t, port, &opened, &closed);
	cr_assert_gt(k.ringbuf_drops, 0, "a full ring buffer must be reported");
	cr_assert_lt(opened, 400, "the ring buffer could not hold every event");
	cr_assert_leq(closed, 400);
	cr_assert_geq(k.events + k.ringbuf_drops, 1600, "events %llu + drops %llu",
		      (unsigned long long)k.events, (unsigned long long)k.ringbuf_drops);
	capture_take_free(&t);
	capture_close(c);
}

Test(capture, default_ring_buffer_counts_every_connection)
{
	if (!can_capture())
		cr_skip_test("needs root and kernel BTF");
	struct collect_ctx ctx;
	collect_ctx_init(&ctx, "/");
	struct capture *c;
	cr_assert_eq(capture_open(&c, &ctx, NULL), 0);
	if (!capture_active(c)) {
		capture_close(c);
		cr_skip_test("capture unavailable here");
	}
	cr_assert(!strncmp(capture_describe(c), "ebpf (tcp: ", 11), "%s", capture_describe(c));
	uint16_t port = churn(400);
	struct capture_take t;
	cr_assert_eq(capture_take(c, &t), 0);
	uint64_t opened, closed;
	count_port(&t, port, &opened, &closed);
	cr_assert_eq(opened, 400);
	cr_assert_eq(closed, 400);
	struct capture_counters k;
	capture_get_counters(c, &k);
	cr_assert_eq(k.ringbuf_drops, 0);
	capture_take_free(&t);
	capture_close(c);
}
