/* state — an open-addressing hash set of "session\x1fkey" strings. */
#include "state.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct state {
  char **slots; /* NULL = empty; owned strings */
  size_t cap;   /* power of two */
  size_t len;
};

/* FNV-1a over session, a unit separator, then key: the same bytes the stored string has. */
static uint64_t key_hash(const char *session_id, const char *key) {
  uint64_t h = 1469598103934665603ULL;
  for (const char *p = session_id; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
  h = (h ^ 0x1f) * 1099511628211ULL;
  for (const char *p = key; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
  return h;
}

static bool key_equals(const char *stored, const char *session_id, const char *key) {
  size_t n = strlen(session_id);
  return strncmp(stored, session_id, n) == 0 && stored[n] == 0x1f && strcmp(stored + n + 1, key) == 0;
}

/* The slot holding (session, key), or the empty slot where it would go. */
static size_t find_slot(char *const *slots, size_t cap, const char *session_id, const char *key) {
  size_t i = (size_t)key_hash(session_id, key) & (cap - 1);
  while (slots[i] && !key_equals(slots[i], session_id, key)) i = (i + 1) & (cap - 1);
  return i;
}

state *state_new(void) {
  state *st = calloc(1, sizeof *st);
  if (!st) return NULL;
  st->cap = 64;
  st->slots = calloc(st->cap, sizeof *st->slots);
  if (!st->slots) {
    free(st);
    return NULL;
  }
  return st;
}

void state_free(state *st) {
  if (!st) return;
  for (size_t i = 0; i < st->cap; i++) free(st->slots[i]);
  free(st->slots);
  free(st);
}

bool state_seen(const state *st, const char *session_id, const char *key) {
  return st->slots[find_slot(st->slots, st->cap, session_id, key)] != NULL;
}

/* Doubles the table; keeps the load factor under one half so probes stay short. */
static int grow(state *st) {
  size_t cap = st->cap * 2;
  char **slots = calloc(cap, sizeof *slots);
  if (!slots) return -1;
  for (size_t i = 0; i < st->cap; i++) {
    char *s = st->slots[i];
    if (!s) continue;
    char *sep = strchr(s, 0x1f);
    *sep = '\0'; /* split in place to rehash, then restore */
    slots[find_slot(slots, cap, s, sep + 1)] = s;
    *sep = 0x1f;
  }
  free(st->slots);
  st->slots = slots, st->cap = cap;
  return 0;
}

int state_mark(state *st, const char *session_id, const char *key) {
  if ((st->len + 1) * 2 > st->cap && grow(st) != 0) return -1;
  size_t i = find_slot(st->slots, st->cap, session_id, key);
  if (st->slots[i]) return 0;
  size_t ns = strlen(session_id), nk = strlen(key);
  char *s = malloc(ns + nk + 2);
  if (!s) return -1;
  memcpy(s, session_id, ns);
  s[ns] = 0x1f;
  memcpy(s + ns + 1, key, nk + 1);
  st->slots[i] = s;
  st->len++;
  return 0;
}

size_t state_size(const state *st) { return st->len; }
