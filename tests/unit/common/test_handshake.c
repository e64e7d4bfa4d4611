/* Handshake client <-> server in memory: the happy path and every way a
 * peer or a man in the middle can get it wrong. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "handshake.h"

static struct keypair agent_kp, coll_kp, other_kp;

static void setup(void)
{
	cr_assert_eq(sodium_init() >= 0, 1);
	keys_generate(&agent_kp);
	keys_generate(&coll_kp);
	keys_generate(&other_kp);
}

TestSuite(handshake, .init = setup);

/* Parses one complete outer frame from bytes (tests only pass whole frames). */
static struct frame parse(const uint8_t *data, size_t len)
{
	struct frame_decoder d;
	frame_decoder_init(&d, FRAME_MAX_DEFAULT);
	struct frame f = { 0 };
	size_t used = 0;
	int rc = frame_decoder_feed(&d, data, len, &used, &f);
	cr_assert_eq(rc, 1, "frame did not decode (%d)", rc);
	cr_assert_eq(used, len);
	frame_decoder_free(&d);
	return f;
}

/* Moves out->data[i] to the peer: returns the decoded frame. */
static struct frame take(struct handshake_out *o, size_t i)
{
	cr_assert_lt(i, o->n);
	return parse(o->data[i], o->len[i]);
}

struct pair {
	struct handshake_client c;
	struct handshake_server s;
	uint8_t enroll_key[32];
};

/* HELLO -> CHALLENGE -> AUTH; returns the server's result for AUTH. */
static int run_to_decide(struct pair *p, const uint8_t *pinned, const char *client_token,
			 const char *server_token)
{
	if (server_token)
		handshake_enroll_key(p->enroll_key, server_token, strlen(server_token));
	cr_assert_eq(handshake_client_init(&p->c, &agent_kp, pinned, client_token, "web-01"), 0);
	handshake_server_init(&p->s, &coll_kp, server_token ? p->enroll_key : NULL);
	struct handshake_out o = { 0 };
	cr_assert_eq(handshake_client_start(&p->c, &o), 0);
	struct frame hello = take(&o, 0);
	handshake_out_free(&o);
	cr_assert_eq(hello.type, FRAME_HELLO);
	cr_assert_eq(hello.len, HANDSHAKE_HELLO_LEN);
	cr_assert_eq(handshake_server_feed(&p->s, &hello, &o), 0);
	free(hello.body);
	struct frame chal = take(&o, 0);
	handshake_out_free(&o);
	cr_assert_eq(chal.type, FRAME_CHALLENGE);
	int rc = handshake_client_feed(&p->c, &chal, &o);
	free(chal.body);
	if (rc)
		return 1000 + rc; /* client-side failure, distinguishable */
	struct frame auth = take(&o, 0);
	handshake_out_free(&o);
	cr_assert_eq(auth.type, FRAME_SEALED);
	rc = handshake_server_feed(&p->s, &auth, &o);
	free(auth.body);
	handshake_out_free(&o);
	return rc;
}

Test(handshake, happy_path_and_channel)
{
	struct pair p;
	cr_assert_eq(run_to_decide(&p, coll_kp.pk, NULL, NULL), HANDSHAKE_DECIDE);
	cr_assert_eq(memcmp(p.s.agent_pk, agent_kp.pk, 32), 0);
	cr_assert_str_eq(p.s.hostname, "web-01");
	cr_assert(!p.s.mac_present);

	struct handshake_out o = { 0 };
	struct channel_ready r = { .state = 2, .high_seq = 41, .max_frame = 1 << 20,
				   .max_records = 5000 };
	cr_assert_eq(handshake_server_accept(&p.s, &r, &o), 0);
	struct frame ready = take(&o, 0);
	handshake_out_free(&o);
	cr_assert_eq(handshake_client_feed(&p.c, &ready, &o), HANDSHAKE_DONE);
	free(ready.body);
	cr_assert_eq(p.c.ready.high_seq, 41);
	cr_assert_eq(p.c.ready.max_records, 5000);
	/* ephemeral secret gone */
	uint8_t zero[sizeof(p.c.eph_sk)] = { 0 };
	cr_assert_eq(memcmp(p.c.eph_sk, zero, sizeof(zero)), 0);

	/* both directions, several messages */
	for (int i = 0; i < 3; i++) {
		uint8_t *buf;
		size_t len;
		uint8_t body[8];
		channel_u64_encode(body, 100 + i);
		cr_assert_eq(channel_seal(&p.c.ch, FRAME_PING, body, 8, false, &buf, &len), 0);
		struct frame f = parse(buf, len);
		free(buf);
		struct frame inner;
		cr_assert_eq(channel_open(&p.s.ch, f.body, f.len, &inner), 0);
		free(f.body);
		uint64_t v;
		cr_assert_eq(inner.type, FRAME_PING);
		cr_assert_eq(channel_u64_decode(inner.body, inner.len, &v), 0);
		cr_assert_eq(v, 100 + i);
		free(inner.body);

		channel_u64_encode(body, 200 + i);
		cr_assert_eq(channel_seal(&p.s.ch, FRAME_ACK, body, 8, false, &buf, &len), 0);
		f = parse(buf, len);
		free(buf);
		cr_assert_eq(channel_open(&p.c.ch, f.body, f.len, &inner), 0);
		free(f.body);
		cr_assert_eq(inner.type, FRAME_ACK);
		cr_assert_eq(channel_u64_decode(inner.body, inner.len, &v), 0);
		cr_assert_eq(v, 200 + i);
		free(inner.body);
	}
	handshake_client_wipe(&p.c);
	handshake_server_wipe(&p.s);
}

Test(handshake, wrong_pinned_key_sends_no_auth)
{
	struct pair p;
	int rc = run_to_decide(&p, other_kp.pk, NULL, NULL);
	cr_assert_eq(rc, 1000 - EACCES);
	cr_assert_eq(p.c.state, HSC_FAILED);
	cr_assert(strstr(p.c.fail_reason, "pinned"));
}

Test(handshake, tampered_hello_breaks_collector_signature)
{
	struct handshake_client c;
	struct handshake_server s;
	handshake_client_init(&c, &agent_kp, coll_kp.pk, NULL, "h");
	handshake_server_init(&s, &coll_kp, NULL);
	struct handshake_out o = { 0 };
	handshake_client_start(&c, &o);
	struct frame hello = take(&o, 0);
	handshake_out_free(&o);
	hello.body[80] ^= 1; /* a man in the middle changes the agent's nonce */
	cr_assert_eq(handshake_server_feed(&s, &hello, &o), 0);
	free(hello.body);
	struct frame chal = take(&o, 0);
	handshake_out_free(&o);
	cr_assert_eq(handshake_client_feed(&c, &chal, &o), -EACCES);
	free(chal.body);
	cr_assert_eq(o.n, 0);
	cr_assert(strstr(c.fail_reason, "signature"));
}

Test(handshake, tampered_challenge_rejected)
{
	for (size_t byte = 32; byte < HANDSHAKE_CHALLENGE_LEN; byte += 17) {
		struct handshake_client c;
		struct handshake_server s;
		handshake_client_init(&c, &agent_kp, coll_kp.pk, NULL, "h");
		handshake_server_init(&s, &coll_kp, NULL);
		struct handshake_out o = { 0 };
		handshake_client_start(&c, &o);
		struct frame hello = take(&o, 0);
		handshake_out_free(&o);
		handshake_server_feed(&s, &hello, &o);
		free(hello.body);
		struct frame chal = take(&o, 0);
		handshake_out_free(&o);
		chal.body[byte] ^= 0x40;
		cr_assert_eq(handshake_client_feed(&c, &chal, &o), -EACCES, "byte %zu", byte);
		free(chal.body);
		handshake_out_free(&o);
	}
}

Test(handshake, swapped_agent_key_fails_on_server)
{
	/* A MITM puts its own key into HELLO: the transcripts differ, so AUTH
	 * (sealed under the agent's keys) does not decrypt on the server. */
	struct handshake_client c;
	struct handshake_server s;
	handshake_client_init(&c, &agent_kp, coll_kp.pk, NULL, "h");
	handshake_server_init(&s, &coll_kp, NULL);
	struct handshake_out o = { 0 };
	handshake_client_start(&c, &o);
	struct frame hello = take(&o, 0);
	handshake_out_free(&o);
	memcpy(hello.body + 8, other_kp.pk, 32);
	handshake_server_feed(&s, &hello, &o);
	free(hello.body);
	struct frame chal = take(&o, 0);
	handshake_out_free(&o);
	/* the client rejects the signature over a transcript it did not send */
	cr_assert_eq(handshake_client_feed(&c, &chal, &o), -EACCES);
	free(chal.body);
}

Test(handshake, auth_replayed_into_new_session_fails)
{
	struct pair p;
	cr_assert_eq(run_to_decide(&p, coll_kp.pk, NULL, NULL), HANDSHAKE_DECIDE);
	/* capture a fresh AUTH from a second client run, replay it to a third
	 * server session that has different ephemeral keys */
	struct handshake_client c2;
	struct handshake_server s2, s3;
	handshake_client_init(&c2, &agent_kp, coll_kp.pk, NULL, "h");
	handshake_server_init(&s2, &coll_kp, NULL);
	handshake_server_init(&s3, &coll_kp, NULL);
	struct handshake_out o = { 0 };
	handshake_client_start(&c2, &o);
	struct frame hello = take(&o, 0);
	handshake_out_free(&o);
	handshake_server_feed(&s2, &hello, &o);
	struct frame chal = take(&o, 0);
	handshake_out_free(&o);
	handshake_server_feed(&s3, &hello, &o); /* same HELLO replayed */
	handshake_out_free(&o);
	free(hello.body);
	handshake_client_feed(&c2, &chal, &o);
	free(chal.body);
	struct frame auth = take(&o, 0);
	handshake_out_free(&o);
	cr_assert_eq(handshake_server_feed(&s3, &auth, &o), -EBADMSG);
	cr_assert_eq(s3.fail_code, PROTO_ERR_DECRYPT);
	cr_assert_eq(o.n, 1); /* a plain ERROR for the peer */
	struct frame err = take(&o, 0);
	cr_assert_eq(err.type, FRAME_ERROR);
	free(err.body);
	handshake_out_free(&o);
	free(auth.body);
}

Test(handshake, enrollment_mac)
{
	struct pair p;
	cr_assert_eq(run_to_decide(&p, coll_kp.pk, "s3cret", "s3cret"), HANDSHAKE_DECIDE);
	cr_assert(p.s.mac_present);
	cr_assert(p.s.mac_valid);

	cr_assert_eq(run_to_decide(&p, coll_kp.pk, "wrong", "s3cret"), HANDSHAKE_DECIDE);
	cr_assert(p.s.mac_present);
	cr_assert(!p.s.mac_valid);

	cr_assert_eq(run_to_decide(&p, coll_kp.pk, NULL, "s3cret"), HANDSHAKE_DECIDE);
	cr_assert(!p.s.mac_present);
	cr_assert(!p.s.mac_valid);

	cr_assert_eq(run_to_decide(&p, coll_kp.pk, "s3cret", NULL), HANDSHAKE_DECIDE);
	cr_assert(p.s.mac_present);
	cr_assert(!p.s.mac_valid); /* no token configured: never valid */
}

Test(handshake, refusal_reaches_client)
{
	struct pair p;
	cr_assert_eq(run_to_decide(&p, coll_kp.pk, NULL, NULL), HANDSHAKE_DECIDE);
	struct handshake_out o = { 0 };
	cr_assert_eq(handshake_server_refuse(&p.s, PROTO_ERR_PENDING, "awaiting enrollment", &o),
		     0);
	struct frame f = take(&o, 0);
	handshake_out_free(&o);
	cr_assert_eq(handshake_client_feed(&p.c, &f, &o), -ECONNREFUSED);
	free(f.body);
	cr_assert_eq(p.c.error.code, PROTO_ERR_PENDING);
	cr_assert_str_eq(p.c.error.text, "awaiting enrollment");
}

Test(handshake, server_rejects_bad_hello)
{
	struct handshake_server s;
	struct handshake_out o = { 0 };
	uint8_t body[HANDSHAKE_HELLO_LEN] = { 0 };
	struct frame f = { FRAME_HELLO, body, sizeof(body) };

	handshake_server_init(&s, &coll_kp, NULL);
	cr_assert_eq(handshake_server_feed(&s, &f, &o), -EPROTO); /* bad magic */
	cr_assert_eq(s.fail_code, PROTO_ERR_VERSION);
	cr_assert_eq(o.n, 1);
	handshake_out_free(&o);

	memcpy(body, HANDSHAKE_MAGIC, 4);
	body[5] = 9;
	handshake_server_init(&s, &coll_kp, NULL);
	cr_assert_eq(handshake_server_feed(&s, &f, &o), -EPROTO);
	cr_assert_eq(s.fail_code, PROTO_ERR_VERSION);
	handshake_out_free(&o);

	f.len = 10;
	handshake_server_init(&s, &coll_kp, NULL);
	cr_assert_eq(handshake_server_feed(&s, &f, &o), -EPROTO);
	cr_assert_eq(s.fail_code, PROTO_ERR_PROTOCOL);
	handshake_out_free(&o);

	struct frame batch = { FRAME_BATCH, body, 20 };
	handshake_server_init(&s, &coll_kp, NULL);
	cr_assert_eq(handshake_server_feed(&s, &batch, &o), -EPROTO);
	handshake_out_free(&o);
}

Test(handshake, tampered_sealed_frame_rejected)
{
	struct pair p;
	cr_assert_eq(run_to_decide(&p, coll_kp.pk, NULL, NULL), HANDSHAKE_DECIDE);
	struct handshake_out o = { 0 };
	struct channel_ready r = { .state = 2 };
	handshake_server_accept(&p.s, &r, &o);
	struct frame ready = take(&o, 0);
	handshake_out_free(&o);
	cr_assert_eq(handshake_client_feed(&p.c, &ready, &o), HANDSHAKE_DONE);
	free(ready.body);

	uint8_t *a, *b;
	size_t alen, blen;
	cr_assert_eq(channel_seal(&p.c.ch, FRAME_PING, (const uint8_t *)"12345678", 8, false, &a,
				  &alen), 0);
	cr_assert_eq(channel_seal(&p.c.ch, FRAME_PING, (const uint8_t *)"87654321", 8, false, &b,
				  &blen), 0);
	/* reordered: the second message first fails */
	struct frame fb = parse(b, blen), fa = parse(a, alen);
	struct frame inner;
	struct channel saved = p.s.ch;
	cr_assert_eq(channel_open(&p.s.ch, fb.body, fb.len, &inner), -EBADMSG);
	p.s.ch = saved;
	fa.body[3] ^= 1;
	cr_assert_eq(channel_open(&p.s.ch, fa.body, fa.len, &inner), -EBADMSG);
	p.s.ch = saved;
	fa.body[3] ^= 1;
	cr_assert_eq(channel_open(&p.s.ch, fa.body, fa.len, &inner), 0);
	free(inner.body);
	cr_assert_eq(channel_open(&p.s.ch, fb.body, fb.len, &inner), 0);
	free(inner.body);
	free(a);
	free(b);
	free(fa.body);
	free(fb.body);
}

/* The reserved HELLO flags must be 0 (docs/protocol.md): a collector that
 * accepted 0xFFFF could never give those bits a meaning later. */
Test(handshake, server_rejects_reserved_hello_flags)
{
	struct handshake_client c;
	struct handshake_server s;
	struct handshake_out o = { 0 };
	cr_assert_eq(handshake_client_init(&c, &agent_kp, coll_kp.pk, NULL, "web-01"), 0);
	cr_assert_eq(handshake_client_start(&c, &o), 0);
	struct frame hello = take(&o, 0);
	handshake_out_free(&o);
	hello.body[6] = 0xff;
	hello.body[7] = 0xff;
	handshake_server_init(&s, &coll_kp, NULL);
	cr_assert_eq(handshake_server_feed(&s, &hello, &o), -EPROTO);
	cr_assert_eq(s.fail_code, PROTO_ERR_PROTOCOL);
	cr_assert_not_null(strstr(s.fail_reason, "flags"), "%s", s.fail_reason);
	handshake_out_free(&o);
	free(hello.body);
	handshake_client_wipe(&c);
}
