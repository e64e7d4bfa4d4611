/* cairn-collector subcommands: each is its own main, in its own file. */
#ifndef CAIRN_COLLECTOR_COMMANDS_H
#define CAIRN_COLLECTOR_COMMANDS_H

int key_main(int argc, char *argv[]);          /* cmd_key.c: key show */
int check_config_main(int argc, char *argv[]); /* cmd_config.c */
int serve_main(int argc, char *argv[]);        /* cmd_serve.c */
int agents_main(int argc, char *argv[]);       /* cmd_agents.c */
int hosts_main(int argc, char *argv[]);        /* cmd_hosts.c */

void collector_usage(void *f);

#endif
