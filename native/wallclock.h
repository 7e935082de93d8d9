/* wallclock — the wall-clock time in ms, and absolute deadlines for pthread_cond_timedwait
 * (which waits on CLOCK_REALTIME unless told otherwise). */
#ifndef WALLCLOCK_H
#define WALLCLOCK_H

#include <stdint.h>
#include <time.h>

/* Milliseconds since the epoch (CLOCK_REALTIME). */
int64_t wallclock_ms(void);

/* The absolute CLOCK_REALTIME time at_ms (ms since the epoch), as a timespec. */
struct timespec wallclock_at(int64_t at_ms);

/* The absolute CLOCK_REALTIME time ms from now. */
struct timespec wallclock_in(long ms);

#endif
