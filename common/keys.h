/* Ed25519 identities: key files, agent ids and fingerprints.
 *
 * A secret key file holds one line, "cairn-ed25519-v1 <128 hex digits>\n"
 * (libsodium's 64-byte secret key: seed followed by public key). It is written
 * atomically with mode 0600, and loading refuses a file that group or others can
 * read, as ssh does, saying how to fix it. */
#ifndef CAIRN_KEYS_H
#define CAIRN_KEYS_H

#include <stdbool.h>
#include <stdint.h>

#include "util.h"

#define KEY_PUBLIC_LEN 32
#define KEY_SECRET_LEN 64
#define KEY_ID_HEX_LEN (2 * KEY_PUBLIC_LEN)  /* agent id: hex of the public key */
#define KEY_FINGERPRINT_HEX_LEN 16           /* first 8 bytes of BLAKE2b-256(pk) in hex */

struct keypair {
	uint8_t pk[KEY_PUBLIC_LEN];
	uint8_t sk[KEY_SECRET_LEN];
};

int keys_generate(struct keypair *kp);
int keys_save(const char *path, const struct keypair *kp, struct errbuf *eb);
/* -EPERM when the file's mode allows group/other access, -EINVAL when malformed,
 * -ENOENT when missing. */
int keys_load(const char *path, struct keypair *kp, struct errbuf *eb);
/* Loads path, or generates and saves a new key when it does not exist. */
int keys_load_or_create(const char *path, struct keypair *kp, bool *created, struct errbuf *eb);
/* Zeroes the secret key. */
void keys_wipe(struct keypair *kp);

void keys_id_hex(const uint8_t pk[static KEY_PUBLIC_LEN], char out[static KEY_ID_HEX_LEN + 1]);
void keys_fingerprint(const uint8_t pk[static KEY_PUBLIC_LEN],
		      char out[static KEY_FINGERPRINT_HEX_LEN + 1]);
/* Parses 64 hex digits (surrounding white space allowed); -EINVAL otherwise. */
int keys_public_from_hex(const char *hex, uint8_t pk[static KEY_PUBLIC_LEN]);

#endif
