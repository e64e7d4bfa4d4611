/* Right-sizing and cost: an instance catalog (shipped or the user's CSV), the
 * cheapest instance that fits a host's needs, EBS storage priced from disk use
 * and observed IOPS/throughput, monthly cost at rules_plan.hours_per_month.
 * docs/planning.md has the arithmetic with a worked example. */
#ifndef CAIRN_SIZING_H
#define CAIRN_SIZING_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "estate.h"
#include "plan.h"
#include "store.pb-c.h"
#include "util.h"

struct sizing_instance {
	char type[32];
	char family[16];
	unsigned vcpu;
	double memory_gib;
	double hourly_usd;
	char region[32];
	char as_of[16];     /* YYYY-MM-DD */
};

struct sizing_catalog {
	struct sizing_instance *v;
	size_t n;
	char path[PATH_MAX];
	char as_of[16];     /* the oldest as_of of any row: what "prices as of" means */
	char region[32];    /* of the first row */
	unsigned max_vcpu;
	double max_memory_gib;
};

/* The catalog CSV: header instance_type,family,vcpu,memory_gib,
 * linux_on_demand_usd_per_hour,region,as_of (any order, extra columns ignored).
 * Every bad row is an error naming file:line and the column; -ENOENT when the
 * file is missing, -EINVAL when malformed or empty. */
int sizing_catalog_load(const char *path, struct sizing_catalog *c, struct errbuf *eb);
int sizing_catalog_parse(const char *buf, size_t len, const char *name,
			 struct sizing_catalog *c, struct errbuf *eb);
void sizing_catalog_free(struct sizing_catalog *c);

/* Cheapest instance with vcpu >= cpu and memory >= mem_gib (ties: fewer vCPU,
 * then name). Burstable instances only when cpu <= their baseline share x vcpu
 * (rules_burstable).
 * NULL when nothing fits. */
const struct sizing_instance *sizing_pick(const struct sizing_catalog *c, double cpu,
					  double mem_gib);

struct sizing_storage {
	const char *type;   /* "gp3" or "io2" */
	double gib, iops, mibps;
	double monthly_usd;
};
/* Prices a volume of gib holding iops and mibps (see rules_plan's EBS rows). */
void sizing_storage_price(double gib, double iops, double mibps, struct sizing_storage *out);

/* "as-is", "p95", "max", "avg" into buf. */
const char *sizing_mode_name(enum sizing_mode m, double pct, char *buf, size_t n);
/* Parses "asis"/"as-is", "pNN", "percentile", "max", "avg"; -EINVAL otherwise. */
int sizing_mode_parse(const char *s, enum sizing_mode *m, double *pct);

/* Sizes one host into a malloc'd Sizing (free with
 * cairn__store__sizing__free_unpacked(s, NULL)). -ENOMEM only: a host that
 * does not fit gets an empty instance_type and a note. */
int sizing_host(const struct estate_host *h, const struct sizing_catalog *c,
		const struct plan_options *opt, Cairn__Store__Sizing **out);

#endif
