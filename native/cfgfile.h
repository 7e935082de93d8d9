/* cfgfile — a settings file, read and parsed, and the unknown-key speller.
 *
 * Reading: a regular file only (a FIFO at the path must not hang OpenCode's start; a symbolic
 * link is followed: a config kept with the user's dotfiles), at most 1 MiB. JSON (jansson) when
 * the name ends in ".json", else YAML: first checked for shape (nesting, anchors) with libyaml's
 * event API, then loaded with its document API. Both are walked through one small node
 * interface, so both formats mean the same keys.
 *
 * The speller: every mapping of a file that known keys pass through is checked against them, and
 * an unknown key is named (never its value) with the closest known one: "did you mean ...?".
 *
 * This module knows files, not settings: config.c says which keys exist and what they mean. Its
 * messages name the path, lines and keys, never a value read (a file may hold secrets). */
#ifndef CFGFILE_H
#define CFGFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* One node of a parsed file, YAML or JSON (all pointers borrowed from the file; all zero: no
 * node). */
typedef struct {
  struct yaml_document_s *doc; /* YAML: the document and the node */
  struct yaml_node_s *y;
  struct json_t *j; /* JSON */
} cfgfile_node;

typedef struct cfgfile cfgfile;

typedef struct {
  char *problem;      /* NULL, or why nothing of the file can be used, one line starting
                       * "config PATH: " (malloc'd) */
  bool out_of_memory; /* then nothing is returned either */
  unsigned mode;      /* the permission bits of the file read; 0 when none was read */
  time_t mtime;       /* the file's modification time; 0 when it is absent */
} cfgfile_status;

/* Reads and parses the file at path. Returns it, or NULL: absent (st->problem NULL), unusable (a
 * directory, not a regular file, unreadable, larger than 1 MiB, invalid YAML or JSON, nested too
 * deep, too many anchors: st->problem says which, with the line), or out of memory. An empty
 * file, or one of only comments, has a null root. Free with cfgfile_free. */
cfgfile *cfgfile_read(const char *path, cfgfile_status *st);
cfgfile_node cfgfile_root(const cfgfile *f);
void cfgfile_free(cfgfile *f);

bool cfgfile_exists(cfgfile_node n);
/* A YAML plain scalar read as null ("", "~", "null") or a JSON null. */
bool cfgfile_is_null(cfgfile_node n);
bool cfgfile_is_map(cfgfile_node n);
bool cfgfile_is_seq(cfgfile_node n);
/* The value of key in a mapping, or no node. A repeated YAML key: the last one wins. */
cfgfile_node cfgfile_get(cfgfile_node map, const char *key);
/* The node at a dotted path below parent ("spool.max_mb"), or no node. */
cfgfile_node cfgfile_at(cfgfile_node parent, const char *path);
/* The text of a scalar in (*s, *len): a YAML scalar; a JSON string, number or boolean (their text
 * is written to buf). False for mappings, sequences and nulls. */
bool cfgfile_scalar(cfgfile_node n, char buf[64], const char **s, size_t *len);
/* The 1-based line of a YAML node; 0 for JSON (jansson keeps no positions). */
size_t cfgfile_line(cfgfile_node n);
/* Calls fn for each entry of a mapping whose key is a scalar. */
typedef void (*cfgfile_entry_fn)(void *ctx, const char *key, size_t key_len, cfgfile_node value);
void cfgfile_each(cfgfile_node map, cfgfile_entry_fn fn, void *ctx);
size_t cfgfile_seq_len(cfgfile_node n);
cfgfile_node cfgfile_seq_item(cfgfile_node n, size_t k);

/* ---- the speller ---- */

#define CFGFILE_KEYS_MAX 256
#define CFGFILE_KEY_LEN 80

/* The known keys of a file, each a full dotted path ("harnesses.opencode.spool.max_mb"). An
 * older name is known but never suggested. */
typedef struct {
  char path[CFGFILE_KEYS_MAX][CFGFILE_KEY_LEN];
  bool old[CFGFILE_KEYS_MAX];
  size_t n;
} cfgfile_keys;

/* Adds prefix + key, or, with old, prefix + key with its last part replaced by old. */
void cfgfile_keys_add(cfgfile_keys *k, const char *prefix, const char *key, const char *old);

/* The keys of root's mappings (those the known keys pass through) that are not known, on one
 * line: "config PATH: `harnesses.opencode.projet_name` (line 3): did you mean `project_name`?;
 * `x` (line 5): <unknown>, ignored; ..." — at most 8, then "; and N more" — or NULL when there is
 * none (or out of memory: *out_of_memory is set). shared: the prefixes of mappings other programs
 * share ("" the top level, "harnesses."; NULL-terminated, or NULL: none), where only a key close
 * to a known one is named. unknown: what a key without a suggestion is called. */
char *cfgfile_unknown_keys(cfgfile_node root, const cfgfile_keys *known, const char *path,
                           const char *const *shared, const char *unknown, bool *out_of_memory);

#endif
