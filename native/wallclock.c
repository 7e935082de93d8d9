/* wallclock — see wallclock.h. */
#include "wallclock.h"

int64_t wallclock_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct timespec wallclock_at(int64_t at_ms) {
  return (struct timespec){.tv_sec = (time_t)(at_ms / 1000),
                           .tv_nsec = (long)(at_ms % 1000) * 1000000L};
}

struct timespec wallclock_in(long ms) {
  return wallclock_at(wallclock_ms() + ms);
}
