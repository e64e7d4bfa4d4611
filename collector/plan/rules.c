/* The planning rules table. Change a threshold here and only here;
 * docs/planning.md describes each row. */
#include "rules.h"

#include <stdio.h>
#include <string.h>

#include "estate.h"

const struct rules_reason rules_reasons[] = {
	/* code                severity            penalty threshold  when */
	{ "os_eol",            RULES_CONDITIONAL,  15, 0,     "standard vendor support of the OS version has ended; extended (paid) support still runs" },
	{ "os_unsupported",    RULES_NOT_READY,    40, 0,     "no vendor support left for the OS version (standard and extended support ended)" },
	{ "os_unknown",        RULES_CONDITIONAL,  10, 0,     "OS id/version not in the shipped lifecycle table: support cannot be checked" },
	{ "arch_32bit",        RULES_NOT_READY,    50, 0,     "32-bit architecture (current EC2 instance types run 64-bit only)" },
	{ "kernel_old",        RULES_CONDITIONAL,  15, 3.10,  "kernel older than threshold (major.minor): NVMe/ENA drivers for Nitro instances missing" },
	{ "disk_too_large",    RULES_CONDITIONAL,  15, 16384, "a filesystem or disk larger than threshold GiB (one EBS volume): must be split over volumes" },
	{ "memory_too_large",  RULES_NOT_READY,    40, 0,     "needed memory beyond the largest instance in the catalog" },
	{ "cpu_too_large",     RULES_NOT_READY,    40, 0,     "needed vCPU beyond the largest instance in the catalog" },
	{ "iops_high",         RULES_CONDITIONAL,  10, 16000, "sustained (sizing percentile) IOPS above threshold (gp3 maximum): needs io2" },
	{ "licensed_software", RULES_CONDITIONAL,  15, 0,     "software whose license is bound to hosts or cores (check license mobility)" },
	{ "hardware_dongle",   RULES_NOT_READY,    40, 0,     "hardware license key daemon found: needs a USB/network dongle on the target" },
	{ "many_dependencies", RULES_CONDITIONAL,   5, 15,    "more than threshold distinct peers (hosts, external endpoints; for an app: other apps)" },
	{ "idle",              RULES_INFO,          0, 0,     "CPU and network idle in every window of the period (see idle_cpu_pct, idle_net_bytes_ps)" },
	{ "too_little_data",   RULES_UNKNOWN,       0, 0,     "no host facts, fewer than min_windows perf windows, or coverage below coverage_min" },
	{ "imported",          RULES_INFO,          0, 0,     "a server known from an import (no agent, no windows): utilization as the file gives it (average/maximum)" },
	{ "powered_off",       RULES_INFO,          0, 0,     "powered off when imported (RVTools Powerstate): a Retire candidate without inbound connections" },
};
const size_t rules_nreasons = sizeof(rules_reasons) / sizeof(rules_reasons[0]);

const struct rules_software rules_software[] = {
	/* Licensed software: readiness reason licensed_software. */
	{ RULES_SW_LICENSED, RULES_MATCH_PKG_PREFIX,   "oracle-database",  "Oracle Database", "license mobility / BYOL" },
	{ RULES_SW_LICENSED, RULES_MATCH_PROC_PREFIX,  "ora_pmon_",        "Oracle Database", "license mobility / BYOL" },
	{ RULES_SW_LICENSED, RULES_MATCH_PROC_NAME,    "tnslsnr",          "Oracle Database listener", "license mobility / BYOL" },
	{ RULES_SW_LICENSED, RULES_MATCH_PROC_NAME,    "sapstartsrv",      "SAP", "SAP-certified instance types" },
	{ RULES_SW_LICENSED, RULES_MATCH_PROC_NAME,    "disp+work",        "SAP NetWeaver", "SAP-certified instance types" },
	{ RULES_SW_LICENSED, RULES_MATCH_PROC_PREFIX,  "hdbindexserver",   "SAP HANA", "SAP-certified instance types" },
	{ RULES_SW_LICENSED, RULES_MATCH_PKG_PREFIX,   "mssql-server",     "Microsoft SQL Server", "license mobility / BYOL" },
	{ RULES_SW_LICENSED, RULES_MATCH_PROC_NAME,    "sqlservr",         "Microsoft SQL Server", "license mobility / BYOL" },
	{ RULES_SW_LICENSED, RULES_MATCH_PROC_NAME,    "db2sysc",          "IBM Db2", "license mobility / BYOL" },
	{ RULES_SW_LICENSED, RULES_MATCH_PROC_NAME,    "lmgrd",            "FlexNet license server", "host-id bound licenses" },
	{ RULES_SW_LICENSED, RULES_MATCH_IDENT_SUBSTR, "weblogic.Server",  "Oracle WebLogic", "license mobility / BYOL" },
	/* Hardware dongle daemons: reason hardware_dongle, strategy Retain. */
	{ RULES_SW_DONGLE,   RULES_MATCH_PROC_NAME,    "hasplmd",          "Sentinel HASP license manager", "USB key" },
	{ RULES_SW_DONGLE,   RULES_MATCH_PROC_NAME,    "aksusbd",          "Sentinel/Aladdin USB key daemon", "USB key" },
	{ RULES_SW_DONGLE,   RULES_MATCH_PROC_NAME,    "winehasp",         "Sentinel HASP (wine)", "USB key" },
	{ RULES_SW_DONGLE,   RULES_MATCH_PROC_NAME,    "usbhasp",          "USB HASP emulator", "USB key" },
	{ RULES_SW_DONGLE,   RULES_MATCH_PROC_PREFIX,  "CodeMeter",        "Wibu CodeMeter", "CmDongle" },
	{ RULES_SW_DONGLE,   RULES_MATCH_PKG_PREFIX,   "aksusbd",          "Sentinel/Aladdin USB key daemon", "USB key" },
	{ RULES_SW_DONGLE,   RULES_MATCH_PKG_PREFIX,   "codemeter",        "Wibu CodeMeter", "CmDongle" },
	/* Self-managed services with a managed equivalent: strategy Replatform. */
	{ RULES_SW_MANAGED,  RULES_MATCH_PROC_NAME,    "postgres",         "PostgreSQL", "Amazon RDS / Aurora PostgreSQL" },
	{ RULES_SW_MANAGED,  RULES_MATCH_PROC_NAME,    "postmaster",       "PostgreSQL", "Amazon RDS / Aurora PostgreSQL" },
	{ RULES_SW_MANAGED,  RULES_MATCH_PROC_NAME,    "mysqld",           "MySQL", "Amazon RDS / Aurora MySQL" },
	{ RULES_SW_MANAGED,  RULES_MATCH_PROC_NAME,    "mariadbd",         "MariaDB", "Amazon RDS for MariaDB" },
	{ RULES_SW_MANAGED,  RULES_MATCH_PROC_NAME,    "redis-server",     "Redis", "Amazon ElastiCache / MemoryDB" },
	{ RULES_SW_MANAGED,  RULES_MATCH_PROC_NAME,    "valkey-server",    "Valkey", "Amazon ElastiCache for Valkey" },
	{ RULES_SW_MANAGED,  RULES_MATCH_PROC_NAME,    "memcached",        "Memcached", "Amazon ElastiCache for Memcached" },
	{ RULES_SW_MANAGED,  RULES_MATCH_PROC_NAME,    "mongod",           "MongoDB", "Amazon DocumentDB" },
	{ RULES_SW_MANAGED,  RULES_MATCH_IDENT_SUBSTR, "rabbit",           "RabbitMQ", "Amazon MQ for RabbitMQ" },
	{ RULES_SW_MANAGED,  RULES_MATCH_IDENT_SUBSTR, "activemq",         "ActiveMQ", "Amazon MQ for ActiveMQ" },
	{ RULES_SW_MANAGED,  RULES_MATCH_IDENT_SUBSTR, "kafka.Kafka",      "Apache Kafka", "Amazon MSK" },
	{ RULES_SW_MANAGED,  RULES_MATCH_IDENT_SUBSTR, "org.elasticsearch", "Elasticsearch", "Amazon OpenSearch Service" },
	{ RULES_SW_MANAGED,  RULES_MATCH_IDENT_SUBSTR, "org.opensearch",   "OpenSearch", "Amazon OpenSearch Service" },
	{ RULES_SW_MANAGED,  RULES_MATCH_PROC_PREFIX,  "ora_pmon_",        "Oracle Database", "Amazon RDS for Oracle" },
	{ RULES_SW_MANAGED,  RULES_MATCH_PROC_NAME,    "sqlservr",         "Microsoft SQL Server", "Amazon RDS for SQL Server" },
	/* Products usually bought as SaaS: strategy Repurchase. */
	{ RULES_SW_SAAS,     RULES_MATCH_IDENT_SUBSTR, "atlassian-jira",   "Jira", "Jira Cloud" },
	{ RULES_SW_SAAS,     RULES_MATCH_IDENT_SUBSTR, "confluence",       "Confluence", "Confluence Cloud" },
	{ RULES_SW_SAAS,     RULES_MATCH_IDENT_SUBSTR, "atlassian-bitbucket", "Bitbucket", "Bitbucket Cloud" },
	{ RULES_SW_SAAS,     RULES_MATCH_PKG_PREFIX,   "zimbra-core",      "Zimbra mail", "hosted mail (e.g. Amazon WorkMail)" },
	{ RULES_SW_SAAS,     RULES_MATCH_PKG_PREFIX,   "gitlab-ee",        "GitLab", "GitLab.com" },
	{ RULES_SW_SAAS,     RULES_MATCH_PKG_PREFIX,   "gitlab-ce",        "GitLab", "GitLab.com" },
};
const size_t rules_nsoftware = sizeof(rules_software) / sizeof(rules_software[0]);

const struct rules_strategy_row rules_strategies[RULES_NSTRATEGIES] = {
	{ RULES_RETIRE,     "Retire",     "idle for the whole period and no inbound connections (management traffic ignored: ssh, cairn, SNMP, monitoring and backup agents)" },
	{ RULES_RETAIN,     "Retain",     "hardware_dongle: bound to on-premises hardware" },
	{ RULES_RELOCATE,   "Relocate",   "Not ready for EC2 (OS, 32-bit, kernel) but a VMware VM: move the VM as-is (VMware Cloud on AWS)" },
	{ RULES_REFACTOR,   "Refactor",   "Not ready for EC2 (os_unsupported, arch_32bit): rebuild on a supported 64-bit OS" },
	{ RULES_REPURCHASE, "Repurchase", "runs a product usually bought as SaaS (software table, kind SAAS)" },
	{ RULES_REPLATFORM, "Replatform", "runs a self-managed database/cache/queue with a managed service (kind MANAGED)" },
	{ RULES_REHOST,     "Rehost",     "otherwise: lift and shift to the sized instance" },
};

const char *const rules_key_packages[] = {
	"nginx", "apache2", "httpd", "haproxy", "postgresql", "mysql-server", "mariadb-server",
	"redis-server", "valkey-server", "memcached", "mongodb-org-server", "rabbitmq-server",
	"openjdk", "java", "tomcat", "python3", "nodejs", "php", "ruby", "openssl",
	"openssh-server", "docker-ce", "docker.io", "containerd", "containerd.io",
	NULL,
};

const struct rules_validate rules_validate = {
	.cpu_high_pct = 90,
	.mem_high_share = 0.9,
};

static const char *const real_fstypes[] = {
	"ext2", "ext3", "ext4", "xfs", "btrfs", "zfs", "jfs", "reiserfs", "f2fs", "vfat", "bcachefs", NULL,
};
static const char *const arch_32bit[] = {
	"i386", "i486", "i586", "i686", "armv6l", "armv7l", "armhf", "arm", "ppc", "s390", "mips", NULL,
};
/* management traffic: ssh, cairn, SNMP, node_exporter, bacula-fd, NRPE, Zabbix agent */
static const unsigned retire_ignore_ports[] = { 22, 7415, 161, 9100, 9102, 5666, 10050 };

const struct rules_plan rules_plan = {
	.hours_per_month = 730,
	.default_percentile = 95,
	.default_comfort = 1.3,
	.min_storage_gib = 8,
	.gp3_gb_month_usd = 0.08,
	.gp3_iops_included = 3000,
	.gp3_iops_month_usd = 0.005,
	.gp3_mibps_included = 125,
	.gp3_mibps_month_usd = 0.04,
	.gp3_max_iops = 16000,
	.gp3_max_mibps = 1000,
	.io2_gb_month_usd = 0.125,
	.io2_iops_month_usd = 0.065,
	.ebs_as_of = "2024-07-01",
	.ebs_region = "us-east-1",
	.ebs_why_older = "EBS is older: cairn ships no newer sourced EBS price table (these rates "
			 "were unchanged in their source from 2021-05-18 to 2024-07-01; "
			 "collector/plan/data/SOURCES.md); check https://aws.amazon.com/ebs/pricing/ "
			 "before quoting storage cost",
	.coverage_min = 0.2,
	.min_windows = 3,
	.idle_cpu_pct = 5,
	.idle_net_bytes_ps = 8192,
	.wave_max_hosts = 25,
	.wave_min_hosts = 0,
	.wave_critical_after = 1,
	.wave_score_readiness_pct = 60,
	.wave_score_relaxed_penalty = 10,
	.default_period_days = 7,
	.real_fstypes = real_fstypes,
	.arch_32bit = arch_32bit,
	.retire_ignore_ports = retire_ignore_ports,
	.nretire_ignore_ports = sizeof(retire_ignore_ports) / sizeof(retire_ignore_ports[0]),
};

/* awsdocs/amazon-ec2-user-guide, burstable-credits-baseline-concepts.md (commit
 * 0147f878dcba), "Baseline utilization per vCPU"; see collector/plan/data/SOURCES.md. */
const struct rules_burstable rules_burstable[] = {
	{ "t3",  "nano", 0.05 }, { "t3",  "micro", 0.10 }, { "t3",  "small", 0.20 },
	{ "t3",  "medium", 0.20 }, { "t3",  "large", 0.30 }, { "t3",  "xlarge", 0.40 },
	{ "t3",  "2xlarge", 0.40 },
	{ "t3a", "nano", 0.05 }, { "t3a", "micro", 0.10 }, { "t3a", "small", 0.20 },
	{ "t3a", "medium", 0.20 }, { "t3a", "large", 0.30 }, { "t3a", "xlarge", 0.40 },
	{ "t3a", "2xlarge", 0.40 },
	{ "t4g", "nano", 0.05 }, { "t4g", "micro", 0.10 }, { "t4g", "small", 0.20 },
	{ "t4g", "medium", 0.20 }, { "t4g", "large", 0.30 }, { "t4g", "xlarge", 0.40 },
	{ "t4g", "2xlarge", 0.40 },
	{ "t2",  "nano", 0.05 }, { "t2",  "micro", 0.10 }, { "t2",  "small", 0.20 },
	{ "t2",  "medium", 0.20 }, { "t2",  "large", 0.30 }, { "t2",  "xlarge", 0.225 },
	{ "t2",  "2xlarge", 0.17 },
};
const size_t rules_nburstable = sizeof(rules_burstable) / sizeof(rules_burstable[0]);

int rules_family_burstable(const char *family)
{
	return family[0] == 't' && family[1] >= '0' && family[1] <= '9';
}

double rules_burstable_baseline(const char *family, const char *type)
{
	const char *dot = strchr(type, '.');
	if (!dot)
		return 0;
	for (size_t i = 0; i < rules_nburstable; i++)
		if (!strcmp(rules_burstable[i].family, family) &&
		    !strcmp(rules_burstable[i].size, dot + 1))
			return rules_burstable[i].baseline;
	return 0;
}

const struct rules_reason *rules_reason_find(const char *code)
{
	for (size_t i = 0; i < rules_nreasons; i++)
		if (!strcmp(rules_reasons[i].code, code))
			return &rules_reasons[i];
	return NULL;
}

const char *rules_severity_name(enum rules_severity s)
{
	switch (s) {
	case RULES_INFO: return "info";
	case RULES_CONDITIONAL: return "conditional";
	case RULES_UNKNOWN: return "unknown";
	case RULES_NOT_READY: return "not_ready";
	}
	return "?";
}

static int in_list(const char *const *list, const char *s)
{
	for (size_t i = 0; s && list[i]; i++)
		if (!strcmp(list[i], s))
			return 1;
	return 0;
}

int rules_fstype_real(const char *fstype)
{
	return in_list(rules_plan.real_fstypes, fstype);
}

int rules_arch_32bit(const char *arch)
{
	return in_list(rules_plan.arch_32bit, arch);
}

int rules_retire_ignored_port(unsigned port)
{
	for (size_t i = 0; i < rules_plan.nretire_ignore_ports; i++)
		if (rules_plan.retire_ignore_ports[i] == port)
			return 1;
	return 0;
}

/* ------------------------------------------------------------ hosts */

static bool match_one(enum rules_match m, const char *pattern, const char *s)
{
	if (!s || !*s)
		return false;
	switch (m) {
	case RULES_MATCH_PKG_PREFIX:
	case RULES_MATCH_PROC_PREFIX:
		return !strncmp(s, pattern, strlen(pattern));
	case RULES_MATCH_PROC_NAME:
		return !strcmp(s, pattern);
	case RULES_MATCH_IDENT_SUBSTR:
		return strstr(s, pattern) != NULL;
	}
	return false;
}

bool rules_has_software(const struct estate_host *h, const struct rules_software *sw)
{
	if (sw->match == RULES_MATCH_PKG_PREFIX) {
		for (size_t i = 0; i < h->npkgs; i++)
			for (size_t j = 0; j < h->pkgs[i]->n_packages; j++)
				if (match_one(sw->match, sw->pattern, h->pkgs[i]->packages[j]->name))
					return true;
		return false;
	}
	if (!h->procs)
		return false;
	for (size_t i = 0; i < h->procs->n_processes; i++) {
		const Cairn__Process *p = h->procs->processes[i];
		if (sw->match == RULES_MATCH_IDENT_SUBSTR) {
			if (match_one(sw->match, sw->pattern, p->identity) ||
			    match_one(sw->match, sw->pattern, p->cmdline))
				return true;
		} else if (match_one(sw->match, sw->pattern, p->name)) {
			return true;
		}
	}
	return false;
}

void rules_storage(const struct estate_host *h, uint64_t *allocated, uint64_t *used,
		    uint64_t *largest)
{
	*allocated = *used = *largest = 0;
	if (!h->facts || !h->facts->info)
		return;
	const Cairn__HostInfo *hi = h->facts->info;
	for (size_t i = 0; i < hi->n_filesystems; i++) {
		const Cairn__Filesystem *fs = hi->filesystems[i];
		if (!rules_fstype_real(fs->fstype))
			continue;
		/* the same device mounted twice (bind mounts) counts once */
		bool dup = false;
		for (size_t j = 0; j < i && !dup; j++)
			dup = rules_fstype_real(hi->filesystems[j]->fstype) &&
			      !strcmp(hi->filesystems[j]->device, fs->device) && *fs->device;
		if (dup)
			continue;
		*allocated += fs->size_bytes;
		*used += fs->used_bytes;
		if (fs->size_bytes > *largest)
			*largest = fs->size_bytes;
	}
	for (size_t i = 0; i < hi->n_disks; i++)
		if (strcmp(hi->disks[i]->kind, "loop") && hi->disks[i]->size_bytes > *largest)
			*largest = hi->disks[i]->size_bytes;
}

void rules_price_dates(const char *ec2_as_of, char *out, size_t n)
{
	const char *ec2 = ec2_as_of && *ec2_as_of ? ec2_as_of : "?";
	if (!strcmp(ec2, rules_plan.ebs_as_of))
		snprintf(out, n, "EC2 and EBS prices as of %s (%s)", ec2, rules_plan.ebs_region);
	else
		snprintf(out, n, "EC2 prices as of %s, EBS prices as of %s (%s): %s", ec2,
			 rules_plan.ebs_as_of, rules_plan.ebs_region, rules_plan.ebs_why_older);
}
