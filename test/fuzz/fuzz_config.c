/* fuzz_config — bytes as a config file (config.yaml, then the same bytes as config.json),
 * plus an environment, through config_load.
 *
 * Input: the file's bytes, then optionally a NUL byte and environment lines ("NAME=value"
 * separated by newlines). A config file holding a NUL is not a config anyway, so the split
 * costs the fuzzer nothing. A fixed secret API key is appended to the environment for half
 * the inputs (by a hash of the input); the fuzzer's own lines come first and win.
 *
 * Properties checked besides memory safety:
 *   - config_load never returns NULL (only on out of memory, which the fuzzer never causes);
 *   - no header line and no endpoint holds a control character (a CR or LF would let a
 *     config value inject an HTTP header);
 *   - the secret appears in no warning, reason, path, endpoint or name: only in headers.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "fuzz_common.h"

#define SECRET "sk-FUZZ-SECRET-9f8e7d6c"
#define MAX_ENV 32

static char dir[64];
static char yaml_path[128], json_path[128];

static void cleanup(void) {
  unlink(yaml_path);
  unlink(json_path);
  rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  /* /dev/shm when there is one: a file write per input should not touch a disk. */
  snprintf(dir, sizeof dir, "%s/fuzz_config.XXXXXX",
           access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    abort();
  }
  snprintf(yaml_path, sizeof yaml_path, "%s/config.yaml", dir);
  snprintf(json_path, sizeof json_path, "%s/config.json", dir);
  atexit(cleanup);
  return 0;
}

static void write_file(const char *path, const uint8_t *data, size_t len) {
  FILE *f = fopen(path, "wb");
  FUZZ_ASSERT(f != NULL);
  if (len) FUZZ_ASSERT(fwrite(data, 1, len, f) == len);
  fclose(f);
}

static bool has_control(const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; p && *p; p++)
    if ((*p < 0x20 && *p != '\t') || *p == 0x7f) return true;
  return false;
}

static bool shows_secret(const char *s) { return s && strstr(s, SECRET); }

static void check(const config *c, bool secret_may_show) {
  FUZZ_ASSERT(c != NULL);
  FUZZ_ASSERT(c->project_name && c->home && c->config_path && c->log_file);
  FUZZ_ASSERT(c->state_dir && c->spool_dir);
  FUZZ_ASSERT(!c->endpoint || !has_control(c->endpoint));
  FUZZ_ASSERT((c->target == CONFIG_TARGET_NONE) == (c->endpoint == NULL));
  for (size_t i = 0; i < c->n_headers; i++) {
    FUZZ_ASSERT(c->headers[i] != NULL);
    FUZZ_ASSERT(!has_control(c->headers[i]));
    FUZZ_ASSERT(strchr(c->headers[i], ':') != NULL);
  }
  FUZZ_ASSERT(config_target_name(c->target) != NULL);
  if (secret_may_show) return;
  FUZZ_ASSERT(!shows_secret(c->warning));
  FUZZ_ASSERT(!shows_secret(c->why_not_sending));
  FUZZ_ASSERT(!shows_secret(c->endpoint));
  FUZZ_ASSERT(!shows_secret(c->project_name));
  FUZZ_ASSERT(!shows_secret(c->attrs.user_id));
  FUZZ_ASSERT(!shows_secret(c->log_file));
  FUZZ_ASSERT(!shows_secret(c->config_path));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *nul = memchr(data, '\0', size);
  size_t file_len = nul ? (size_t)(nul - data) : size;

  /* The environment: HOME, the input's lines, then maybe the secret. */
  char *env_text = NULL;
  const char *envp[MAX_ENV + 4];
  size_t n = 0;
  char home[96];
  snprintf(home, sizeof home, "HOME=%s", dir);
  envp[n++] = home;
  if (nul) {
    size_t len = size - file_len - 1;
    env_text = malloc(len + 1);
    FUZZ_ASSERT(env_text != NULL);
    memcpy(env_text, nul + 1, len);
    env_text[len] = '\0';
    for (char *line = env_text, *next; line && n < MAX_ENV; line = next) {
      next = strchr(line, '\n');
      if (next) *next++ = '\0';
      if (*line) envp[n++] = line;
    }
  }
  uint64_t h = fuzz_hash(data, size);
  if (h & 1) envp[n++] = "ARIZE_API_KEY=" SECRET;
  if (h & 2) envp[n++] = "PHOENIX_API_KEY=" SECRET;
  if (h & 4) envp[n++] = "ARIZE_SPACE_ID=space";
  envp[n] = NULL;

  /* The secret may legitimately show when the input itself holds it (as a project name,
   * say): only a secret the input did not provide must stay hidden. */
  bool in_input = memmem(data, size, SECRET, strlen(SECRET)) != NULL;

  write_file(yaml_path, data, file_len);
  config *c = config_load(yaml_path, envp);
  check(c, in_input);
  config_free(c);

  write_file(json_path, data, file_len);
  c = config_load(json_path, envp);
  check(c, in_input);
  config_free(c);

  free(env_text);
  return 0;
}
