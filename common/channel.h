/* The encrypted channel after the handshake, and the inner frames it carries.
 *
 * Once both sides hold the session keys (common/handshake.h), every frame is
 * an outer frame of type FRAME_SEALED whose body is one
 * crypto_secretstream_xchacha20poly1305 message; its plaintext is an inner
 * frame `u8 type | body` (no length: the ciphertext has one). One stream per
 * direction. The first SEALED frame in each direction starts with that
 * stream's 24-byte secretstream header:
 *
 *   first:  FRAME_SEALED | header(24) | ciphertext(1 + body + 17)
 *   later:  FRAME_SEALED | ciphertext(1 + body + 17)
 *
 * A frame that fails to decrypt (tampered, reordered, replayed, truncated)
 * ends the connection: the stream cannot be resynchronised. A message tagged
 * FINAL ends the stream; nothing may follow it.
 *
 * Inner frame bodies (all integers big-endian), see docs/protocol.md:
 *   READY  state u8 | reserved u8[3] | high_seq u64 | max_frame u32 | max_records u32
 *   BATCH  seq u64 | signature(64) | payload (protobuf cairn.Batch)
 *   ACK    seq u64                     highest seq durably stored for this agent
 *   ERROR  code u16 | text_len u8 | text (UTF-8, no NUL)
 *   PING   token u64
 *   PONG   token u64                   echoes PING's token
 *
 * Ownership: out buffers are malloc'd and belong to the caller (free()).
 * Views returned by the decoders point into the caller's input buffer. */
#ifndef CAIRN_CHANNEL_H
#define CAIRN_CHANNEL_H

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "sign.h"

#define CHANNEL_KEY_LEN crypto_secretstream_xchacha20poly1305_KEYBYTES     /* 32 */
#define CHANNEL_HEADER_LEN crypto_secretstream_xchacha20poly1305_HEADERBYTES /* 24 */
#define CHANNEL_ABYTES crypto_secretstream_xchacha20poly1305_ABYTES        /* 17 */
/* Bytes a sealed frame adds around an inner body, first frame excluded. */
#define CHANNEL_OVERHEAD (FRAME_HEADER_LEN + CHANNEL_ABYTES + 1)

#define CHANNEL_READY_LEN 20
#define CHANNEL_BATCH_HDR_LEN (8 + SIGN_LEN)
#define CHANNEL_ERROR_TEXT_MAX 255

/* Wire ERROR codes. Stable numbers: never renumber. */
enum proto_error {
	PROTO_ERR_NONE = 0,
	PROTO_ERR_PROTOCOL = 1,        /* unexpected frame or malformed fixed layout */
	PROTO_ERR_VERSION = 2,         /* unsupported protocol version or bad magic */
	PROTO_ERR_AUTH = 3,            /* handshake signature or pinned key mismatch */
	PROTO_ERR_PENDING = 4,         /* agent not accepted yet: retry later */
	PROTO_ERR_REJECTED = 5,        /* enrollment rejected */
	PROTO_ERR_REVOKED = 6,         /* agent key revoked */
	PROTO_ERR_KEY_CHANGED = 7,     /* known hostname, different key: needs a person */
	PROTO_ERR_FRAME_TOO_LARGE = 8, /* frame above max_frame (or pre-auth limit) */
	PROTO_ERR_TIMEOUT = 9,         /* handshake or idle timeout */
	PROTO_ERR_BUSY = 10,           /* max_connections reached: retry later */
	PROTO_ERR_BAD_SIGNATURE = 11,  /* batch signature does not verify */
	PROTO_ERR_MALFORMED = 12,      /* batch payload cannot be decoded */
	PROTO_ERR_LIMIT = 13,          /* batch above max_records / max_string */
	PROTO_ERR_DECRYPT = 14,        /* sealed frame failed authentication */
	PROTO_ERR_INTERNAL = 15,       /* collector-side failure */
	PROTO_ERR_SHUTDOWN = 16,       /* collector stopping: reconnect later */
	/* (harden) a batch whose seq is stored with other content: the agent key
	 * is used by two machines? The agent keeps the batch. */
	PROTO_ERR_CONFLICT = 17,
	/* (harden) a newer connection with the same agent key took over */
	PROTO_ERR_REPLACED = 18,
};

const char *proto_error_name(uint16_t code);

struct channel {
	crypto_secretstream_xchacha20poly1305_state tx, rx;
	uint8_t tx_key[CHANNEL_KEY_LEN];
	uint8_t rx_key[CHANNEL_KEY_LEN];
	bool tx_started, rx_started;
	bool rx_final; /* peer sent its FINAL message */
	uint64_t sealed, opened;
};

/* Sets the keys; streams start lazily with the first seal/open. */
void channel_init(struct channel *ch, const uint8_t tx_key[static CHANNEL_KEY_LEN],
		  const uint8_t rx_key[static CHANNEL_KEY_LEN]);
/* Zeroes keys and stream states. */
void channel_wipe(struct channel *ch);

/* Encrypts inner frame (type, body) into a complete outer FRAME_SEALED frame
 * in *out (malloc'd, *out_len bytes). final tags the message FINAL.
 * -EMSGSIZE when the result would exceed FRAME len limits (u32), -ENOMEM. */
int channel_seal(struct channel *ch, uint8_t type, const uint8_t *body, size_t len, bool final,
		 uint8_t **out, size_t *out_len);
/* Same, for a body given in two pieces (header fields + payload), so a batch
 * payload is not copied before encryption. */
int channel_seal2(struct channel *ch, uint8_t type, const uint8_t *a, size_t alen,
		  const uint8_t *b, size_t blen, bool final, uint8_t **out, size_t *out_len);

/* Decrypts the body of a received FRAME_SEALED frame into inner->type and a
 * malloc'd inner->body. -EBADMSG when authentication fails, -EPROTO when the
 * frame is too short or something follows a FINAL message. */
int channel_open(struct channel *ch, const uint8_t *body, size_t len, struct frame *inner);

/* ------------------------------------------------------------ inner frames */

struct channel_ready {
	uint8_t state; /* store.EnrollState (ACCEPTED = 2) */
	uint64_t high_seq;
	uint32_t max_frame;
	uint32_t max_records;
};

struct channel_batch {
	uint64_t seq;
	const uint8_t *signature; /* SIGN_LEN bytes, view into the input */
	const uint8_t *payload;   /* view into the input */
	size_t payload_len;
};

struct channel_error {
	uint16_t code;
	char text[CHANNEL_ERROR_TEXT_MAX + 1];
};

void channel_ready_encode(uint8_t out[static CHANNEL_READY_LEN], const struct channel_ready *r);
int channel_ready_decode(const uint8_t *body, size_t len, struct channel_ready *r);

void channel_batch_header(uint8_t out[static CHANNEL_BATCH_HDR_LEN], uint64_t seq,
			  const uint8_t sig[static SIGN_LEN]);
int channel_batch_decode(const uint8_t *body, size_t len, struct channel_batch *b);

/* u64 bodies: ACK, PING, PONG. */
void channel_u64_encode(uint8_t out[static 8], uint64_t v);
int channel_u64_decode(const uint8_t *body, size_t len, uint64_t *v);

/* ERROR body into out (at most 3 + 255 bytes); text is cut at 255 bytes.
 * Returns the body length. */
size_t channel_error_encode(uint8_t out[static 3 + CHANNEL_ERROR_TEXT_MAX], uint16_t code,
			    const char *text);
/* Non-printable bytes in the text are replaced by '?'. */
int channel_error_decode(const uint8_t *body, size_t len, struct channel_error *e);

/* A complete plain (unsealed) ERROR frame, for refusals before keys exist. */
int channel_error_frame_plain(uint16_t code, const char *text, uint8_t **out, size_t *out_len);

#endif
