/* backend — the backend kinds, as data: one row per kind (Arize AX, Phoenix, any OTLP
 * endpoint, ...). A row is everything a kind is: its target name and the words that name it,
 * how it is picked without a target, the variable naming its endpoint, the scheme a bare
 * "host:port" gets, its regions, the headers it sends and the settings it reads (what `install`
 * asks for it). config.c resolves the settings by these rows (the `target` setting's choices are
 * their names); config_schema_json hands them to the CLI (lib/settings.json "backends"), which
 * builds its menu, questions and words from them. A new backend kind is a new row in backend.c.
 *
 * Settings are named by their harnesses.opencode file key ("api_key") and variables by name
 * ("PHOENIX_API_KEY"): each is a row of config.c's settings table. Pure data, no allocation. */
#ifndef BACKEND_H
#define BACKEND_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
  const char *name, *long_name, *endpoint; /* "us", "us-central-1a", its traces URL */
} backend_region;

typedef struct {
  const char *name;
  const char *from;   /* the value is this setting's as the backend resolves it ("api_key",
                       * "project_name"); NULL: the fixed text */
  const char *prefix; /* before the value ("Bearer "), or the fixed text */
  bool secret;        /* masked wherever a backend's answer echoes it */
} backend_header;

/* A setting of harnesses.opencode the backend reads (and `install` asks for). Its value for the
 * backend: its variable's when set, else the file's when the file is for this backend (its
 * target, or no target and the backend picked by its credentials) or no other backend reads
 * that key. */
typedef struct {
  const char *key;      /* "endpoint", "api_key", "space_id", "headers" (NULL ends a list) */
  const char *env;      /* the variable that gives it for this backend (NULL: none) */
  const char *what;     /* how a sentence names it ("Arize API key") */
  const char *hint;     /* install's question adds it in brackets (NULL: none) */
  const char *fallback; /* what Enter takes at install when nothing is known (NULL: none) */
  bool required;        /* the backend sends only with it */
  bool names_backend;   /* given alone at install, it picks this backend (--space-id) */
} backend_setting;

/* How the backend is picked without a target, in this order: a variable that wins over the
 * file's target; all its required credentials known; an endpoint in the file without a target
 * (endpoint_alone); a variable when nothing else picked one. Else only a target names it. */
typedef enum {
  BACKEND_PICK_TARGET,
  BACKEND_PICK_ENV_FIRST,
  BACKEND_PICK_CREDENTIALS,
  BACKEND_PICK_ENV_LAST
} backend_pick;

typedef struct backend {
  const char *name;    /* the target name ("arize") */
  const char *display; /* "Arize AX" */
  const char *one;     /* how a sentence names one of its kind ("an OTLP backend"; NULL:
                        * display) */
  const char *menu;    /* install's menu entry */
  const char *default_scheme;
  backend_pick pick;
  const char *endpoint_env;      /* the variable naming its endpoint (NULL: none) */
  bool endpoint_alone;           /* an endpoint in the file without a target means it */
  bool user_headers;             /* it sends the user's headers (harnesses.opencode.headers,
                                  * OTEL_EXPORTER_OTLP_*HEADERS), all secret */
  const backend_region *regions; /* name NULL ends; NULL: none (an endpoint is needed) */
  const backend_header *headers; /* name NULL ends */
  const backend_setting *asks;   /* key NULL ends */
} backend;

/* The rows, in order; a target is a row's index + 1 (config.h's config_target). */
size_t backend_count(void);
const backend *backend_at(size_t i); /* NULL past the end */

/* The setting's entry in b's asks, or NULL. */
const backend_setting *backend_ask(const backend *b, const char *key);

/* Whether a backend other than b reads the setting. */
bool backend_others_read(const backend *b, const char *key);

/* "arize|phoenix|otlp": the rows' names, into buf (cut at cap). */
const char *backend_names(char *buf, size_t cap);

#endif
