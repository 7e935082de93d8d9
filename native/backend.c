/* backend — see backend.h. */
#include "backend.h"

#include <stdio.h>
#include <string.h>

/* One row per backend kind. Variables and keys named here are rows of config.c's settings
 * table (test_config checks that each one is). */
// clang-format off
static const backend rows[] = {
    /* Arize AX regions from Arize's "Data Regions" page
     * (https://arize.com/docs/ax/security-and-settings/compliance/data-regions). Both
     * spellings of each credential: older Arize examples send api_key/space_id, newer ones
     * authorization/arize-space-id; sending both suits either intake. */
    {.name = "arize",
     .display = "Arize AX",
     .menu = "Arize AX",
     .default_scheme = "https://",
     .pick = BACKEND_PICK_CREDENTIALS,
     .endpoint_env = "ARIZE_OTLP_ENDPOINT",
     .regions = (const backend_region[]){
         {"us", "us-central-1a", "https://otlp.arize.com/v1/traces"},
         {"eu", "eu-west-1a", "https://otlp.eu-west-1a.arize.com/v1/traces"},
         {"ca", "ca-central-1a", "https://otlp.ca-central-1a.arize.com/v1/traces"},
         {NULL, NULL, NULL}},
     .headers = (const backend_header[]){
         {"authorization", "api_key", "", true},
         {"api_key", "api_key", "", true},
         {"arize-space-id", "space_id", "", true},
         {"space_id", "space_id", "", true},
         {"arize-interface", NULL, "otel", false},
         {NULL, NULL, NULL, false}},
     .asks = (const backend_setting[]){
         {"api_key", "ARIZE_API_KEY", "Arize API key", "Settings > API Keys", NULL, true, false},
         {"space_id", "ARIZE_SPACE_ID", "Arize space id", "Settings", NULL, true, true},
         {.key = NULL}}},
    /* Phoenix usually runs locally without TLS, hence http for a bare host:port. */
    {.name = "phoenix",
     .display = "Phoenix",
     .menu = "Phoenix",
     .default_scheme = "http://",
     .pick = BACKEND_PICK_ENV_FIRST,
     .endpoint_env = "PHOENIX_ENDPOINT",
     .endpoint_alone = true,
     .headers = (const backend_header[]){
         {"x-project-name", "project_name", "", false},
         {"authorization", "api_key", "Bearer ", true},
         {NULL, NULL, NULL, false}},
     .asks = (const backend_setting[]){
         {"endpoint", "PHOENIX_ENDPOINT", "Phoenix endpoint", NULL, "http://localhost:6006", true, false},
         {"api_key", "PHOENIX_API_KEY", "Phoenix API key", NULL, NULL, false, false},
         {.key = NULL}}},
    /* Any other OTLP/HTTP endpoint, from the file or the standard OTEL_EXPORTER_OTLP_*
     * variables (the traces one as given, the generic one with /v1/traces: the OTel rule). */
    {.name = "otlp",
     .display = "OTLP",
     .one = "an OTLP backend",
     .menu = "another OTLP endpoint",
     .default_scheme = "https://",
     .pick = BACKEND_PICK_ENV_LAST,
     .endpoint_env = "OTEL_EXPORTER_OTLP_ENDPOINT",
     .user_headers = true,
     .headers = (const backend_header[]){{.name = NULL}},
     .asks = (const backend_setting[]){
         {"endpoint", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTLP/HTTP endpoint", "base URL or .../v1/traces", NULL, true, false},
         {"headers", "OTEL_EXPORTER_OTLP_HEADERS", "Headers, name=value[,name=value]", NULL, NULL, false, false},
         {.key = NULL}}},
};
// clang-format on

size_t backend_count(void) { return sizeof rows / sizeof *rows; }

const backend *backend_at(size_t i) { return i < backend_count() ? &rows[i] : NULL; }

const backend_setting *backend_ask(const backend *b, const char *key) {
  for (const backend_setting *a = b->asks; a->key; a++)
    if (!strcmp(a->key, key)) return a;
  return NULL;
}

bool backend_others_read(const backend *b, const char *key) {
  for (size_t i = 0; i < backend_count(); i++)
    if (&rows[i] != b && backend_ask(&rows[i], key)) return true;
  return false;
}

const char *backend_names(char *buf, size_t cap) {
  size_t o = 0;
  if (cap) buf[0] = '\0';
  for (size_t i = 0; i < backend_count() && o < cap; i++)
    o += (size_t)snprintf(buf + o, cap - o, "%s%s", i ? "|" : "", rows[i].name);
  return buf;
}
