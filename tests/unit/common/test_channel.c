/* Channel inner-frame codecs and the secretstream FINAL rule. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"

static void setup(void)
{
	cr_assert(sodium_init() >= 0);
}

TestSuite(channel, .init = setup);

Test(channel, ready_roundtrip_and_length_check)
{
	struct channel_ready r = { .state = 2, .high_seq = 0x0102030405060708ull,
				   .max_frame = 4 << 20, .max_records = 100000 }, back;
	uint8_t b[CHANNEL_READY_LEN];
	channel_ready_encode(b, &r);
	cr_assert_eq(channel_ready_decode(b, sizeof(b), &back), 0);
	cr_assert_eq(back.high_seq, r.high_seq);
	cr_assert_eq(back.max_frame, r.max_frame);
	cr_assert_eq(back.max_records, r.max_records);
	cr_assert_eq(b[4], 0x01); /* big-endian */
	cr_assert_eq(channel_ready_decode(b, sizeof(b) - 1, &back), -EPROTO);
}

Test(channel, batch_decode)
{
	uint8_t body[CHANNEL_BATCH_HDR_LEN + 3];
	uint8_t sig[SIGN_LEN];
	memset(sig, 0xab, sizeof(sig));
	channel_batch_header(body, 77, sig);
	memcpy(body + CHANNEL_BATCH_HDR_LEN, "xyz", 3);
	struct channel_batch b;
	cr_assert_eq(channel_batch_decode(body, sizeof(body), &b), 0);
	cr_assert_eq(b.seq, 77);
	cr_assert_eq(memcmp(b.signature, sig, SIGN_LEN), 0);
	cr_assert_eq(b.payload_len, 3);
	cr_assert_eq(channel_batch_decode(body, CHANNEL_BATCH_HDR_LEN - 1, &b), -EPROTO);
}

Test(channel, error_text_bounded_and_sanitised)
{
	char longtext[400];
	memset(longtext, 'a', sizeof(longtext) - 1);
	longtext[sizeof(longtext) - 1] = '\0';
	uint8_t b[3 + CHANNEL_ERROR_TEXT_MAX];
	size_t n = channel_error_encode(b, PROTO_ERR_LIMIT, longtext);
	cr_assert_eq(n, 3 + CHANNEL_ERROR_TEXT_MAX);
	struct channel_error e;
	cr_assert_eq(channel_error_decode(b, n, &e), 0);
	cr_assert_eq(e.code, PROTO_ERR_LIMIT);
	cr_assert_eq(strlen(e.text), CHANNEL_ERROR_TEXT_MAX);

	n = channel_error_encode(b, 1, "a\nb");
	cr_assert_eq(channel_error_decode(b, n, &e), 0);
	cr_assert_str_eq(e.text, "a?b");
	cr_assert_eq(channel_error_decode(b, n + 1, &e), -EPROTO);
	cr_assert_str_eq(proto_error_name(PROTO_ERR_BAD_SIGNATURE), "bad-signature");
	cr_assert_str_eq(proto_error_name(999), "unknown");
}

Test(channel, nothing_after_final)
{
	uint8_t k1[CHANNEL_KEY_LEN], k2[CHANNEL_KEY_LEN];
	randombytes_buf(k1, sizeof(k1));
	randombytes_buf(k2, sizeof(k2));
	struct channel a, b;
	channel_init(&a, k1, k2);
	channel_init(&b, k2, k1);
	uint8_t *f1, *f2;
	size_t l1, l2;
	cr_assert_eq(channel_seal(&a, FRAME_ERROR, (const uint8_t *)"\0\1\0", 3, true, &f1, &l1), 0);
	cr_assert_eq(channel_seal(&a, FRAME_PING, (const uint8_t *)"12345678", 8, false, &f2, &l2),
		     0);
	struct frame in;
	/* first sealed frame carries the 24-byte header */
	cr_assert_eq(l1, FRAME_HEADER_LEN + CHANNEL_HEADER_LEN + 1 + 3 + CHANNEL_ABYTES);
	cr_assert_eq(l2, FRAME_HEADER_LEN + 1 + 8 + CHANNEL_ABYTES);
	cr_assert_eq(channel_open(&b, f1 + FRAME_HEADER_LEN, l1 - FRAME_HEADER_LEN, &in), 0);
	free(in.body);
	cr_assert(b.rx_final);
	cr_assert_eq(channel_open(&b, f2 + FRAME_HEADER_LEN, l2 - FRAME_HEADER_LEN, &in), -EPROTO);
	/* too short to hold a header */
	struct channel c;
	channel_init(&c, k2, k1);
	cr_assert_eq(channel_open(&c, f1 + FRAME_HEADER_LEN, 10, &in), -EPROTO);
	free(f1);
	free(f2);
	channel_wipe(&a);
	uint8_t zero[CHANNEL_KEY_LEN] = { 0 };
	cr_assert_eq(memcmp(a.tx_key, zero, sizeof(zero)), 0);
}
