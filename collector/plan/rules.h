/* Every planning rule and threshold, in one place (collector/plan/rules.c).
 *
 * Readiness reason codes with their severity and score penalty, the software
 * patterns that pick strategies (licensed, hardware-bound, managed-service
 * candidates, SaaS candidates), the strategy precedence, and the numbers the
 * sizing and wave code use. docs/planning.md explains each row. Nothing else in
 * the planning code hard-codes a threshold. */
#ifndef CAIRN_RULES_H
#define CAIRN_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum rules_severity {
	RULES_INFO = 0,        /* worth knowing, does not lower the category */
	RULES_CONDITIONAL = 1, /* migratable after some work: "Conditionally ready" */
	RULES_UNKNOWN = 2,     /* cannot judge: "Unknown" */
	RULES_NOT_READY = 3,   /* blocks a lift-and-shift: "Not ready" */
};

struct rules_reason {
	const char *code;             /* machine-readable reason code */
	enum rules_severity severity;
	int penalty;                  /* subtracted from the score 100 */
	double threshold;             /* meaning and unit: see `when` */
	const char *when;             /* the condition, for people and docs */
};

extern const struct rules_reason rules_reasons[];
extern const size_t rules_nreasons;

/* The row for code, or NULL. */
const struct rules_reason *rules_reason_find(const char *code);
const char *rules_severity_name(enum rules_severity s); /* "info", "conditional", ... */

/* Software found in packages or processes that changes readiness or strategy. */
enum rules_sw_kind {
	RULES_SW_LICENSED,  /* reason licensed_software (license terms bind it to hosts) */
	RULES_SW_DONGLE,    /* reason hardware_dongle (needs a USB/parallel key) */
	RULES_SW_MANAGED,   /* strategy Replatform: a managed service exists */
	RULES_SW_SAAS,      /* strategy Repurchase: usually bought as SaaS */
};

enum rules_match {
	RULES_MATCH_PKG_PREFIX,    /* package name starts with pattern */
	RULES_MATCH_PROC_NAME,     /* process name (comm) equals pattern */
	RULES_MATCH_PROC_PREFIX,   /* process name starts with pattern */
	RULES_MATCH_IDENT_SUBSTR,  /* process identity/cmdline contains pattern */
};

struct rules_software {
	enum rules_sw_kind kind;
	enum rules_match match;
	const char *pattern;
	const char *product;  /* what was found, for people */
	const char *target;   /* managed service / SaaS / note */
};

extern const struct rules_software rules_software[];
extern const size_t rules_nsoftware;

/* Strategies, in precedence order: the first whose condition holds is chosen
 * for a host; an application takes the first strategy (in this order, Retire
 * only when every host retires) that any of its hosts has. */
enum rules_strategy {
	RULES_RETIRE,
	RULES_RETAIN,
	RULES_RELOCATE,
	RULES_REFACTOR,
	RULES_REPURCHASE,
	RULES_REPLATFORM,
	RULES_REHOST,
	RULES_NSTRATEGIES
};

struct rules_strategy_row {
	enum rules_strategy strategy;
	const char *name;
	const char *when;
};
extern const struct rules_strategy_row rules_strategies[RULES_NSTRATEGIES];

/* Numbers used by readiness, sizing, cost and waves. */
struct rules_plan {
	double hours_per_month;          /* 730 */
	double default_percentile;       /* 95 */
	double default_comfort;          /* 1.3 */
	double min_storage_gib;          /* smallest root volume priced */
	double gp3_gb_month_usd;
	double gp3_iops_included;
	double gp3_iops_month_usd;       /* per IOPS above the included */
	double gp3_mibps_included;
	double gp3_mibps_month_usd;      /* per MiB/s above the included */
	double gp3_max_iops;             /* above: io2 */
	double gp3_max_mibps;
	double io2_gb_month_usd;
	double io2_iops_month_usd;
	const char *ebs_as_of;
	const char *ebs_region;
	const char *ebs_why_older;       /* why ebs_as_of may be older than the catalog's */
	double coverage_min;             /* below: too_little_data */
	unsigned min_windows;            /* below: too_little_data */
	double idle_cpu_pct;             /* every window's peak CPU below this ... */
	double idle_net_bytes_ps;        /* ... and average network below this: idle */
	unsigned wave_max_hosts;         /* default wave size */
	unsigned wave_min_hosts;         /* default smallest wave (0: no minimum) */
	unsigned wave_critical_after;    /* high-criticality apps not in waves 1..N by default */
	unsigned wave_score_readiness_pct; /* wave score: weight of the apps' readiness ... */
	unsigned wave_score_relaxed_penalty; /* ... points off per rule not honored */
	unsigned default_period_days;    /* assessment period without --since */
	const char *const *real_fstypes; /* filesystems that move with the host */
	const char *const *arch_32bit;   /* architectures reported by uname -m */
	const unsigned *retire_ignore_ports; /* inbound on these does not count as use */
	size_t nretire_ignore_ports;
};
extern const struct rules_plan rules_plan;

/* Packages that `validate` compares between a source host and its migrated
 * target (besides packages named like a listening process). A name matches a
 * row when equal to it or when the row is followed by a version: a digit, or
 * '-' / '.' and a digit ("postgresql-15", "openjdk-17-jre", "python3.11"). */
extern const char *const rules_key_packages[];

/* Thresholds of `validate`. */
struct rules_validate {
	double cpu_high_pct;   /* target CPU peak (pctl) above this: warning */
	double mem_high_share; /* target memory used / total above this: warning */
};
extern const struct rules_validate rules_validate;

/* Burstable (CPU-credit) instance sizes and their baseline utilization per
 * vCPU, from the AWS EC2 user guide's credit table. A burstable instance is
 * only picked when the sized vCPU stays within baseline x its vCPUs: above it
 * the instance throttles (standard mode) or bills surplus credits (unlimited). */
struct rules_burstable {
	const char *family; /* catalog family: "t3", "t3a", "t4g", "t2" */
	const char *size;   /* instance type after the dot: "nano", "2xlarge" */
	double baseline;    /* share of each vCPU sustainable without credit debt */
};
extern const struct rules_burstable rules_burstable[];
extern const size_t rules_nburstable;
/* Whether family is burstable: t<digit>... ("t2", "t3", "t3a", "t4g"). */
int rules_family_burstable(const char *family);
/* Baseline share per vCPU of a burstable instance type ("t3.nano" in family
 * "t3": 0.05); 0 when the type is not in rules_burstable (a burstable family
 * with an unknown size is then never picked: its baseline cannot be checked). */
double rules_burstable_baseline(const char *family, const char *type);
/* True when fstype is a local filesystem that migrates with the host. */
int rules_fstype_real(const char *fstype);
int rules_arch_32bit(const char *arch);
int rules_retire_ignored_port(unsigned port);

/* ---- applied to one host (read layer's host view) ---- */

struct estate_host;
/* Whether the host's processes or packages match a software row. */
bool rules_has_software(const struct estate_host *h, const struct rules_software *sw);

/* Bytes allocated and used on local filesystems that move with the host
 * (rules_fstype_real), and the largest single filesystem or disk. */
void rules_storage(const struct estate_host *h, uint64_t *allocated, uint64_t *used,
		   uint64_t *largest);

/* The price-dates line of every cost header: "EC2 prices as of 2026-07-20,
 * EBS prices as of 2024-07-01 (us-east-1): <why they differ>", or one date
 * when both are the same. ec2_as_of "" reads as unknown. */
void rules_price_dates(const char *ec2_as_of, char *out, size_t n);

#endif
