/* state — what was already emitted, per session: the dedup set behind "only new spans".
 *
 * Keys are short strings built by reconcile ("llm:<message id>", "tool:<message id>:<call
 * id>", "turn:<user message id>", "agent:<child session id>"). The set lives in memory;
 * every key is owned by the set.
 */
#ifndef STATE_H
#define STATE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct state state;

state *state_new(void);
void state_free(state *st);

/* Whether key was marked for session. */
bool state_seen(const state *st, const char *session_id, const char *key);

/* Marks key for session. 0, or -1 when out of memory. Marking twice is harmless. */
int state_mark(state *st, const char *session_id, const char *key);

/* How many keys are held (for status). */
size_t state_size(const state *st);

#endif
