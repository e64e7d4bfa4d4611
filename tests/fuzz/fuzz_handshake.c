/* libFuzzer harness for the handshake state machines and the channel's inner
 * frame decoders: everything an unauthenticated peer can make the agent or the
 * collector parse.
 *
 * Byte 0 picks the scenario, the rest is the attacker's input:
 *   0  frames (decoded with the pre-auth limit) fed to a fresh collector side
 *   1  a real HELLO/CHALLENGE exchange, then the input as the plaintext of the
 *      sealed AUTH (so the AUTH parser sees arbitrary content), then
 *      accept or refuse when the server asks for a decision
 *   2  frames fed to an agent side that has sent HELLO (CHALLENGE parser)
 *   3  a real exchange up to AUTH, then the input as the plaintext of the
 *      sealed reply to the agent (READY / ERROR parsers)
 *   4  the channel's inner decoders (READY, BATCH, ERROR, u64) on the input
 * Invariants: no crash, no leak, and a side that failed stays failed. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "frame.h"
#include "handshake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct keypair agent_id, collector_id;
static uint8_t enroll_key[32];

static void check(int cond)
{
	if (!cond)
		abort();
}

static void init_keys(void)
{
	static int done;
	if (done)
		return;
	check(sodium_init() >= 0);
	uint8_t seed[32];
	memset(seed, 1, sizeof(seed));
	crypto_sign_seed_keypair(agent_id.pk, agent_id.sk, seed);
	memset(seed, 2, sizeof(seed));
	crypto_sign_seed_keypair(collector_id.pk, collector_id.sk, seed);
	handshake_enroll_key(enroll_key, "token", 5);
	done = 1;
}

/* Parses one complete outer frame produced by the handshake. */
static void outer_frame(const uint8_t *buf, size_t len, struct frame *f)
{
	struct frame_decoder d;
	frame_decoder_init(&d, FRAME_MAX_DEFAULT);
	size_t used;
	check(frame_decoder_feed(&d, buf, len, &used, f) == 1 && used == len);
	frame_decoder_free(&d);
}

/* Feeds data as a frame stream to one side; stops at the first error. */
static void feed_stream(const uint8_t *data, size_t size, int server,
			struct handshake_server *s, struct handshake_client *c)
{
	struct frame_decoder d;
	frame_decoder_init(&d, FRAME_MAX_PREAUTH);
	size_t off = 0;
	while (off < size) {
		size_t used;
		struct frame f;
		int rc = frame_decoder_feed(&d, data + off, size - off, &used, &f);
		off += used;
		if (rc <= 0)
			break;
		struct handshake_out out = { 0 };
		rc = server ? handshake_server_feed(s, &f, &out) : handshake_client_feed(c, &f, &out);
		handshake_out_free(&out);
		free(f.body);
		if (rc < 0) {
			check(server ? s->state == HSS_FAILED : c->state == HSC_FAILED);
			break;
		}
		if (rc == HANDSHAKE_DECIDE) {
			struct channel_ready ready = { 2, 7, FRAME_MAX_DEFAULT, 1000 };
			handshake_server_accept(s, &ready, &out);
			handshake_out_free(&out);
			break;
		}
	}
	frame_decoder_free(&d);
}

/* Runs a genuine HELLO -> CHALLENGE exchange; afterwards the client holds
 * the sealed AUTH in *auth_out. Returns 0 on success. */
static int exchange(struct handshake_client *c, struct handshake_server *s, int with_token,
		    struct handshake_out *auth_out)
{
	check(handshake_client_init(c, &agent_id, collector_id.pk, with_token ? "token" : NULL,
				    "fuzz-host") == 0);
	handshake_server_init(s, &collector_id, with_token ? enroll_key : NULL);
	struct handshake_out out = { 0 };
	check(handshake_client_start(c, &out) == 0 && out.n == 1);
	struct frame f;
	outer_frame(out.data[0], out.len[0], &f);
	handshake_out_free(&out);
	int rc = handshake_server_feed(s, &f, &out);
	free(f.body);
	check(rc == 0 && out.n == 1);
	outer_frame(out.data[0], out.len[0], &f);
	handshake_out_free(&out);
	rc = handshake_client_feed(c, &f, auth_out);
	free(f.body);
	check(rc == 0 && auth_out->n == 1);
	return 0;
}

/* Seals plaintext (inner type + body from the input) as the first message
 * of a fresh stream with the given keys: what a peer holding the session keys
 * but sending garbage would produce. */
static void seal_first(const uint8_t tx_key[32], const uint8_t rx_key[32], const uint8_t *data,
		       size_t size, struct frame *f)
{
	struct channel ch;
	channel_init(&ch, tx_key, rx_key);
	uint8_t type = size ? data[0] : FRAME_AUTH;
	uint8_t *buf;
	size_t len;
	check(channel_seal(&ch, type, size ? data + 1 : NULL, size ? size - 1 : 0, false, &buf,
			   &len) == 0);
	outer_frame(buf, len, f);
	free(buf);
	channel_wipe(&ch);
}

static void fuzz_auth(const uint8_t *data, size_t size)
{
	struct handshake_client c;
	struct handshake_server s;
	struct handshake_out auth = { 0 };
	int with_token = size && (data[0] & 0x80);
	exchange(&c, &s, with_token, &auth);
	handshake_out_free(&auth);
	struct frame f;
	seal_first(c.ch.tx_key, c.ch.rx_key, data + (size ? 1 : 0), size ? size - 1 : 0, &f);
	struct handshake_out out = { 0 };
	int rc = handshake_server_feed(&s, &f, &out);
	free(f.body);
	handshake_out_free(&out);
	if (rc == HANDSHAKE_DECIDE) {
		check(s.state == HSS_DECIDE);
		if (size && (data[0] & 1)) {
			struct channel_ready ready = { 2, 0, FRAME_MAX_DEFAULT, 1000 };
			check(handshake_server_accept(&s, &ready, &out) == 0);
		} else {
			handshake_server_refuse(&s, PROTO_ERR_PENDING, "pending", &out);
		}
		handshake_out_free(&out);
	} else if (rc < 0) {
		check(s.state == HSS_FAILED);
	}
	handshake_client_wipe(&c);
	handshake_server_wipe(&s);
}

static void fuzz_ready(const uint8_t *data, size_t size)
{
	struct handshake_client c;
	struct handshake_server s;
	struct handshake_out auth = { 0 };
	exchange(&c, &s, 0, &auth);
	struct frame f;
	outer_frame(auth.data[0], auth.len[0], &f);
	handshake_out_free(&auth);
	struct handshake_out out = { 0 };
	check(handshake_server_feed(&s, &f, &out) == HANDSHAKE_DECIDE);
	free(f.body);
	handshake_out_free(&out);
	seal_first(s.ch.tx_key, s.ch.rx_key, data, size, &f);
	int rc = handshake_client_feed(&c, &f, &out);
	free(f.body);
	handshake_out_free(&out);
	check(rc == HANDSHAKE_DONE ? c.state == HSC_DONE : rc < 0 && c.state == HSC_FAILED);
	handshake_client_wipe(&c);
	handshake_server_wipe(&s);
}

static void fuzz_decoders(const uint8_t *data, size_t size)
{
	struct channel_ready r;
	struct channel_batch b;
	struct channel_error e;
	uint64_t v;
	if (channel_ready_decode(data, size, &r) == 0)
		check(size >= CHANNEL_READY_LEN);
	if (channel_batch_decode(data, size, &b) == 0) {
		check(b.signature >= data && b.signature + SIGN_LEN <= data + size);
		check(b.payload >= data && b.payload + b.payload_len <= data + size);
	}
	if (channel_error_decode(data, size, &e) == 0)
		check(strlen(e.text) <= CHANNEL_ERROR_TEXT_MAX);
	channel_u64_decode(data, size, &v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	init_keys();
	uint8_t mode = data[0] % 5;
	data++;
	size--;
	struct handshake_server s;
	struct handshake_client c;
	struct handshake_out out = { 0 };
	switch (mode) {
	case 0:
		handshake_server_init(&s, &collector_id, enroll_key);
		feed_stream(data, size, 1, &s, NULL);
		handshake_server_wipe(&s);
		break;
	case 1:
		fuzz_auth(data, size);
		break;
	case 2:
		check(handshake_client_init(&c, &agent_id, collector_id.pk, NULL, "h") == 0);
		check(handshake_client_start(&c, &out) == 0);
		handshake_out_free(&out);
		feed_stream(data, size, 0, NULL, &c);
		handshake_client_wipe(&c);
		break;
	case 3:
		fuzz_ready(data, size);
		break;
	default:
		fuzz_decoders(data, size);
		break;
	}
	return 0;
}
