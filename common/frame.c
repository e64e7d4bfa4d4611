#include "frame.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void frame_decoder_init(struct frame_decoder *d, uint32_t max_len)
{
	memset(d, 0, sizeof(*d));
	d->max_len = max_len;
}

void frame_decoder_set_max(struct frame_decoder *d, uint32_t max_len)
{
	d->max_len = max_len;
}

void frame_decoder_free(struct frame_decoder *d)
{
	free(d->body);
	d->body = NULL;
	d->body_len = 0;
	d->body_have = 0;
	d->hdr_have = 0;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The decoder is in one of three states: reading the header (hdr_have <
 * FRAME_HEADER_LEN), reading a body (body != NULL) or, after an error,
 * poisoned (hdr_have > FRAME_HEADER_LEN) so that a caller ignoring the error
 * cannot resynchronise on garbage. */
#define FRAME_POISONED (FRAME_HEADER_LEN + 1)

int frame_decoder_feed(struct frame_decoder *d, const uint8_t *data, size_t len,
		       size_t *consumed, struct frame *out)
{
	size_t used = 0;
	*consumed = 0;
	if (d->hdr_have > FRAME_HEADER_LEN)
		return -EPROTO;

	if (d->hdr_have < FRAME_HEADER_LEN) {
		size_t want = FRAME_HEADER_LEN - d->hdr_have;
		size_t take = len < want ? len : want;
		memcpy(d->hdr + d->hdr_have, data, take);
		d->hdr_have += take;
		used += take;
		if (d->hdr_have < FRAME_HEADER_LEN) {
			*consumed = used;
			return 0;
		}
		uint32_t flen = get_be32(d->hdr);
		if (flen == 0) {
			d->hdr_have = FRAME_POISONED;
			*consumed = used;
			return -EPROTO;
		}
		if (flen > d->max_len) {
			d->hdr_have = FRAME_POISONED;
			*consumed = used;
			return -EMSGSIZE;
		}
		d->body_len = flen - 1;
		d->body_have = 0;
		/* malloc(0) may return NULL; always allocate at least one byte so
		 * an empty body is distinguishable from a failed allocation. */
		d->body = malloc(d->body_len ? d->body_len : 1);
		if (!d->body) {
			d->hdr_have = FRAME_POISONED;
			*consumed = used;
			return -ENOMEM;
		}
	}

	size_t want = d->body_len - d->body_have;
	size_t left = len - used;
	size_t take = left < want ? left : want;
	if (take) {
		memcpy(d->body + d->body_have, data + used, take);
		d->body_have += take;
		used += take;
	}
	*consumed = used;
	if (d->body_have < d->body_len)
		return 0;

	out->type = d->hdr[4];
	out->body = d->body;
	out->len = d->body_len;
	d->body = NULL;
	d->body_len = 0;
	d->body_have = 0;
	d->hdr_have = 0;
	return 1;
}

void frame_header_write(uint8_t hdr[static FRAME_HEADER_LEN], uint8_t type, size_t body_len)
{
	uint32_t flen = (uint32_t)(body_len + 1);
	hdr[0] = (uint8_t)(flen >> 24);
	hdr[1] = (uint8_t)(flen >> 16);
	hdr[2] = (uint8_t)(flen >> 8);
	hdr[3] = (uint8_t)flen;
	hdr[4] = type;
}

int frame_encode(uint8_t type, const uint8_t *body, size_t body_len, uint8_t **out,
		 size_t *out_len)
{
	if (body_len >= UINT32_MAX)
		return -EMSGSIZE;
	uint8_t *buf = malloc(FRAME_HEADER_LEN + body_len);
	if (!buf)
		return -ENOMEM;
	frame_header_write(buf, type, body_len);
	if (body_len)
		memcpy(buf + FRAME_HEADER_LEN, body, body_len);
	*out = buf;
	*out_len = FRAME_HEADER_LEN + body_len;
	return 0;
}

const char *frame_type_name(uint8_t type)
{
	static const char *const names[] = {
		[FRAME_HELLO] = "HELLO", [FRAME_CHALLENGE] = "CHALLENGE", [FRAME_AUTH] = "AUTH",
		[FRAME_READY] = "READY", [FRAME_BATCH] = "BATCH",	  [FRAME_ACK] = "ACK",
		[FRAME_ERROR] = "ERROR", [FRAME_PING] = "PING",		  [FRAME_PONG] = "PONG",
		[FRAME_SEALED] = "SEALED",
	};
	if (type < sizeof(names) / sizeof(names[0]) && names[type])
		return names[type];
	return "UNKNOWN";
}
