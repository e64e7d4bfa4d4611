/* libFuzzer: the CSV files a person hands cairn (instance catalog, OS
 * lifecycle table) through the RFC 4180 reader and both validators. Any input
 * must give either a parsed table or an error naming file:line. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "readiness.h"
#include "sizing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct errbuf eb;
	struct sizing_catalog c;
	eb.msg[0] = 0;
	if (sizing_catalog_parse((const char *)data, size, "fuzz.csv", &c, &eb) == 0) {
		if (!c.n || c.max_vcpu < 1)
			__builtin_trap();
		(void)sizing_pick(&c, 1.5, 3.0);
		sizing_catalog_free(&c);
	} else if (strncmp(eb.msg, "fuzz.csv", 8)) {
		__builtin_trap(); /* every error names the file */
	}
	struct readiness_lifecycle lc;
	eb.msg[0] = 0;
	if (readiness_lifecycle_parse((const char *)data, size, "lc.csv", &lc, &eb) == 0)
		readiness_lifecycle_free(&lc);
	else if (strncmp(eb.msg, "lc.csv", 6))
		__builtin_trap();
	return 0;
}
