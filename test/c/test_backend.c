/* Tests for backend.c: the rows are the backend kinds config.c resolves, and every setting and
 * variable a row names is one of the settings table's (a misspelt key would make a backend
 * silently send without its credential). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "check.h"
#include "config.h"

static char tmpdir[] = "/tmp/test_backend.XXXXXX";
static char config_file[512];

/* The settings schema's entry naming `key` as a harnesses.opencode key or a variable. */
static bool schema_has(json_t *settings, const char *key, const char *env) {
  size_t i;
  json_t *s;
  json_array_foreach(settings, i, s) {
    size_t k;
    json_t *v;
    char full[128];
    snprintf(full, sizeof full, "harnesses.opencode.%s", key ? key : "");
    json_array_foreach(json_object_get(s, "keys"), k,
                       v) if (key && !strcmp(json_string_value(v), full)) return true;
    json_array_foreach(json_object_get(s, "env"), k,
                       v) if (env && !strcmp(json_string_value(v), env)) return true;
  }
  return false;
}

static void test_every_key_and_variable_a_row_names_is_a_setting(void) {
  char *text = config_schema_json();
  json_t *schema = text ? json_loads(text, 0, NULL) : NULL;
  json_t *settings = json_object_get(schema, "settings");
  CHECK(json_array_size(settings) > 0);
  for (size_t i = 0; i < backend_count(); i++) {
    const backend *b = backend_at(i);
    for (const backend_setting *a = b->asks; a->key; a++) {
      if (!schema_has(settings, a->key, NULL)) fprintf(stderr, "  %s: key %s\n", b->name, a->key);
      CHECK(schema_has(settings, a->key, NULL));
      CHECK(!a->env || schema_has(settings, NULL, a->env));
    }
    for (const backend_header *h = b->headers; h->name; h++)
      CHECK(!h->from || schema_has(settings, h->from, NULL));
    CHECK(!b->endpoint_env || schema_has(settings, NULL, b->endpoint_env));
    CHECK(b->regions || backend_ask(b, "endpoint") || b->endpoint_env);
  }
  json_decref(schema);
  free(text);
}

/* The target setting's choices are the rows' names, and each name read from a file is that
 * row's target. */
static void test_each_row_is_a_target_the_config_resolves(void) {
  char names[256];
  backend_names(names, sizeof names);
  const char *const env[] = {NULL};
  for (size_t i = 0; i < backend_count(); i++) {
    const backend *b = backend_at(i);
    char yaml[1024];
    size_t o = (size_t)snprintf(yaml, sizeof yaml,
                                "harnesses:\n  opencode:\n    target: %s\n    endpoint: "
                                "127.0.0.1:9\n",
                                b->name);
    for (const backend_setting *a = b->asks; a->key; a++)
      if (a->required && strcmp(a->key, "endpoint"))
        o += (size_t)snprintf(yaml + o, sizeof yaml - o, "    %s: test-%s\n", a->key, a->key);
    FILE *f = fopen(config_file, "w");
    if (!f) continue;
    fputs(yaml, f);
    fclose(f);
    chmod(config_file, 0600);
    config *c = config_load(config_file, env);
    CHECK(c != NULL);
    if (!c) continue;
    CHECK_STR(config_target_name(c->target), b->name);
    CHECK(c->warning == NULL);
    CHECK(strstr(names, b->name) != NULL);
    config_free(c);
  }
  CHECK_STR(config_target_name(CONFIG_TARGET_NONE), "none");
}

int main(void) {
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  snprintf(config_file, sizeof config_file, "%s/config.yaml", tmpdir);
  RUN(test_every_key_and_variable_a_row_names_is_a_setting);
  RUN(test_each_row_is_a_target_the_config_resolves);
  unlink(config_file);
  rmdir(tmpdir);
  return check_done();
}
