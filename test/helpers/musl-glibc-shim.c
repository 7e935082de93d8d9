/* Tests only: lets Debian's glibc-built libstdc++.so.6 and libgcc_s.so.1 run under musl's
 * loader, so that the musl Bun from npm (@oven/bun-linux-*-musl) starts on a Debian machine
 * (Alpine ships musl builds of those two libraries; Debian has none). Built with the musl
 * compiler under the name of glibc's loader (ld-linux-x86-64.so.2, which x86-64's libstdc++
 * needs; ld-linux-aarch64.so.1) and preloaded (LD_PRELOAD), it supplies the few glibc-only
 * symbols they bind. Nothing of this is in the package or in the core. */
#define _GNU_SOURCE
#include <link.h>
#include <locale.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/random.h>
#include <time.h>

/* libstdc++: std::random_device, std::put_time and friends, thread_local destructors */
uint32_t arc4random(void) {
  uint32_t v = 0;
  while (getrandom(&v, sizeof v, 0) != sizeof v) {
  }
  return v;
}

size_t __strftime_l(char *s, size_t max, const char *fmt, const struct tm *tm, locale_t loc) {
  return strftime_l(s, max, fmt, tm, loc);
}

unsigned long __getauxval(unsigned long type) { return getauxval(type); } /* aarch64 */

char __libc_single_threaded = 0; /* "not known to be single-threaded": always the safe answer */

struct tls_dtor {
  void (*fn)(void *);
  void *obj;
  struct tls_dtor *next;
};
static pthread_key_t dtor_key;
static pthread_once_t dtor_once = PTHREAD_ONCE_INIT;
static void run_dtors(void *head) {
  for (struct tls_dtor *d = head, *next; d; d = next) {
    next = d->next;
    d->fn(d->obj);
    free(d);
  }
}
static void make_key(void) { pthread_key_create(&dtor_key, run_dtors); }
int __cxa_thread_atexit_impl(void (*fn)(void *), void *obj, void *dso) {
  (void)dso;
  pthread_once(&dtor_once, make_key);
  struct tls_dtor *d = malloc(sizeof *d);
  if (!d) return -1;
  d->fn = fn;
  d->obj = obj;
  d->next = pthread_getspecific(dtor_key);
  return pthread_setspecific(dtor_key, d);
}

/* libgcc_s: the unwinder asks glibc which loaded object holds a pc and where its
 * .eh_frame_hdr is (glibc 2.35+); answered from dl_iterate_phdr, which musl has. */
struct dl_find_object {
  unsigned long long dlfo_flags;
  void *dlfo_map_start;
  void *dlfo_map_end;
  struct link_map *dlfo_link_map;
  void *dlfo_eh_frame;
  unsigned long long __dflo_reserved[7];
};
struct find_arg {
  uintptr_t pc;
  struct dl_find_object *out;
  int found;
};
static int find_cb(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  struct find_arg *a = data;
  uintptr_t lo = UINTPTR_MAX, hi = 0;
  void *eh = NULL;
  int inside = 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *p = &info->dlpi_phdr[i];
    uintptr_t start = info->dlpi_addr + p->p_vaddr, end = start + p->p_memsz;
    if (p->p_type == PT_LOAD) {
      if (start < lo) lo = start;
      if (end > hi) hi = end;
      if (a->pc >= start && a->pc < end) inside = 1;
    } else if (p->p_type == PT_GNU_EH_FRAME) {
      eh = (void *)start;
    }
  }
  if (!inside) return 0;
  memset(a->out, 0, sizeof *a->out);
  a->out->dlfo_map_start = (void *)lo;
  a->out->dlfo_map_end = (void *)hi;
  a->out->dlfo_eh_frame = eh;
  a->found = 1;
  return 1;
}
int _dl_find_object(void *pc, struct dl_find_object *out) {
  struct find_arg a = {(uintptr_t)pc, out, 0};
  dl_iterate_phdr(find_cb, &a);
  return a.found ? 0 : -1;
}

#if defined(__x86_64__)
/* libgcc_s binds these versioned names, which musl's loader does not see: no CPU features
 * known, so __builtin_cpu_supports answers no and callers take their portable path. */
struct {
  unsigned int vendor, type, subtype;
  unsigned int features[1];
} __cpu_model;
int __cpu_indicator_init(void) { return 0; }
#endif
