/* A reader of protobuf wire format over [p, end), for the hot paths that
 * read a few fields of many stored values without unpacking them (rollup
 * merges, edge records). Every read past the end or of a malformed varint
 * sets bad; callers check it once at the end. */
#ifndef CAIRN_WIRE_H
#define CAIRN_WIRE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

struct wire {
	const uint8_t *p, *end;
	bool bad;
};

static inline uint64_t wire_varint(struct wire *w)
{
	uint64_t x = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (w->p >= w->end)
			break;
		uint8_t b = *w->p++;
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return x;
	}
	w->bad = true;
	return 0;
}

static inline double wire_double(struct wire *w)
{
	double d = 0;
	if (w->end - w->p < 8) {
		w->bad = true;
		return 0;
	}
	uint64_t u = 0;
	for (int i = 7; i >= 0; i--)
		u = u << 8 | w->p[i];
	memcpy(&d, &u, sizeof(d));
	w->p += 8;
	return d;
}

/* The body of a length-delimited field as a sub-reader. */
static inline struct wire wire_sub(struct wire *w)
{
	uint64_t n = wire_varint(w);
	struct wire sub = { w->p, w->p, w->bad };
	if (w->bad || n > (uint64_t)(w->end - w->p)) {
		w->bad = sub.bad = true;
		return sub;
	}
	sub.end = w->p + n;
	w->p += n;
	return sub;
}

static inline void wire_skip(struct wire *w, unsigned type)
{
	switch (type) {
	case 0: wire_varint(w); break;
	case 1: if (w->end - w->p < 8) w->bad = true; else w->p += 8; break;
	case 2: wire_sub(w); break;
	case 5: if (w->end - w->p < 4) w->bad = true; else w->p += 4; break;
	default: w->bad = true;
	}
}

#endif
