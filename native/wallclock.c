/* wallclock — see wallclock.h. */
#include "wallclock.h"

#include "platform.h"

int64_t wallclock_ms(void) { return platform_realtime_ms(); }

int64_t wallclock_steady_ms(void) { return platform_steady_ms(); }

void wallclock_boot_id(uint8_t out[16]) { platform_boot_id(out); }

void wallclock_cond_init(pthread_cond_t *cond) { platform_cond_init(cond); }

struct timespec wallclock_deadline(long ms) {
  return platform_cond_deadline(ms);
}
