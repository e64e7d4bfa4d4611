/* libFuzzer harness for the frame decoder (the first parser of outside bytes).
 *
 * Input: byte 0 picks the chunking, byte 1 the limit, the rest is the stream.
 * Each chunk is copied into its own exactly-sized heap buffer so ASan reports
 * any read past what the decoder was given. Invariants checked: consumed never
 * exceeds the chunk, rc 0 consumes everything, a frame never exceeds the
 * limit, re-encoding a decoded frame reproduces the bytes it came from, and
 * after an error the decoder refuses everything. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

static void check(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	uint8_t mode = data[0];
	static const uint32_t limits[] = { 1, 2, 16, 300, FRAME_MAX_PREAUTH, FRAME_MAX_DEFAULT };
	uint32_t limit = limits[data[1] % (sizeof(limits) / sizeof(limits[0]))];
	data += 2;
	size -= 2;

	struct frame_decoder d;
	frame_decoder_init(&d, limit);
	size_t off = 0, frame_start = 0;
	unsigned step = 0;
	int failed = 0;
	while (off < size) {
		size_t n;
		switch (mode & 3) {
		case 0:
			n = size - off;
			break;
		case 1:
			n = 1;
			break;
		default:
			/* Chunk sizes from the mode byte and a counter: varied, reproducible. */
			n = 1 + ((mode >> 2) * 7 + step * 13) % 97;
			break;
		}
		step++;
		if (n > size - off)
			n = size - off;
		uint8_t *chunk = malloc(n);
		check(chunk != NULL);
		memcpy(chunk, data + off, n);
		size_t pos = 0;
		while (pos < n) {
			size_t used = 0;
			struct frame f = { 0 };
			int rc = frame_decoder_feed(&d, chunk + pos, n - pos, &used, &f);
			check(used <= n - pos);
			pos += used;
			if (rc < 0) {
				failed = 1;
				check(d.body == NULL);
				/* A poisoned decoder must keep refusing. */
				size_t u2;
				check(frame_decoder_feed(&d, chunk, n, &u2, &f) < 0);
				break;
			}
			check(!failed);
			if (rc == 0) {
				check(pos == n);
				continue;
			}
			check(rc == 1);
			check(f.len + 1 <= limit);
			check(f.body != NULL);
			uint8_t *enc;
			size_t enc_len;
			check(frame_encode(f.type, f.body, f.len, &enc, &enc_len) == 0);
			size_t end = off + pos;
			check(end - frame_start == enc_len);
			check(memcmp(enc, data + frame_start, enc_len) == 0);
			frame_start = end;
			free(enc);
			free(f.body);
		}
		free(chunk);
		if (failed)
			break;
		off += n;
	}
	frame_decoder_free(&d);
	return 0;
}
