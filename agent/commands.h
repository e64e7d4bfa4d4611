/* cairn-agent subcommands: each is its own main, in its own file. */
#ifndef CAIRN_AGENT_COMMANDS_H
#define CAIRN_AGENT_COMMANDS_H

int keygen_main(int argc, char *argv[]);   /* cmd_key.c */
int id_main(int argc, char *argv[]);       /* cmd_key.c */
int check_config_main(int argc, char *argv[]); /* cmd_config.c */
int collect_main(int argc, char *argv[]);  /* cmd_collect.c */
int run_main(int argc, char *argv[]);      /* cmd_run.c */
int status_main(int argc, char *argv[]);   /* cmd_status.c */

/* Prints the usage text to f (stdout for --help, stderr for errors). */
void agent_usage(void *f);

#endif
