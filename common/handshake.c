#include "handshake.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "sign.h"

#define TRANSCRIPT_LABEL "cairn/v1/transcript"
#define ENROLL_KEY_LABEL "cairn/v1/enroll-token"
#define CHALLENGE_SIGNED_LEN (HANDSHAKE_CHALLENGE_LEN - SIGN_LEN)

void handshake_out_free(struct handshake_out *o)
{
	for (size_t i = 0; i < o->n; i++)
		free(o->data[i]);
	memset(o, 0, sizeof(*o));
}

static int out_push(struct handshake_out *o, uint8_t *data, size_t len)
{
	if (o->n >= HANDSHAKE_OUT_MAX) {
		free(data);
		return -ENOBUFS;
	}
	o->data[o->n] = data;
	o->len[o->n] = len;
	o->n++;
	return 0;
}

static int out_plain_error(struct handshake_out *o, uint16_t code, const char *text)
{
	uint8_t *buf;
	size_t len;
	int rc = channel_error_frame_plain(code, text, &buf, &len);
	if (rc)
		return rc;
	return out_push(o, buf, len);
}

static int out_sealed(struct handshake_out *o, struct channel *ch, uint8_t type,
		      const uint8_t *body, size_t len, bool final)
{
	uint8_t *buf;
	size_t blen;
	int rc = channel_seal(ch, type, body, len, final, &buf, &blen);
	if (rc)
		return rc;
	return out_push(o, buf, blen);
}

void handshake_enroll_key(uint8_t key[static 32], const char *token, size_t token_len)
{
	crypto_generichash(key, 32, (const unsigned char *)token, token_len,
			   (const unsigned char *)ENROLL_KEY_LABEL, strlen(ENROLL_KEY_LABEL));
}

static void transcript_hash(uint8_t th[static HANDSHAKE_HASH_LEN],
			    const uint8_t hello[static HANDSHAKE_HELLO_LEN],
			    const uint8_t challenge_signed[static CHALLENGE_SIGNED_LEN])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, HANDSHAKE_HASH_LEN);
	crypto_generichash_update(&st, (const unsigned char *)TRANSCRIPT_LABEL,
				  strlen(TRANSCRIPT_LABEL));
	crypto_generichash_update(&st, hello, HANDSHAKE_HELLO_LEN);
	crypto_generichash_update(&st, challenge_signed, CHALLENGE_SIGNED_LEN);
	crypto_generichash_final(&st, th, HANDSHAKE_HASH_LEN);
	sodium_memzero(&st, sizeof(st));
}

/* Binds a crypto_kx key to the transcript: BLAKE2b-256(kx_key | TH). */
static void bind_key(uint8_t out[static 32], const uint8_t kx_key[static 32],
		     const uint8_t th[static HANDSHAKE_HASH_LEN])
{
	uint8_t in[32 + HANDSHAKE_HASH_LEN];
	memcpy(in, kx_key, 32);
	memcpy(in + 32, th, HANDSHAKE_HASH_LEN);
	crypto_generichash(out, 32, in, sizeof(in), NULL, 0);
	sodium_memzero(in, sizeof(in));
}

/* ---------------------------------------------------------------- client */

int handshake_client_init(struct handshake_client *c, const struct keypair *id,
			  const uint8_t pinned_collector_pk[static KEY_PUBLIC_LEN],
			  const char *enroll_token, const char *hostname)
{
	if (sodium_init() < 0)
		return -EIO;
	memset(c, 0, sizeof(*c));
	c->id = *id;
	memcpy(c->pinned, pinned_collector_pk, KEY_PUBLIC_LEN);
	if (enroll_token && *enroll_token) {
		handshake_enroll_key(c->enroll_key, enroll_token, strlen(enroll_token));
		c->have_enroll_key = true;
	}
	str_copy(c->hostname, hostname ? hostname : "", sizeof(c->hostname));
	c->state = HSC_INIT;
	return 0;
}

int handshake_client_start(struct handshake_client *c, struct handshake_out *out)
{
	if (c->state != HSC_INIT)
		return -EPROTO;
	crypto_kx_keypair(c->eph_pk, c->eph_sk);
	uint8_t *h = c->hello;
	memcpy(h, HANDSHAKE_MAGIC, 4);
	h[4] = 0;
	h[5] = HANDSHAKE_VERSION;
	h[6] = h[7] = 0; /* flags */
	memcpy(h + 8, c->id.pk, 32);
	memcpy(h + 40, c->eph_pk, 32);
	randombytes_buf(h + 72, HANDSHAKE_NONCE_LEN);
	uint8_t *buf;
	size_t len;
	int rc = frame_encode(FRAME_HELLO, h, HANDSHAKE_HELLO_LEN, &buf, &len);
	if (rc)
		return rc;
	rc = out_push(out, buf, len);
	if (rc)
		return rc;
	c->state = HSC_SENT_HELLO;
	return 0;
}

static int client_fail(struct handshake_client *c, int rc, const char *why)
{
	c->state = HSC_FAILED;
	c->fail_reason = why;
	sodium_memzero(c->eph_sk, sizeof(c->eph_sk));
	return rc;
}

static int client_on_challenge(struct handshake_client *c, const struct frame *in,
			       struct handshake_out *out)
{
	if (in->len != HANDSHAKE_CHALLENGE_LEN)
		return client_fail(c, -EPROTO, "CHALLENGE has the wrong length");
	const uint8_t *coll_pk = in->body;
	const uint8_t *coll_eph = in->body + 32;
	const uint8_t *sig = in->body + CHALLENGE_SIGNED_LEN;

	if (sodium_memcmp(coll_pk, c->pinned, KEY_PUBLIC_LEN) != 0)
		return client_fail(c, -EACCES,
				   "the collector's key is not the pinned collector_key");
	transcript_hash(c->th, c->hello, in->body);
	struct sign_part part = { c->th, sizeof(c->th) };
	if (sign_verify_parts(sig, SIGN_DOMAIN_CHALLENGE, &part, 1, coll_pk) != 0)
		return client_fail(c, -EACCES,
				   "the collector's handshake signature does not verify");

	uint8_t rx[32], tx[32], krx[32], ktx[32];
	if (crypto_kx_client_session_keys(rx, tx, c->eph_pk, c->eph_sk, coll_eph) != 0)
		return client_fail(c, -EACCES, "the collector's ephemeral key is invalid");
	sodium_memzero(c->eph_sk, sizeof(c->eph_sk));
	bind_key(ktx, tx, c->th);
	bind_key(krx, rx, c->th);
	channel_init(&c->ch, ktx, krx);
	sodium_memzero(rx, sizeof(rx));
	sodium_memzero(tx, sizeof(tx));
	sodium_memzero(krx, sizeof(krx));
	sodium_memzero(ktx, sizeof(ktx));

	uint8_t auth[HANDSHAKE_AUTH_MIN_LEN + HANDSHAKE_HOSTNAME_MAX];
	int rc = sign_parts(auth, SIGN_DOMAIN_AUTH, &part, 1, c->id.sk);
	if (rc)
		return client_fail(c, rc, "signing AUTH failed");
	auth[SIGN_LEN] = c->have_enroll_key ? HANDSHAKE_AUTH_FLAG_MAC : 0;
	if (c->have_enroll_key)
		crypto_auth(auth + SIGN_LEN + 1, c->th, sizeof(c->th), c->enroll_key);
	else
		memset(auth + SIGN_LEN + 1, 0, HANDSHAKE_MAC_LEN);
	size_t hn = strlen(c->hostname);
	auth[SIGN_LEN + 1 + HANDSHAKE_MAC_LEN] = (uint8_t)hn;
	memcpy(auth + HANDSHAKE_AUTH_MIN_LEN, c->hostname, hn);
	rc = out_sealed(out, &c->ch, FRAME_AUTH, auth, HANDSHAKE_AUTH_MIN_LEN + hn, false);
	sodium_memzero(auth, sizeof(auth));
	if (rc)
		return client_fail(c, rc, "sealing AUTH failed");
	c->state = HSC_SENT_AUTH;
	return 0;
}

static int client_on_error(struct handshake_client *c, const uint8_t *body, size_t len)
{
	if (channel_error_decode(body, len, &c->error) != 0)
		return client_fail(c, -EPROTO, "malformed ERROR frame from the collector");
	return client_fail(c, -ECONNREFUSED, "the collector refused the connection");
}

int handshake_client_feed(struct handshake_client *c, const struct frame *in,
			  struct handshake_out *out)
{
	if (in->type == FRAME_ERROR && c->state != HSC_DONE && c->state != HSC_FAILED)
		return client_on_error(c, in->body, in->len);
	switch (c->state) {
	case HSC_SENT_HELLO:
		if (in->type != FRAME_CHALLENGE)
			return client_fail(c, -EPROTO, "expected CHALLENGE");
		return client_on_challenge(c, in, out);
	case HSC_SENT_AUTH: {
		if (in->type != FRAME_SEALED)
			return client_fail(c, -EPROTO, "expected a sealed READY");
		struct frame inner = { 0 };
		int rc = channel_open(&c->ch, in->body, in->len, &inner);
		if (rc)
			return client_fail(c, rc, "READY does not decrypt (wrong keys or tampered)");
		if (inner.type == FRAME_ERROR) {
			rc = client_on_error(c, inner.body, inner.len);
			free(inner.body);
			return rc;
		}
		if (inner.type != FRAME_READY ||
		    channel_ready_decode(inner.body, inner.len, &c->ready) != 0) {
			free(inner.body);
			return client_fail(c, -EPROTO, "expected READY");
		}
		free(inner.body);
		c->state = HSC_DONE;
		return HANDSHAKE_DONE;
	}
	default:
		return client_fail(c, -EPROTO, "frame in the wrong handshake state");
	}
}

void handshake_client_wipe(struct handshake_client *c)
{
	sodium_memzero(c, sizeof(*c));
}

/* ---------------------------------------------------------------- server */

void handshake_server_init(struct handshake_server *s, const struct keypair *id,
			   const uint8_t *enroll_key)
{
	memset(s, 0, sizeof(*s));
	s->id = id;
	s->enroll_key = enroll_key;
	s->state = HSS_WAIT_HELLO;
}

static int server_fail(struct handshake_server *s, struct handshake_out *out, int rc,
		       uint16_t code, const char *why, bool sealed)
{
	s->state = HSS_FAILED;
	s->fail_code = code;
	s->fail_reason = why;
	if (sealed) {
		uint8_t body[3 + CHANNEL_ERROR_TEXT_MAX];
		size_t n = channel_error_encode(body, code, why);
		out_sealed(out, &s->ch, FRAME_ERROR, body, n, true);
	} else {
		out_plain_error(out, code, why);
	}
	return rc;
}

static int server_on_hello(struct handshake_server *s, const struct frame *in,
			   struct handshake_out *out)
{
	if (in->len != HANDSHAKE_HELLO_LEN)
		return server_fail(s, out, -EPROTO, PROTO_ERR_PROTOCOL,
				   "HELLO has the wrong length", false);
	const uint8_t *h = in->body;
	if (memcmp(h, HANDSHAKE_MAGIC, 4) != 0)
		return server_fail(s, out, -EPROTO, PROTO_ERR_VERSION, "bad magic in HELLO", false);
	if (h[4] != 0 || h[5] != HANDSHAKE_VERSION)
		return server_fail(s, out, -EPROTO, PROTO_ERR_VERSION,
				   "unsupported protocol version (this collector speaks 1)", false);
	if (h[6] != 0 || h[7] != 0)
		return server_fail(s, out, -EPROTO, PROTO_ERR_PROTOCOL,
				   "HELLO has reserved flags set (must be 0 in version 1)", false);
	memcpy(s->agent_pk, h + 8, KEY_PUBLIC_LEN);
	const uint8_t *agent_eph = h + 40;

	uint8_t eph_pk[crypto_kx_PUBLICKEYBYTES], eph_sk[crypto_kx_SECRETKEYBYTES];
	crypto_kx_keypair(eph_pk, eph_sk);
	uint8_t ch[HANDSHAKE_CHALLENGE_LEN];
	memcpy(ch, s->id->pk, 32);
	memcpy(ch + 32, eph_pk, 32);
	randombytes_buf(ch + 64, HANDSHAKE_NONCE_LEN);
	transcript_hash(s->th, h, ch);
	struct sign_part part = { s->th, sizeof(s->th) };
	int rc = sign_parts(ch + CHALLENGE_SIGNED_LEN, SIGN_DOMAIN_CHALLENGE, &part, 1, s->id->sk);
	if (rc) {
		sodium_memzero(eph_sk, sizeof(eph_sk));
		return server_fail(s, out, rc, PROTO_ERR_INTERNAL, "signing failed", false);
	}
	uint8_t rx[32], tx[32], krx[32], ktx[32];
	rc = crypto_kx_server_session_keys(rx, tx, eph_pk, eph_sk, agent_eph);
	sodium_memzero(eph_sk, sizeof(eph_sk));
	if (rc != 0)
		return server_fail(s, out, -EPROTO, PROTO_ERR_PROTOCOL,
				   "invalid ephemeral key in HELLO", false);
	bind_key(ktx, tx, s->th);
	bind_key(krx, rx, s->th);
	channel_init(&s->ch, ktx, krx);
	sodium_memzero(rx, sizeof(rx));
	sodium_memzero(tx, sizeof(tx));
	sodium_memzero(krx, sizeof(krx));
	sodium_memzero(ktx, sizeof(ktx));

	uint8_t *buf;
	size_t len;
	rc = frame_encode(FRAME_CHALLENGE, ch, sizeof(ch), &buf, &len);
	if (rc)
		return server_fail(s, out, rc, PROTO_ERR_INTERNAL, "out of memory", false);
	rc = out_push(out, buf, len);
	if (rc)
		return server_fail(s, out, rc, PROTO_ERR_INTERNAL, "output full", false);
	s->state = HSS_WAIT_AUTH;
	return 0;
}

static bool hostname_ok(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.' || c == '_'))
			return false;
	}
	return true;
}

static int server_on_auth(struct handshake_server *s, const struct frame *in,
			  struct handshake_out *out)
{
	if (in->type != FRAME_SEALED)
		return server_fail(s, out, -EPROTO, PROTO_ERR_PROTOCOL, "expected a sealed AUTH",
				   false);
	struct frame inner = { 0 };
	int rc = channel_open(&s->ch, in->body, in->len, &inner);
	if (rc)
		/* The agent may hold other keys than ours: answer in the clear. */
		return server_fail(s, out, rc, PROTO_ERR_DECRYPT,
				   "AUTH does not decrypt (transcript tampered?)", false);
	const uint8_t *a = inner.body;
	if (inner.type != FRAME_AUTH || inner.len < HANDSHAKE_AUTH_MIN_LEN ||
	    inner.len != HANDSHAKE_AUTH_MIN_LEN + a[SIGN_LEN + 1 + HANDSHAKE_MAC_LEN]) {
		free(inner.body);
		return server_fail(s, out, -EPROTO, PROTO_ERR_PROTOCOL, "malformed AUTH", true);
	}
	struct sign_part part = { s->th, sizeof(s->th) };
	if (sign_verify_parts(a, SIGN_DOMAIN_AUTH, &part, 1, s->agent_pk) != 0) {
		free(inner.body);
		return server_fail(s, out, -EACCES, PROTO_ERR_AUTH,
				   "agent handshake signature does not verify", true);
	}
	uint8_t flags = a[SIGN_LEN];
	const uint8_t *mac = a + SIGN_LEN + 1;
	size_t hn = a[SIGN_LEN + 1 + HANDSHAKE_MAC_LEN];
	const uint8_t *host = a + HANDSHAKE_AUTH_MIN_LEN;
	if ((flags & ~HANDSHAKE_AUTH_FLAG_MAC) != 0 || !hostname_ok(host, hn)) {
		free(inner.body);
		return server_fail(s, out, -EPROTO, PROTO_ERR_PROTOCOL,
				   "AUTH has unknown flags or a hostname with invalid characters",
				   true);
	}
	s->mac_present = flags & HANDSHAKE_AUTH_FLAG_MAC;
	s->mac_valid = s->mac_present && s->enroll_key &&
		       crypto_auth_verify(mac, s->th, sizeof(s->th), s->enroll_key) == 0;
	memcpy(s->hostname, host, hn);
	s->hostname[hn] = '\0';
	free(inner.body);
	s->state = HSS_DECIDE;
	return HANDSHAKE_DECIDE;
}

int handshake_server_feed(struct handshake_server *s, const struct frame *in,
			  struct handshake_out *out)
{
	switch (s->state) {
	case HSS_WAIT_HELLO:
		if (in->type != FRAME_HELLO)
			return server_fail(s, out, -EPROTO, PROTO_ERR_PROTOCOL, "expected HELLO",
					   false);
		return server_on_hello(s, in, out);
	case HSS_WAIT_AUTH:
		return server_on_auth(s, in, out);
	default:
		s->state = HSS_FAILED;
		s->fail_code = PROTO_ERR_PROTOCOL;
		s->fail_reason = "frame in the wrong handshake state";
		return -EPROTO;
	}
}

int handshake_server_accept(struct handshake_server *s, const struct channel_ready *ready,
			    struct handshake_out *out)
{
	if (s->state != HSS_DECIDE)
		return -EPROTO;
	uint8_t body[CHANNEL_READY_LEN];
	channel_ready_encode(body, ready);
	int rc = out_sealed(out, &s->ch, FRAME_READY, body, sizeof(body), false);
	if (rc)
		return rc;
	s->state = HSS_DONE;
	return 0;
}

int handshake_server_refuse(struct handshake_server *s, uint16_t code, const char *text,
			    struct handshake_out *out)
{
	if (s->state != HSS_DECIDE)
		return -EPROTO;
	server_fail(s, out, 0, code, text, true);
	s->fail_reason = proto_error_name(code); /* text belongs to the caller */
	return 0;
}

void handshake_server_wipe(struct handshake_server *s)
{
	sodium_memzero(s, sizeof(*s));
}
