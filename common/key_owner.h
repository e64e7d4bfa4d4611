/* Ownership of a key file a command created while running as root.
 *
 * `cairn-agent keygen` and `cairn-collector key show` create the key when it
 * is missing. Run as root before the service's first start, inside a state
 * directory the package already gave to the service user, the new key would
 * be root's and the service (User=cairn-agent / cairn) could not read it;
 * systemd only re-owns a StateDirectory's contents when the directory itself
 * has the wrong owner. */
#ifndef CAIRN_KEY_OWNER_H
#define CAIRN_KEY_OWNER_H

#include "util.h"

/* When this process is root and the directory holding path belongs to another
 * user, gives the file (only it, never the directory or anything a link points
 * at) to that directory's user and group. Call it right after creating the
 * file. Refuses, with -EPERM, a path that is not a regular file owned by root
 * with a single link (something the directory's owner swapped in). 0 when the
 * file was handed over or nothing needed doing, else a negative errno with a
 * message in eb. */
int key_owner_adopt(const char *path, struct errbuf *eb);

#endif
