/* files — the few filesystem chores several modules share. */
#ifndef FILES_H
#define FILES_H

#include <stddef.h>

/* mkdir -p: every missing directory of path is created 0700 (what we keep under the user's
 * home is nobody else's business). An existing directory, even one we may not write to, is
 * fine. 0, or -1 with errno set. */
int files_mkdir_p(const char *path);

/* "a/b", malloc'd; NULL when out of memory. */
char *files_join(const char *a, const char *b);

/* Writes all of buf, retrying short writes and EINTR. 0, or -1 with errno set. */
int files_write_all(int fd, const void *buf, size_t len);

#endif
