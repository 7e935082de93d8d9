/* wallclock — see wallclock.h. */
#include "wallclock.h"

#include <stdio.h>
#include <string.h>

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

#ifdef CLOCK_BOOTTIME
#define STEADY_CLOCK CLOCK_BOOTTIME
#else
#define STEADY_CLOCK CLOCK_MONOTONIC
#endif

int64_t wallclock_steady_ms(void) {
  struct timespec ts;
  clock_gettime(STEADY_CLOCK, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint8_t boot_id[16];
static pthread_once_t boot_once = PTHREAD_ONCE_INIT;

static int hex_value(int c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void read_boot_id(void) {
  FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
  char text[64] = "";
  if (f) {
    if (!fgets(text, sizeof text, f)) text[0] = '\0';
    fclose(f);
  }
  size_t n = 0;
  for (const char *p = text; *p && n < 32; p++) {
    int v = hex_value(*p);
    if (v < 0) continue;
    boot_id[n / 2] = (uint8_t)(boot_id[n / 2] << 4 | v);
    n++;
  }
  if (n != 32) memset(boot_id, 0, sizeof boot_id);
}

void wallclock_boot_id(uint8_t out[16]) {
  pthread_once(&boot_once, read_boot_id);
  memcpy(out, boot_id, 16);
}

#if defined(__APPLE__)
/* No pthread_condattr_setclock: waits stay on the wall clock there. */
void wallclock_cond_init(pthread_cond_t *cond) { pthread_cond_init(cond, NULL); }
struct timespec wallclock_deadline(long ms) {
  return wallclock_in(ms);
}
#else
void wallclock_cond_init(pthread_cond_t *cond) {
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(cond, &attr);
  pthread_condattr_destroy(&attr);
}

struct timespec wallclock_deadline(long ms) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  int64_t ns = (int64_t)ts.tv_nsec + (int64_t)(ms % 1000) * 1000000;
  ts.tv_sec += (time_t)(ms / 1000) + (time_t)(ns / 1000000000);
  ts.tv_nsec = (long)(ns % 1000000000);
  return ts;
}
#endif
