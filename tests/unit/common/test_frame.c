/* Frame decoder: any chunking yields the same frames; limits are enforced
 * from the header alone, before anything is allocated. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

#define NFRAMES 64

struct stream {
	uint8_t *bytes;
	size_t len;
	uint8_t types[NFRAMES];
	size_t lens[NFRAMES];
	uint8_t *bodies[NFRAMES];
};

/* Deterministic pseudo-random numbers (xorshift) so failures reproduce. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void stream_build(struct stream *s)
{
	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < NFRAMES; i++) {
		/* Mostly small, a few empty, a few large bodies. */
		size_t len = i % 9 == 0 ? 0 : i % 13 == 0 ? 70000 + rnd() % 5000 : rnd() % 300;
		s->types[i] = (uint8_t)(1 + rnd() % 10);
		s->lens[i] = len;
		s->bodies[i] = malloc(len ? len : 1);
		for (size_t j = 0; j < len; j++)
			s->bodies[i][j] = (uint8_t)rnd();
		uint8_t *enc;
		size_t enc_len;
		cr_assert_eq(frame_encode(s->types[i], s->bodies[i], len, &enc, &enc_len), 0);
		cr_assert_eq(enc_len, len + FRAME_HEADER_LEN);
		s->bytes = realloc(s->bytes, s->len + enc_len);
		memcpy(s->bytes + s->len, enc, enc_len);
		s->len += enc_len;
		free(enc);
	}
}

static void stream_free(struct stream *s)
{
	free(s->bytes);
	for (size_t i = 0; i < NFRAMES; i++)
		free(s->bodies[i]);
}

/* Feeds the stream in chunks of the sizes chunk() returns, each chunk in its
 * own exactly-sized heap buffer so that ASan sees any read past it. */
static void decode_in_chunks(const struct stream *s, size_t (*chunk)(void))
{
	struct frame_decoder d;
	frame_decoder_init(&d, 1 << 20);
	size_t off = 0, got = 0;
	while (off < s->len) {
		size_t n = chunk();
		if (n > s->len - off)
			n = s->len - off;
		uint8_t *buf = malloc(n);
		memcpy(buf, s->bytes + off, n);
		size_t pos = 0;
		while (pos < n) {
			size_t used;
			struct frame f;
			int rc = frame_decoder_feed(&d, buf + pos, n - pos, &used, &f);
			cr_assert_geq(rc, 0, "feed failed: %d", rc);
			cr_assert_leq(used, n - pos);
			pos += used;
			if (rc == 1) {
				cr_assert_lt(got, NFRAMES);
				cr_assert_eq(f.type, s->types[got], "frame %zu type", got);
				cr_assert_eq(f.len, s->lens[got], "frame %zu length", got);
				cr_assert_eq(memcmp(f.body, s->bodies[got], f.len), 0,
					     "frame %zu body differs", got);
				free(f.body);
				got++;
			} else {
				cr_assert_eq(pos, n, "rc 0 must consume everything");
			}
		}
		free(buf);
		off += n;
	}
	cr_assert_eq(got, NFRAMES, "decoded %zu of %d frames", got, NFRAMES);
	cr_assert_eq(d.hdr_have, 0, "decoder left mid-frame");
	frame_decoder_free(&d);
}

static size_t whole(void)
{
	return SIZE_MAX;
}
static size_t one_byte(void)
{
	return 1;
}
static size_t random_chunk(void)
{
	switch (rnd() % 4) {
	case 0:
		return 1 + rnd() % 4;
	case 1:
		return 1 + rnd() % 64;
	case 2:
		return 1 + rnd() % 4096;
	default:
		return 1 + rnd() % 100000;
	}
}

Test(frame, whole_bytewise_and_random_chunks_agree)
{
	struct stream s;
	stream_build(&s);
	decode_in_chunks(&s, whole);
	decode_in_chunks(&s, one_byte);
	for (int i = 0; i < 20; i++)
		decode_in_chunks(&s, random_chunk);
	stream_free(&s);
}

Test(frame, over_limit_rejected_before_allocation)
{
	struct frame_decoder d;
	frame_decoder_init(&d, 1000);
	uint8_t hdr[FRAME_HEADER_LEN];
	frame_header_write(hdr, FRAME_BATCH, 1000); /* length field 1001 */
	size_t used;
	struct frame f = { 0 };
	/* The first four bytes alone decide. */
	cr_assert_eq(frame_decoder_feed(&d, hdr, 4, &used, &f), 0);
	cr_assert_null(d.body);
	int rc = frame_decoder_feed(&d, hdr + 4, 1, &used, &f);
	cr_assert_eq(rc, -EMSGSIZE);
	cr_assert_null(d.body, "a body was allocated for a rejected frame");
	cr_assert_null(f.body);
	/* The stream cannot be resynchronised: everything after is refused. */
	uint8_t ok[FRAME_HEADER_LEN];
	frame_header_write(ok, FRAME_PING, 0);
	cr_assert_lt(frame_decoder_feed(&d, ok, sizeof(ok), &used, &f), 0);
	cr_assert_null(d.body);
	frame_decoder_free(&d);
}

Test(frame, huge_length_field_rejected)
{
	struct frame_decoder d;
	frame_decoder_init(&d, FRAME_MAX_PREAUTH);
	uint8_t hdr[FRAME_HEADER_LEN] = { 0xff, 0xff, 0xff, 0xff, FRAME_HELLO };
	size_t used;
	struct frame f;
	cr_assert_eq(frame_decoder_feed(&d, hdr, sizeof(hdr), &used, &f), -EMSGSIZE);
	cr_assert_null(d.body);
	frame_decoder_free(&d);
}

Test(frame, exact_limit_accepted)
{
	struct frame_decoder d;
	frame_decoder_init(&d, 101);
	uint8_t body[100] = { 7 };
	uint8_t *enc;
	size_t enc_len;
	cr_assert_eq(frame_encode(FRAME_BATCH, body, sizeof(body), &enc, &enc_len), 0);
	size_t used;
	struct frame f;
	cr_assert_eq(frame_decoder_feed(&d, enc, enc_len, &used, &f), 1);
	cr_assert_eq(used, enc_len);
	cr_assert_eq(f.len, 100);
	cr_assert_eq(f.body[0], 7);
	free(f.body);
	free(enc);
	frame_decoder_free(&d);
}

Test(frame, zero_length_is_a_protocol_error)
{
	struct frame_decoder d;
	frame_decoder_init(&d, 1000);
	uint8_t hdr[FRAME_HEADER_LEN] = { 0, 0, 0, 0, FRAME_PING };
	size_t used;
	struct frame f;
	cr_assert_eq(frame_decoder_feed(&d, hdr, sizeof(hdr), &used, &f), -EPROTO);
	cr_assert_null(d.body);
	frame_decoder_free(&d);
}

Test(frame, stops_at_frame_boundary)
{
	/* Two frames in one buffer: the first feed consumes only the first. */
	uint8_t buf[2 * FRAME_HEADER_LEN + 3];
	frame_header_write(buf, FRAME_ACK, 3);
	memcpy(buf + FRAME_HEADER_LEN, "abc", 3);
	frame_header_write(buf + FRAME_HEADER_LEN + 3, FRAME_PONG, 0);
	struct frame_decoder d;
	frame_decoder_init(&d, 100);
	size_t used;
	struct frame f;
	cr_assert_eq(frame_decoder_feed(&d, buf, sizeof(buf), &used, &f), 1);
	cr_assert_eq(used, FRAME_HEADER_LEN + 3);
	cr_assert_eq(f.type, FRAME_ACK);
	cr_assert_eq(memcmp(f.body, "abc", 3), 0);
	free(f.body);
	cr_assert_eq(frame_decoder_feed(&d, buf + used, sizeof(buf) - used, &used, &f), 1);
	cr_assert_eq(f.type, FRAME_PONG);
	cr_assert_eq(f.len, 0);
	cr_assert_not_null(f.body, "empty bodies are still owned buffers");
	free(f.body);
	frame_decoder_free(&d);
}

Test(frame, set_max_applies_to_next_header)
{
	struct frame_decoder d;
	frame_decoder_init(&d, FRAME_MAX_PREAUTH);
	uint8_t hdr[FRAME_HEADER_LEN];
	frame_header_write(hdr, FRAME_BATCH, FRAME_MAX_PREAUTH + 10);
	size_t used;
	struct frame f;
	frame_decoder_set_max(&d, FRAME_MAX_DEFAULT);
	cr_assert_eq(frame_decoder_feed(&d, hdr, sizeof(hdr), &used, &f), 0);
	cr_assert_not_null(d.body);
	/* Freeing mid-frame releases the partial body (ASan checks the leak). */
	frame_decoder_free(&d);
	cr_assert_null(d.body);
}

Test(frame, header_layout_is_big_endian)
{
	uint8_t hdr[FRAME_HEADER_LEN];
	frame_header_write(hdr, FRAME_SEALED, 0x01020304 - 1);
	cr_assert_eq(hdr[0], 1);
	cr_assert_eq(hdr[1], 2);
	cr_assert_eq(hdr[2], 3);
	cr_assert_eq(hdr[3], 4);
	cr_assert_eq(hdr[4], FRAME_SEALED);
}

Test(frame, type_names)
{
	cr_assert_str_eq(frame_type_name(FRAME_HELLO), "HELLO");
	cr_assert_str_eq(frame_type_name(FRAME_SEALED), "SEALED");
	cr_assert_str_eq(frame_type_name(0), "UNKNOWN");
	cr_assert_str_eq(frame_type_name(200), "UNKNOWN");
}
