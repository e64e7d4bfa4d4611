/* The cairn v1 handshake: mutual authentication and session keys.
 *
 * Pure state machines without sockets or clocks: feed each received frame in,
 * get the frames to send out. The agent runs a handshake_client, the
 * collector a handshake_server; tests, fuzzers and the load generator drive
 * them directly. docs/protocol.md has the byte layouts; in short:
 *
 *   agent                                             collector
 *   HELLO  magic "CRN1" | version u16 | flags u16 |
 *          agent_pk(32) | agent_eph_pk(32) | nonce(32)      (104 bytes, plain)
 *                                          ----->
 *          CHALLENGE collector_pk(32) | coll_eph_pk(32) | nonce(32) |
 *                    sig(64)                                 (160 bytes, plain)
 *                                          <-----
 *     TH  = BLAKE2b-256("cairn/v1/transcript" | HELLO body | CHALLENGE body without sig)
 *     sig = Ed25519 by the collector's long-term key, sign_parts(SIGN_DOMAIN_CHALLENGE, [TH])
 *     The agent checks collector_pk against its pinned key, then sig.
 *     kx  = crypto_kx session keys (agent = client, collector = server) from the
 *           two ephemeral X25519 keys
 *     key_agent_to_collector = BLAKE2b-256(kx key for that direction | TH), and
 *     key_collector_to_agent likewise: the keys are bound to the transcript.
 *   AUTH   first SEALED frame agent->collector (see common/channel.h), inner body
 *          sig(64) | flags u8 | mac(32) | host_len u8 | hostname
 *          sig = sign_parts(SIGN_DOMAIN_AUTH, [TH]) by the agent's long-term key
 *          mac = crypto_auth(TH) keyed with BLAKE2b-256(key "cairn/v1/enroll-token",
 *                the enrollment token); flags bit 0 says a MAC is present
 *                                          ----->
 *          the collector decides enrollment (handshake_server_accept/refuse)
 *          READY (sealed) state | high_seq | limits,  or ERROR (sealed) then close
 *                                          <-----
 *
 * Ephemeral secrets, long-term secret copies and keys are wiped when a
 * handshake ends (handshake_*_wipe) and never logged. Compares of keys, MACs
 * and pinned keys are constant-time. */
#ifndef CAIRN_HANDSHAKE_H
#define CAIRN_HANDSHAKE_H

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "channel.h"
#include "frame.h"
#include "keys.h"

#define HANDSHAKE_MAGIC "CRN1"
#define HANDSHAKE_VERSION 1
#define HANDSHAKE_NONCE_LEN 32
#define HANDSHAKE_HASH_LEN 32
#define HANDSHAKE_MAC_LEN crypto_auth_BYTES /* 32 */
#define HANDSHAKE_HELLO_LEN (4 + 2 + 2 + 32 + 32 + HANDSHAKE_NONCE_LEN)  /* 104 */
#define HANDSHAKE_CHALLENGE_LEN (32 + 32 + HANDSHAKE_NONCE_LEN + SIGN_LEN) /* 160 */
#define HANDSHAKE_AUTH_MIN_LEN (SIGN_LEN + 1 + HANDSHAKE_MAC_LEN + 1)    /* 98 + hostname */
#define HANDSHAKE_HOSTNAME_MAX 255
#define HANDSHAKE_AUTH_FLAG_MAC 0x01

/* Results of the feed functions besides 0 and negative errno. */
#define HANDSHAKE_DONE 1     /* client: READY received, channel usable */
#define HANDSHAKE_DECIDE 2   /* server: AUTH verified, call accept or refuse */

/* Frames to send, in order. Each data[i] is a complete outer frame, malloc'd;
 * handshake_out_free releases them. */
#define HANDSHAKE_OUT_MAX 2
struct handshake_out {
	uint8_t *data[HANDSHAKE_OUT_MAX];
	size_t len[HANDSHAKE_OUT_MAX];
	size_t n;
};
void handshake_out_free(struct handshake_out *o);

/* Derives the 32-byte MAC key from an enrollment token. */
void handshake_enroll_key(uint8_t key[static 32], const char *token, size_t token_len);

/* ---------------------------------------------------------------- client */

enum handshake_client_state {
	HSC_INIT,
	HSC_SENT_HELLO,
	HSC_SENT_AUTH,
	HSC_DONE,
	HSC_FAILED,
};

struct handshake_client {
	enum handshake_client_state state;
	struct keypair id;                       /* copy; wiped */
	uint8_t pinned[KEY_PUBLIC_LEN];
	uint8_t eph_pk[crypto_kx_PUBLICKEYBYTES];
	uint8_t eph_sk[crypto_kx_SECRETKEYBYTES];
	uint8_t hello[HANDSHAKE_HELLO_LEN];
	uint8_t th[HANDSHAKE_HASH_LEN];
	bool have_enroll_key;
	uint8_t enroll_key[32];
	char hostname[HANDSHAKE_HOSTNAME_MAX + 1];
	struct channel ch;                       /* valid once state == HSC_DONE */
	struct channel_ready ready;              /* READY's content */
	struct channel_error error;              /* set when the collector sent ERROR */
	const char *fail_reason;                 /* static text when state == HSC_FAILED */
};

/* enroll_token may be NULL (no MAC). hostname is cut at 255 bytes. */
int handshake_client_init(struct handshake_client *c, const struct keypair *id,
			  const uint8_t pinned_collector_pk[static KEY_PUBLIC_LEN],
			  const char *enroll_token, const char *hostname);
/* Produces HELLO. */
int handshake_client_start(struct handshake_client *c, struct handshake_out *out);
/* Feeds one received frame. Returns 0 (frames to send in out, keep going),
 * HANDSHAKE_DONE (READY received; use c->ch and c->ready), or an error:
 *   -EACCES   pinned key mismatch or bad collector signature (fail_reason says which)
 *   -ECONNREFUSED  the collector sent ERROR (c->error has code and text)
 *   -EPROTO   unexpected or malformed frame, -EBADMSG decryption failure. */
int handshake_client_feed(struct handshake_client *c, const struct frame *in,
			  struct handshake_out *out);
void handshake_client_wipe(struct handshake_client *c);

/* ---------------------------------------------------------------- server */

enum handshake_server_state {
	HSS_WAIT_HELLO,
	HSS_WAIT_AUTH,
	HSS_DECIDE,
	HSS_DONE,
	HSS_FAILED,
};

struct handshake_server {
	enum handshake_server_state state;
	const struct keypair *id;                /* the collector's key; not copied */
	const uint8_t *enroll_key;               /* 32 bytes or NULL: no token configured */
	uint8_t agent_pk[KEY_PUBLIC_LEN];        /* valid from HSS_WAIT_AUTH */
	uint8_t th[HANDSHAKE_HASH_LEN];
	struct channel ch;                       /* valid from HSS_DECIDE */
	bool mac_present, mac_valid;             /* valid from HSS_DECIDE */
	char hostname[HANDSHAKE_HOSTNAME_MAX + 1];
	const char *fail_reason;
	uint16_t fail_code;                      /* enum proto_error */
};

/* id and enroll_key must outlive the handshake. */
void handshake_server_init(struct handshake_server *s, const struct keypair *id,
			   const uint8_t *enroll_key);
/* Feeds one received frame. Returns 0 (frames in out, e.g. CHALLENGE),
 * HANDSHAKE_DECIDE once AUTH verified (agent_pk, hostname, mac_* set), or an
 * error; on error out holds an ERROR frame for the peer when one is due
 * (fail_code and fail_reason say why) and the connection should close. */
int handshake_server_feed(struct handshake_server *s, const struct frame *in,
			  struct handshake_out *out);
/* After HANDSHAKE_DECIDE: sends READY (state, high_seq, limits). */
int handshake_server_accept(struct handshake_server *s, const struct channel_ready *ready,
			    struct handshake_out *out);
/* After HANDSHAKE_DECIDE: sends a sealed ERROR; the connection then closes. */
int handshake_server_refuse(struct handshake_server *s, uint16_t code, const char *text,
			    struct handshake_out *out);
void handshake_server_wipe(struct handshake_server *s);

#endif
