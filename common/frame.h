/* Frame codec: `u32 big-endian length | u8 type | body`.
 *
 * length counts the type byte and the body (so it is >= 1). The decoder is
 * incremental: feed it whatever a socket read returned, in any chunking; it
 * never reads past the bytes it is given and refuses a length above its limit
 * from the 4-byte header alone, before allocating anything. */
#ifndef CAIRN_FRAME_H
#define CAIRN_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_HEADER_LEN 5
#define FRAME_MAX_DEFAULT (4u << 20)  /* after authentication */
#define FRAME_MAX_PREAUTH (64u << 10) /* before */

enum frame_type {
	FRAME_HELLO = 1,
	FRAME_CHALLENGE = 2,
	FRAME_AUTH = 3,
	FRAME_READY = 4,
	FRAME_BATCH = 5,
	FRAME_ACK = 6,
	FRAME_ERROR = 7,
	FRAME_PING = 8,
	FRAME_PONG = 9,
	FRAME_SEALED = 10, /* secretstream ciphertext carrying one inner frame */
};

/* A decoded frame. body is malloc'd and owned by the caller (free()). */
struct frame {
	uint8_t type;
	uint8_t *body;
	size_t len; /* body length, excluding the type byte */
};

struct frame_decoder {
	uint32_t max_len; /* max value of the length field */
	uint8_t hdr[FRAME_HEADER_LEN];
	size_t hdr_have;
	uint8_t *body;
	size_t body_len;
	size_t body_have;
};

void frame_decoder_init(struct frame_decoder *d, uint32_t max_len);
/* Raises or lowers the limit for frames whose header is not read yet. */
void frame_decoder_set_max(struct frame_decoder *d, uint32_t max_len);
/* Frees a partly received body. The decoder can be reused after init. */
void frame_decoder_free(struct frame_decoder *d);

/* Consumes bytes from data[0..len) up to the end of one frame and sets
 * *consumed. Returns 1 with *out filled when a frame is complete, 0 when all of
 * data was consumed without completing one, -EMSGSIZE when the length is above
 * the limit, -EPROTO for a zero length, -ENOMEM. After an error the decoder is
 * unusable (the stream cannot be resynchronised): close the connection. */
int frame_decoder_feed(struct frame_decoder *d, const uint8_t *data, size_t len,
		       size_t *consumed, struct frame *out);

/* Writes the 5-byte header for a body of body_len bytes. */
void frame_header_write(uint8_t hdr[static FRAME_HEADER_LEN], uint8_t type, size_t body_len);

/* Returns a malloc'd buffer header+body in *out (length *out_len). */
int frame_encode(uint8_t type, const uint8_t *body, size_t body_len, uint8_t **out,
		 size_t *out_len);

const char *frame_type_name(uint8_t type);

#endif
