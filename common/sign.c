#include "sign.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

/* Ed25519ph (libsodium's multi-part crypto_sign_init/update/final) over
 *   u64be(len(domain)) | domain | for each part: u64be(len) | bytes
 * The length prefixes make the encoding injective, so a signature for one
 * (domain, parts) never verifies for another, and the payload is hashed in
 * place rather than copied into one buffer. */
static void absorb_len(crypto_sign_state *st, uint64_t len)
{
	uint8_t be[8];
	for (int i = 0; i < 8; i++)
		be[i] = (uint8_t)(len >> (56 - 8 * i));
	crypto_sign_update(st, be, sizeof(be));
}

static void absorb(crypto_sign_state *st, const char *domain, const struct sign_part *parts,
		   size_t nparts)
{
	size_t dlen = strlen(domain);
	absorb_len(st, dlen);
	crypto_sign_update(st, (const uint8_t *)domain, dlen);
	for (size_t i = 0; i < nparts; i++) {
		absorb_len(st, parts[i].len);
		if (parts[i].len)
			crypto_sign_update(st, parts[i].data, parts[i].len);
	}
}

int sign_parts(uint8_t sig[static SIGN_LEN], const char *domain, const struct sign_part *parts,
	       size_t nparts, const uint8_t sk[static KEY_SECRET_LEN])
{
	crypto_sign_state st;
	crypto_sign_init(&st);
	absorb(&st, domain, parts, nparts);
	int rc = crypto_sign_final_create(&st, sig, NULL, sk) ? -EIO : 0;
	sodium_memzero(&st, sizeof(st));
	return rc;
}

int sign_verify_parts(const uint8_t sig[static SIGN_LEN], const char *domain,
		      const struct sign_part *parts, size_t nparts,
		      const uint8_t pk[static KEY_PUBLIC_LEN])
{
	crypto_sign_state st;
	crypto_sign_init(&st);
	absorb(&st, domain, parts, nparts);
	/* final_verify takes a non-const signature but does not modify it. */
	uint8_t copy[SIGN_LEN];
	memcpy(copy, sig, SIGN_LEN);
	return crypto_sign_final_verify(&st, copy, pk) ? -EBADMSG : 0;
}

static void batch_parts(struct sign_part parts[3], uint8_t seq_be[8],
			const uint8_t pk[static KEY_PUBLIC_LEN], uint64_t seq,
			const uint8_t *payload, size_t len)
{
	for (int i = 0; i < 8; i++)
		seq_be[i] = (uint8_t)(seq >> (56 - 8 * i));
	parts[0] = (struct sign_part){ pk, KEY_PUBLIC_LEN };
	parts[1] = (struct sign_part){ seq_be, 8 };
	parts[2] = (struct sign_part){ payload, len };
}

int sign_batch(uint8_t sig[static SIGN_LEN], const uint8_t sk[static KEY_SECRET_LEN],
	       const uint8_t pk[static KEY_PUBLIC_LEN], uint64_t seq, const uint8_t *payload,
	       size_t len)
{
	struct sign_part parts[3];
	uint8_t seq_be[8];
	batch_parts(parts, seq_be, pk, seq, payload, len);
	return sign_parts(sig, SIGN_DOMAIN_BATCH, parts, 3, sk);
}

int sign_batch_verify(const uint8_t sig[static SIGN_LEN], const uint8_t pk[static KEY_PUBLIC_LEN],
		      uint64_t seq, const uint8_t *payload, size_t len)
{
	struct sign_part parts[3];
	uint8_t seq_be[8];
	batch_parts(parts, seq_be, pk, seq, payload, len);
	return sign_verify_parts(sig, SIGN_DOMAIN_BATCH, parts, 3, pk);
}
