/* wallclock — see wallclock.h. */
#include "wallclock.h"

#include "platform.h"

int64_t wallclock_ms(void) { return platform_realtime_ms(); }

struct timespec wallclock_at(int64_t at_ms) {
  return (struct timespec){.tv_sec = (time_t)(at_ms / 1000),
                           .tv_nsec = (long)(at_ms % 1000) * 1000000L};
}

struct timespec wallclock_in(long ms) {
  return wallclock_at(wallclock_ms() + ms);
}
