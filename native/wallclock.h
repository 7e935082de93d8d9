/* wallclock — the clocks: the wall clock in ms (what a span's time or an outcome's date is),
 * and a steady clock for deadlines and ages (what a wait or an age limit must rest on: a wall
 * clock set back an hour must not make a 1 s exit bound an hour long, nor a clock 8 days
 * behind make fresh spans look old). */
#ifndef WALLCLOCK_H
#define WALLCLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* Milliseconds since the epoch (CLOCK_REALTIME). */
int64_t wallclock_ms(void);

/* Milliseconds on a clock that only moves forward at the pace of real time and is not stepped
 * when the wall clock is set (CLOCK_BOOTTIME where there is one: it also counts a suspend;
 * else CLOCK_MONOTONIC). Its zero is the boot: compare values of one boot only
 * (wallclock_boot_id). Deadlines and ages use it; the wall clock may be wrong or set back. */
int64_t wallclock_steady_ms(void);

/* An id of the current boot (Linux: /proc/sys/kernel/random/boot_id), or all zeros when the
 * system gives none. Read once. */
void wallclock_boot_id(uint8_t out[16]);

/* Initialises cond to time its waits on the steady clock where the system allows it (then
 * wallclock_deadline gives the matching deadlines), so a wall clock set back or forward
 * neither stretches nor cuts a bounded wait. */
void wallclock_cond_init(pthread_cond_t *cond);

/* The absolute time, ms from now, on the clock of conds made by wallclock_cond_init. */
struct timespec wallclock_deadline(long ms);

#endif
