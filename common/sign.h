/* Domain-separated Ed25519 signatures.
 *
 * A signature covers a domain tag and a list of parts, each prefixed with its
 * length (u64 big-endian), so no two different (domain, parts) inputs hash
 * alike and a signature made for one purpose never verifies for another. */
#ifndef CAIRN_SIGN_H
#define CAIRN_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"

#define SIGN_LEN 64

#define SIGN_DOMAIN_BATCH "cairn/v1/batch"
#define SIGN_DOMAIN_CHALLENGE "cairn/v1/handshake/collector"
#define SIGN_DOMAIN_AUTH "cairn/v1/handshake/agent"

struct sign_part {
	const void *data;
	size_t len;
};

int sign_parts(uint8_t sig[static SIGN_LEN], const char *domain, const struct sign_part *parts,
	       size_t nparts, const uint8_t sk[static KEY_SECRET_LEN]);
/* 0 when valid, -EBADMSG otherwise. */
int sign_verify_parts(const uint8_t sig[static SIGN_LEN], const char *domain,
		      const struct sign_part *parts, size_t nparts,
		      const uint8_t pk[static KEY_PUBLIC_LEN]);

/* A batch signature: domain SIGN_DOMAIN_BATCH over (agent public key, seq as
 * u64 big-endian, payload). */
int sign_batch(uint8_t sig[static SIGN_LEN], const uint8_t sk[static KEY_SECRET_LEN],
	       const uint8_t pk[static KEY_PUBLIC_LEN], uint64_t seq, const uint8_t *payload,
	       size_t len);
int sign_batch_verify(const uint8_t sig[static SIGN_LEN], const uint8_t pk[static KEY_PUBLIC_LEN],
		      uint64_t seq, const uint8_t *payload, size_t len);

#endif
