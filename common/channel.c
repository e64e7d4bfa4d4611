#include "channel.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"

const char *proto_error_name(uint16_t code)
{
	static const char *const names[] = {
		[PROTO_ERR_NONE] = "none",
		[PROTO_ERR_PROTOCOL] = "protocol",
		[PROTO_ERR_VERSION] = "version",
		[PROTO_ERR_AUTH] = "auth",
		[PROTO_ERR_PENDING] = "pending",
		[PROTO_ERR_REJECTED] = "rejected",
		[PROTO_ERR_REVOKED] = "revoked",
		[PROTO_ERR_KEY_CHANGED] = "key-changed",
		[PROTO_ERR_FRAME_TOO_LARGE] = "frame-too-large",
		[PROTO_ERR_TIMEOUT] = "timeout",
		[PROTO_ERR_BUSY] = "busy",
		[PROTO_ERR_BAD_SIGNATURE] = "bad-signature",
		[PROTO_ERR_MALFORMED] = "malformed",
		[PROTO_ERR_LIMIT] = "limit",
		[PROTO_ERR_DECRYPT] = "decrypt",
		[PROTO_ERR_INTERNAL] = "internal",
		[PROTO_ERR_SHUTDOWN] = "shutdown",
		[PROTO_ERR_CONFLICT] = "conflict",
		[PROTO_ERR_REPLACED] = "replaced",
	};
	if (code < sizeof(names) / sizeof(names[0]) && names[code])
		return names[code];
	return "unknown";
}

void channel_init(struct channel *ch, const uint8_t tx_key[static CHANNEL_KEY_LEN],
		  const uint8_t rx_key[static CHANNEL_KEY_LEN])
{
	memset(ch, 0, sizeof(*ch));
	memcpy(ch->tx_key, tx_key, CHANNEL_KEY_LEN);
	memcpy(ch->rx_key, rx_key, CHANNEL_KEY_LEN);
}

void channel_wipe(struct channel *ch)
{
	sodium_memzero(ch, sizeof(*ch));
}

int channel_seal2(struct channel *ch, uint8_t type, const uint8_t *a, size_t alen,
		  const uint8_t *b, size_t blen, bool final, uint8_t **out, size_t *out_len)
{
	size_t plain_len = 1 + alen + blen;
	size_t hdr = ch->tx_started ? 0 : CHANNEL_HEADER_LEN;
	size_t body_len = hdr + plain_len + CHANNEL_ABYTES;
	if (plain_len < alen || body_len < plain_len || body_len >= UINT32_MAX)
		return -EMSGSIZE;

	/* The plaintext is assembled once; for a batch that is the payload copy
	 * the encryption needs anyway (secretstream has no scatter input). */
	uint8_t *plain = malloc(plain_len);
	uint8_t *buf = malloc(FRAME_HEADER_LEN + body_len);
	if (!plain || !buf) {
		free(plain);
		free(buf);
		return -ENOMEM;
	}
	plain[0] = type;
	if (alen)
		memcpy(plain + 1, a, alen);
	if (blen)
		memcpy(plain + 1 + alen, b, blen);

	frame_header_write(buf, FRAME_SEALED, body_len);
	uint8_t *p = buf + FRAME_HEADER_LEN;
	if (!ch->tx_started) {
		crypto_secretstream_xchacha20poly1305_init_push(&ch->tx, p, ch->tx_key);
		ch->tx_started = true;
		p += CHANNEL_HEADER_LEN;
	}
	unsigned char tag = final ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
				  : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
	crypto_secretstream_xchacha20poly1305_push(&ch->tx, p, NULL, plain, plain_len, NULL, 0, tag);
	sodium_memzero(plain, plain_len);
	free(plain);
	ch->sealed++;
	*out = buf;
	*out_len = FRAME_HEADER_LEN + body_len;
	return 0;
}

int channel_seal(struct channel *ch, uint8_t type, const uint8_t *body, size_t len, bool final,
		 uint8_t **out, size_t *out_len)
{
	return channel_seal2(ch, type, body, len, NULL, 0, final, out, out_len);
}

int channel_open(struct channel *ch, const uint8_t *body, size_t len, struct frame *inner)
{
	if (ch->rx_final)
		return -EPROTO;
	if (!ch->rx_started) {
		if (len < CHANNEL_HEADER_LEN)
			return -EPROTO;
		if (crypto_secretstream_xchacha20poly1305_init_pull(&ch->rx, body, ch->rx_key) != 0)
			return -EBADMSG;
		ch->rx_started = true;
		body += CHANNEL_HEADER_LEN;
		len -= CHANNEL_HEADER_LEN;
	}
	if (len < CHANNEL_ABYTES + 1)
		return -EPROTO;
	size_t plain_len = len - CHANNEL_ABYTES;
	uint8_t *plain = malloc(plain_len);
	if (!plain)
		return -ENOMEM;
	unsigned char tag = 0;
	unsigned long long got = 0;
	if (crypto_secretstream_xchacha20poly1305_pull(&ch->rx, plain, &got, &tag, body, len, NULL,
						       0) != 0) {
		free(plain);
		return -EBADMSG;
	}
	if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL)
		ch->rx_final = true;
	ch->opened++;
	inner->type = plain[0];
	inner->len = (size_t)got - 1;
	memmove(plain, plain + 1, inner->len);
	inner->body = plain;
	return 0;
}

/* ------------------------------------------------------------ inner frames */

void channel_ready_encode(uint8_t out[static CHANNEL_READY_LEN], const struct channel_ready *r)
{
	out[0] = r->state;
	out[1] = out[2] = out[3] = 0;
	db_put_u64(out + 4, r->high_seq);
	db_put_u32(out + 12, r->max_frame);
	db_put_u32(out + 16, r->max_records);
}

int channel_ready_decode(const uint8_t *body, size_t len, struct channel_ready *r)
{
	if (len != CHANNEL_READY_LEN)
		return -EPROTO;
	r->state = body[0];
	r->high_seq = db_get_u64(body + 4);
	r->max_frame = db_get_u32(body + 12);
	r->max_records = db_get_u32(body + 16);
	return 0;
}

void channel_batch_header(uint8_t out[static CHANNEL_BATCH_HDR_LEN], uint64_t seq,
			  const uint8_t sig[static SIGN_LEN])
{
	db_put_u64(out, seq);
	memcpy(out + 8, sig, SIGN_LEN);
}

int channel_batch_decode(const uint8_t *body, size_t len, struct channel_batch *b)
{
	if (len < CHANNEL_BATCH_HDR_LEN)
		return -EPROTO;
	b->seq = db_get_u64(body);
	b->signature = body + 8;
	b->payload = body + CHANNEL_BATCH_HDR_LEN;
	b->payload_len = len - CHANNEL_BATCH_HDR_LEN;
	return 0;
}

void channel_u64_encode(uint8_t out[static 8], uint64_t v)
{
	db_put_u64(out, v);
}

int channel_u64_decode(const uint8_t *body, size_t len, uint64_t *v)
{
	if (len != 8)
		return -EPROTO;
	*v = db_get_u64(body);
	return 0;
}

size_t channel_error_encode(uint8_t out[static 3 + CHANNEL_ERROR_TEXT_MAX], uint16_t code,
			    const char *text)
{
	size_t n = text ? strlen(text) : 0;
	if (n > CHANNEL_ERROR_TEXT_MAX)
		n = CHANNEL_ERROR_TEXT_MAX;
	out[0] = (uint8_t)(code >> 8);
	out[1] = (uint8_t)code;
	out[2] = (uint8_t)n;
	if (n)
		memcpy(out + 3, text, n);
	return 3 + n;
}

int channel_error_decode(const uint8_t *body, size_t len, struct channel_error *e)
{
	if (len < 3 || len != 3u + body[2])
		return -EPROTO;
	e->code = (uint16_t)(body[0] << 8 | body[1]);
	size_t n = body[2];
	for (size_t i = 0; i < n; i++) {
		uint8_t c = body[3 + i];
		e->text[i] = (c >= 0x20 && c < 0x7f) || c >= 0x80 ? (char)c : '?';
	}
	e->text[n] = '\0';
	return 0;
}

int channel_error_frame_plain(uint16_t code, const char *text, uint8_t **out, size_t *out_len)
{
	uint8_t body[3 + CHANNEL_ERROR_TEXT_MAX];
	size_t n = channel_error_encode(body, code, text);
	return frame_encode(FRAME_ERROR, body, n, out, out_len);
}
