/* Configuration files (INI, read with inih) into typed structs.
 *
 * Each program has one struct with its defaults and a table of keys (section,
 * name, type, offset). Loading a file, or setting one `-o key=value` override,
 * goes through the same table, so both give the same errors:
 *   "/etc/cairn/collector.conf:12: unknown key 'listn' in [collector] (did you mean 'listen'?)"
 *   "/etc/cairn/agent.conf:7: sample_interval: '15q' is not a duration (use e.g. 15s, 5m, 6h)"
 * Durations: integer + ms|s|m|h|d (a bare number is seconds). Sizes: integer +
 * B|KiB|MiB|GiB|TiB (or K/M/G/T, KB/MB/GB/TB as powers of 1000; bare = bytes). */
#ifndef CAIRN_CONFIG_H
#define CAIRN_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "util.h"

#define CONFIG_STR_MAX 256

#define AGENT_CONFIG_PATH "/etc/cairn/agent.conf"
#define COLLECTOR_CONFIG_PATH "/etc/cairn/collector.conf"
#define COLLECTOR_DEFAULT_PORT 7415

struct agent_config {
	char collector[CONFIG_STR_MAX];       /* host:port, [v6]:port */
	char collector_key[CONFIG_STR_MAX];   /* hex Ed25519 public key; pinned */
	char enroll_token[CONFIG_STR_MAX];
	char enroll_token_file[PATH_MAX];
	char state_dir[PATH_MAX];
	uint64_t sample_interval_ms;
	uint64_t report_interval_ms;
	uint64_t inventory_interval_ms;
	uint64_t spool_max;                   /* bytes */
	char root[PATH_MAX];
	char log_level[32];
	uint32_t max_inflight;                /* unacknowledged batches in flight */
	char capture[16];                     /* auto (eBPF when possible) | poll */
};

enum accept_mode {
	ACCEPT_EXPLICIT = 0,
	ACCEPT_TOKEN = 1,
	ACCEPT_ANY = 2,
};

struct collector_config {
	char listen[CONFIG_STR_MAX];
	char state_dir[PATH_MAX];
	char accept[32];                      /* explicit | token | any */
	char enroll_token_file[PATH_MAX];
	uint32_t max_connections;
	uint64_t retention_ms;                /* rollups and edge days (and at most this for raw) */
	uint64_t retention_raw_ms;            /* raw batches and perf windows */
	char log_level[32];
	uint64_t max_frame;                   /* bytes, after authentication */
	uint32_t max_records;                 /* per batch */
	uint32_t max_string;                  /* bytes per string field */
	uint64_t handshake_timeout_ms;
	uint64_t idle_timeout_ms;
	uint64_t map_size;                    /* initial LMDB map size */
	uint64_t map_max;                     /* the map never grows beyond this */
	uint64_t commit_interval_ms;          /* group commit window */
	uint32_t commit_batches;              /* commit after this many batches */
	uint64_t recompute_interval_ms;       /* debounce for snapshot recomputation */
	char catalog[PATH_MAX];               /* instance catalog CSV, "" = shipped one */
	/* the wave rules (collector/plan/waves.h); defaults as rules_plan's */
	uint32_t wave_max_hosts;              /* hosts per wave (25) */
	uint32_t wave_min_hosts;              /* fewest hosts per wave (0: none) */
	uint32_t wave_critical_after;         /* criticality=high not in waves 1..N (1; 0: off) */
	/* `web`, the console and API (collector/web/) */
	char web_listen[CONFIG_STR_MAX];      /* host:port, default 127.0.0.1:7480 */
	char web_tls_cert[PATH_MAX];          /* PEM; HTTPS when set (required off loopback) */
	char web_tls_key[PATH_MAX];
	char web_allow_loopback[8];           /* "true": loopback clients need no token */
};

void config_agent_defaults(struct agent_config *c);
void config_collector_defaults(struct collector_config *c);

/* Reads path into c (on top of what c holds). -ENOENT when missing, -EINVAL
 * with eb naming file:line on any error. */
int config_agent_load(struct agent_config *c, const char *path, struct errbuf *eb);
int config_collector_load(struct collector_config *c, const char *path, struct errbuf *eb);

/* Like config_*_load, but reads the whole file and calls report(msg, arg) for
 * every error ("file:line: ...") instead of stopping at the first. Returns the
 * number of errors, or a negative errno (message in eb) when the file cannot
 * be read. Used by check-config. */
typedef void (*config_report_fn)(const char *msg, void *arg);
int config_agent_load_report(struct agent_config *c, const char *path, config_report_fn report,
			     void *arg, struct errbuf *eb);
int config_collector_load_report(struct collector_config *c, const char *path,
				 config_report_fn report, void *arg, struct errbuf *eb);

/* One `-o key=value` (or `-o section.key=value`) override. */
int config_agent_set(struct agent_config *c, const char *assignment, struct errbuf *eb);
int config_collector_set(struct collector_config *c, const char *assignment, struct errbuf *eb);

/* Cross-key checks after loading (intervals ordered, key parses, collector
 * with its key, ...): report(msg, arg) for every problem ("key: ..."),
 * returns how many. */
int config_agent_check(const struct agent_config *c, config_report_fn report, void *arg);
int config_collector_check(const struct collector_config *c, config_report_fn report,
			   void *arg);
/* The same checks, stopping at the first: -EINVAL with eb set, or 0. */
int config_agent_validate(const struct agent_config *c, struct errbuf *eb);
int config_collector_validate(const struct collector_config *c, struct errbuf *eb);

int config_accept_mode(const struct collector_config *c, enum accept_mode *out);

/* Writes every key with its current value as an INI file to f (FILE *). */
void config_agent_dump(const struct agent_config *c, void *f);
void config_collector_dump(const struct collector_config *c, void *f);

int config_parse_duration(const char *s, uint64_t *ms);
int config_parse_size(const char *s, uint64_t *bytes);
/* "15s", "5m", "6h", "90d", "250ms": the largest unit that divides ms. */
void config_format_duration(uint64_t ms, char *out, size_t n);
/* "256MiB", "1TiB", "1000B": the largest binary unit that divides bytes. */
void config_format_size(uint64_t bytes, char *out, size_t n);

/* Splits "host:port", "[v6]:port", "v4", "[v6]" (and a bare "v6::addr") into
 * host and port; port 0 when absent (the agent then uses
 * COLLECTOR_DEFAULT_PORT; `listen` passes it on, 0 = any free port). */
int config_split_hostport(const char *s, char *host, size_t hostn, uint16_t *port);

#endif
