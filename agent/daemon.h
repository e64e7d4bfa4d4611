/* `cairn-agent run`: the agent daemon.
 *
 * One libuv loop. Timers:
 *   sample_interval     a sample: perf counters and the socket table
 *   report_interval     closes the window: one Batch (perf window, connection
 *                       window, listeners, process snapshot or delta, host
 *                       facts and packages when changed or due, gaps, health),
 *                       signed and written to the spool before any send
 *   inventory_interval  full process snapshot, host facts and package lists
 *                       even when unchanged
 * Every /proc scan runs on the libuv thread pool, one job at a time, so the
 * sender on the loop thread never waits for one. Collector state is touched
 * only by the job that runs; the loop reads copies made when a job ends.
 *
 * Signals: SIGTERM/SIGINT close the current window into the spool and exit 0
 * (within a few seconds; a hard deadline logs and exits if a scan hangs);
 * SIGHUP reloads the configuration (intervals, spool_max, collector settings,
 * log level take effect; state_dir and root need a restart).
 * Under systemd (NOTIFY_SOCKET set): READY=1 once running, WATCHDOG=1 at half
 * WATCHDOG_USEC, RELOADING=1/READY=1 around a reload, STOPPING=1.
 *
 * <state_dir>/status.json (written atomically every few seconds) is what
 * `cairn-agent status` reads; its fields are in docs/agent.md. */
#ifndef CAIRN_AGENT_DAEMON_H
#define CAIRN_AGENT_DAEMON_H

#include "cli.h"
#include "config.h"

#define DAEMON_STATUS_FILE "status.json"
#define DAEMON_KEY_FILE "agent.key"
#define DAEMON_LOCK_FILE "run.lock" /* flock'd by the running daemon; holds its pid */
#define DAEMON_STATUS_VERSION 1
#define DAEMON_STATUS_PERIOD_MS 2000

/* Runs until SIGTERM/SIGINT. cli is kept to re-read the same file and -o
 * overrides on SIGHUP. Returns the process exit code: 0 after a clean stop,
 * 1 on a runtime failure (key, spool, loop). */
int daemon_run(struct cli *cli, const struct agent_config *cfg);

#endif
