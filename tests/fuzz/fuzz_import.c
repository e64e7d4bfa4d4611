/* libFuzzer: an mhub-csv file a person hands `cairn-collector import`
 * (collector/read/import_parse.c). Any input must give rows, rejections that
 * name FILE:LINE, or an error naming the file. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct errbuf eb;
	struct import_file f;
	memset(&f, 0, sizeof(f));
	eb.msg[0] = 0;
	if (import_parse_mhub((const char *)data, size, "fuzz.csv", &f, &eb) == 0) {
		for (size_t i = 0; i < f.nerrors; i++)
			if (strncmp(f.errors[i], "fuzz.csv:", 9))
				__builtin_trap(); /* every rejection names the file and line */
		for (size_t i = 0; i < f.n; i++)
			if (!f.rows[i].facts || !f.rows[i].line)
				__builtin_trap();
	} else if (strncmp(eb.msg, "fuzz.csv", 8) && eb.msg[0]) {
		__builtin_trap();
	}
	import_file_free(&f);
	return 0;
}
