/* Domain-separated signatures: any change to domain, parts, key, seq or
 * signature makes verification fail. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "keys.h"
#include "sign.h"

static struct keypair kp, other;

static void setup(void)
{
	cr_assert_eq(keys_generate(&kp), 0);
	cr_assert_eq(keys_generate(&other), 0);
}

TestSuite(sign, .init = setup);

Test(sign, roundtrip_and_every_flipped_payload_bit_fails)
{
	uint8_t payload[64];
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7);
	struct sign_part parts[] = { { "head", 4 }, { payload, sizeof(payload) } };
	uint8_t sig[SIGN_LEN];
	cr_assert_eq(sign_parts(sig, SIGN_DOMAIN_AUTH, parts, 2, kp.sk), 0);
	cr_assert_eq(sign_verify_parts(sig, SIGN_DOMAIN_AUTH, parts, 2, kp.pk), 0);
	for (size_t bit = 0; bit < 8 * sizeof(payload); bit++) {
		payload[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		cr_assert_eq(sign_verify_parts(sig, SIGN_DOMAIN_AUTH, parts, 2, kp.pk), -EBADMSG,
			     "bit %zu flipped still verifies", bit);
		payload[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	cr_assert_eq(sign_verify_parts(sig, SIGN_DOMAIN_AUTH, parts, 2, kp.pk), 0);
}

Test(sign, other_domain_fails)
{
	struct sign_part parts[] = { { "x", 1 } };
	uint8_t sig[SIGN_LEN];
	cr_assert_eq(sign_parts(sig, SIGN_DOMAIN_AUTH, parts, 1, kp.sk), 0);
	cr_assert_eq(sign_verify_parts(sig, SIGN_DOMAIN_CHALLENGE, parts, 1, kp.pk), -EBADMSG);
	cr_assert_eq(sign_verify_parts(sig, SIGN_DOMAIN_BATCH, parts, 1, kp.pk), -EBADMSG);
	/* A domain that is a prefix of the real one must not verify either. */
	cr_assert_eq(sign_verify_parts(sig, "cairn/v1/handshake", parts, 1, kp.pk), -EBADMSG);
}

Test(sign, part_boundaries_are_bound)
{
	struct sign_part ab_c[] = { { "ab", 2 }, { "c", 1 } };
	struct sign_part a_bc[] = { { "a", 1 }, { "bc", 2 } };
	struct sign_part abc[] = { { "abc", 3 } };
	uint8_t sig[SIGN_LEN];
	cr_assert_eq(sign_parts(sig, SIGN_DOMAIN_AUTH, ab_c, 2, kp.sk), 0);
	cr_assert_eq(sign_verify_parts(sig, SIGN_DOMAIN_AUTH, a_bc, 2, kp.pk), -EBADMSG);
	cr_assert_eq(sign_verify_parts(sig, SIGN_DOMAIN_AUTH, abc, 1, kp.pk), -EBADMSG);
}

Test(sign, other_key_and_damaged_signature_fail)
{
	struct sign_part parts[] = { { "payload", 7 } };
	uint8_t sig[SIGN_LEN];
	cr_assert_eq(sign_parts(sig, SIGN_DOMAIN_AUTH, parts, 1, kp.sk), 0);
	cr_assert_eq(sign_verify_parts(sig, SIGN_DOMAIN_AUTH, parts, 1, other.pk), -EBADMSG);
	for (size_t i = 0; i < SIGN_LEN; i++) {
		sig[i] ^= 0x01;
		cr_assert_eq(sign_verify_parts(sig, SIGN_DOMAIN_AUTH, parts, 1, kp.pk), -EBADMSG,
			     "signature byte %zu damaged still verifies", i);
		sig[i] ^= 0x01;
	}
}

Test(sign, batch_binds_seq_key_and_payload)
{
	uint8_t payload[1000];
	memset(payload, 0xab, sizeof(payload));
	uint8_t sig[SIGN_LEN];
	cr_assert_eq(sign_batch(sig, kp.sk, kp.pk, 42, payload, sizeof(payload)), 0);
	cr_assert_eq(sign_batch_verify(sig, kp.pk, 42, payload, sizeof(payload)), 0);
	cr_assert_eq(sign_batch_verify(sig, kp.pk, 43, payload, sizeof(payload)), -EBADMSG);
	cr_assert_eq(sign_batch_verify(sig, other.pk, 42, payload, sizeof(payload)), -EBADMSG);
	cr_assert_eq(sign_batch_verify(sig, kp.pk, 42, payload, sizeof(payload) - 1), -EBADMSG);
	payload[999] ^= 0x80;
	cr_assert_eq(sign_batch_verify(sig, kp.pk, 42, payload, sizeof(payload)), -EBADMSG);
	payload[999] ^= 0x80;
	/* A batch signature is not valid as a handshake signature over the same bytes. */
	uint8_t seq_be[8] = { 0, 0, 0, 0, 0, 0, 0, 42 };
	struct sign_part parts[] = { { kp.pk, KEY_PUBLIC_LEN }, { seq_be, 8 },
				     { payload, sizeof(payload) } };
	cr_assert_eq(sign_verify_parts(sig, SIGN_DOMAIN_BATCH, parts, 3, kp.pk), 0);
	cr_assert_eq(sign_verify_parts(sig, SIGN_DOMAIN_AUTH, parts, 3, kp.pk), -EBADMSG);
}

Test(sign, empty_payload)
{
	uint8_t sig[SIGN_LEN];
	cr_assert_eq(sign_batch(sig, kp.sk, kp.pk, 0, NULL, 0), 0);
	cr_assert_eq(sign_batch_verify(sig, kp.pk, 0, NULL, 0), 0);
	cr_assert_eq(sign_batch_verify(sig, kp.pk, 0, (const uint8_t *)"", 1), -EBADMSG);
}
