/* redact: secrets become "<redacted:KIND>" markers wherever they sit in a text, JSON stays JSON,
 * placeholders and references are left alone, user rules work, the matcher is linear, and the
 * attribute policy (attrs.c) scans every string of a span before it is cut.
 *
 * No token in this file is a literal: each is made at run time from its prefix and a seeded
 * generator, fake but well-formed, so no secret scanner ever finds one here. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

#include "attrs.h"
#include "check.h"
#include "redact.h"
#include "spans.h"

#define ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
#define HEX "0123456789abcdef"
#define B32 "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
#define B64URL ALNUM "-_"
#define B64 ALNUM "+/"

static uint64_t seed = 0x5eed;

static char pick(const char *alphabet) {
  seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
  return alphabet[(seed >> 33) % strlen(alphabet)];
}

/* prefix + n characters of alphabet, into a static ring of buffers. */
static const char *fake(const char *prefix, const char *alphabet, size_t n) {
  static char ring[64][1024];
  static int next;
  char *out = ring[next++ % 64];
  size_t p = strlen(prefix);
  memcpy(out, prefix, p);
  for (size_t i = 0; i < n; i++) out[p + i] = pick(alphabet);
  out[p + n] = 0;
  return out;
}

static const char *uuid(void) {
  static char out[40];
  snprintf(out, sizeof out, "%s-%s-%s-%s-%s", fake("", HEX, 8), fake("", HEX, 4), fake("", HEX, 4),
           fake("", HEX, 4), fake("", HEX, 12));
  return out;
}

static redact_rules *builtin(void) {
  redact_config cfg = {.builtin = true};
  return redact_new(&cfg);
}

/* text redacted by r: a malloc'd copy, and the count in *n. */
static char *red(const redact_rules *r, const char *text, long *n) {
  char *out = NULL;
  size_t len;
  long k = redact_text(r, text, strlen(text), false, &out, &len);
  if (n) *n = k;
  if (k > 0) return out;
  return strdup(text);
}

/* "<before>SECRET<after>" redacted by the built-ins is "<before><redacted:kind><after>". */
static void expect(const redact_rules *r, const char *before, const char *secret, const char *after,
                   const char *kind) {
  char in[4096], want[4096];
  snprintf(in, sizeof in, "%s%s%s", before, secret, after);
  snprintf(want, sizeof want, "%s<redacted:%s>%s", before, kind, after);
  char *out = red(r, in, NULL);
  if (strcmp(out, want) != 0)
    fprintf(stderr, "  in:   %s\n  got:  %s\n  want: %s\n", in, out, want);
  CHECK_STR(out, want);
  free(out);
}

static void unchanged(const redact_rules *r, const char *text) {
  long n;
  char *out = red(r, text, &n);
  if (n != 0) fprintf(stderr, "  changed: %s\n  into:    %s\n", text, out);
  CHECK_INT(n, 0);
  free(out);
}

static void test_every_builtin_kind_is_found_by_its_format(void) {
  redact_rules *r = builtin();
  char pem[2048];
  snprintf(pem, sizeof pem,
           "-----BEGIN RSA PRIVATE KEY-----\n%s\n%s\n-----END RSA PRIVATE KEY-----",
           fake("MIIE", B64, 60), fake("", B64, 64));
  struct {
    const char *secret, *kind;
  } cases[] = {
      {fake("sk-proj-", B64URL, 120), "openai-api-key"},
      {fake("sk-", ALNUM, 48), "openai-api-key"},
      {fake("sk-ant-api03-", B64URL, 95), "anthropic-api-key"},
      {fake("sk-or-v1-", HEX, 64), "openrouter-api-key"},
      {fake("AIza", B64URL, 35), "google-api-key"},
      {fake("gsk_", ALNUM, 52), "groq-api-key"},
      {fake("hf_", ALNUM, 34), "huggingface-token"},
      {fake("AKIA", B32, 16), "aws-access-key"},
      {fake("ghp_", ALNUM, 36), "github-token"},
      {fake("github_pat_", ALNUM, 82), "github-token"},
      {fake("glpat-", B64URL, 20), "gitlab-token"},
      {NULL, "slack-token"},
      {fake("sk_live_", ALNUM, 24), "stripe-key"},
      {fake("npm_", ALNUM, 36), "npm-token"},
      {fake("dop_v1_", HEX, 64), "digitalocean-token"},
      {pem, "private-key"},
  };
  char slack[128];
  snprintf(slack, sizeof slack, "%s-%s-%s", fake("xoxb-", "0123456789", 12),
           fake("", "0123456789", 13), fake("", ALNUM, 24));
  cases[11].secret = slack;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    expect(r, "see ", cases[i].secret, " here", cases[i].kind);
    expect(r, "{\"k\":\"", cases[i].secret, "\"}", cases[i].kind);
  }
  char arize[200];
  snprintf(arize, sizeof arize, "ak-%s-%s", uuid(), fake("", B64URL, 32));
  expect(r, "ARIZE_API_KEY=", arize, "\n", "arize-api-key");
  char jwt[400];
  snprintf(jwt, sizeof jwt, "%s.%s.%s", fake("eyJ", B64URL, 30), fake("eyJ", B64URL, 60),
           fake("", B64URL, 43));
  expect(r, "token ", jwt, " ok", "jwt");
  expect(r, "my mistral key: ", fake("", ALNUM, 32), ".", "mistral-api-key");
  expect(r, "https://hooks.slack.com/", fake("services/T", ALNUM, 40), "", "slack-webhook");
  redact_free(r);
}

static void test_secrets_found_by_where_they_sit(void) {
  redact_rules *r = builtin();
  expect(r, "postgres://admin:", "S3cr3t-pw", "@db:5432/app", "password-in-url");
  expect(r, "Authorization: Bearer ", fake("", ALNUM, 40), "\r\n", "bearer-token");
  expect(r, "curl -H 'authorization: token ", fake("", ALNUM, 30), "'", "bearer-token");
  expect(r, "Authorization: Basic ", "dXNlcjpodW50ZXIyLXBhc3M=", "\n", "basic-auth");
  expect(r, "DB_PASSWORD=", "Tr0ub4dor&3", "\n", "secret-assignment");
  /* a password handed to a command on its command line */
  expect(r, "mysql -h db -u root -p", "S3cr3tPass!", " shop", "password-argument");
  expect(r, "mysqldump -uroot -p'", "S3cr3t pass", "' shop", "password-argument");
  expect(r, "curl -u admin:", "S3cr3tPass!", " https://ci.test/api", "password-argument");
  expect(r, "curl --user=\"deploy:", "hunter2-Zq9x", "\" https://x.test", "password-argument");
  expect(r, "sshpass -p ", "S3cr3tPass", " ssh host", "password-argument");
  expect(r, "export API_TOKEN=\"", fake("", ALNUM, 32), "\"", "secret-assignment");
  expect(r, "aws_secret_access_key = ", fake("", ALNUM "+/", 40), "\n", "aws-secret-access-key");
  expect(r, "clientSecret: '", fake("", ALNUM, 24), "'", "secret-assignment");
  expect(r, "--api-key=", fake("", HEX, 32), " --v", "secret-assignment");
  expect(r, "https://x.test/v1?api_key=", fake("", ALNUM, 30), "&q=1", "secret-assignment");
  expect(r, "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=", fake("", ALNUM "+/", 86),
         ";EndpointSuffix=core.windows.net", "azure-key");
  /* a key file read by a tool, its lines numbered ("N: ", older OpenCode "0000N| ") */
  char numbered[1024];
  snprintf(
      numbered, sizeof numbered,
      "-----BEGIN OPENSSH PRIVATE KEY-----\n2: %s\n3: %s\n4: -----END OPENSSH PRIVATE KEY-----",
      fake("", B64, 64), fake("", B64, 40));
  expect(r, "<content>\n1: ", numbered, "\n</content>", "private-key");
  snprintf(numbered, sizeof numbered,
           "-----BEGIN RSA PRIVATE KEY-----\n00002| %s\n00003| -----END RSA PRIVATE KEY-----",
           fake("", B64, 64));
  expect(r, "00001| ", numbered, "\n", "private-key");
  /* a specific format inside an assignment is named by its format */
  const char *gh = fake("ghp_", ALNUM, 36);
  expect(r, "GITHUB_TOKEN=", gh, "\n", "github-token");
  redact_free(r);
}

static void test_placeholders_references_and_prose_are_left_alone(void) {
  redact_rules *r = builtin();
  unchanged(r, "PASSWORD=changeme\nAPI_KEY=process.env.OPENAI_API_KEY\nTOKEN=${GITHUB_TOKEN}\n");
  unchanged(r, "const apiKey = options.apiKey ?? process.env.KEY; password: string;");
  unchanged(r, "set OPENAI_API_KEY=sk-proj-... or sk-your-key-here; "
               "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
  unchanged(r, "Use a Bearer token in the Authorization header. Basic usage: see below.");
  unchanged(r, "postgres://user:password@localhost:5432/db and https://user:${PW}@host/");
  unchanged(r, "AKIAIOSFODNN7EXAMPLE is the documented example key id");
  unchanged(r, "-----BEGIN PRIVATE KEY----- starts the block; search for it with grep.");
  unchanged(r, "A PEM file starts with -----BEGIN RSA PRIVATE KEY----- and then the base64 "
               "encoded key follows on many lines, so look for it when you audit the repository");
  unchanged(r, "{\"max_tokens\": 4096, \"key\": \"item-3\", \"public_key\": \"" HEX HEX "\"}");
  unchanged(r, "primary_key = user_id_and_created_at_index; sort_key: 2024-01-01T00:00:00Z");
  unchanged(r, "a: b ? c : d; x == y; http://localhost:8080/path?x=1");
  /* options that are not a password on a command line */
  unchanged(r,
            "mysql -u root -p shop  # asks for the password\nmkdir -p build/out && ssh -p 2222 h");
  unchanged(r, "curl -u admin https://x.test (asks)\ncurl -u $USER:$TOKEN https://x.test\n"
               "use mysql -pYOURPASSWORD here; curl -o out -p x");
  unchanged(r, "");
  redact_free(r);
}

/* Whether text is JSON, and its value at key (a string) equals want. */
static void json_value_is(const char *text, const char *key, const char *want) {
  json_error_t err;
  json_t *v = json_loads(text, JSON_DECODE_ANY, &err);
  CHECK(v != NULL);
  if (!v) {
    fprintf(stderr, "  not JSON: %s (%s)\n", text, err.text);
    return;
  }
  CHECK_STR(json_string_value(json_object_get(v, key)), want);
  json_decref(v);
}

static void test_json_stays_json_whatever_the_escapes(void) {
  redact_rules *r = builtin();
  char in[2048];
  /* a password with a quote and a backslash, escaped in JSON text */
  snprintf(in, sizeof in, "{\"password\":\"Ab3\\\"de\\\\fg9\",\"user\":\"bob\"}");
  char *out = red(r, in, NULL);
  json_value_is(out, "password", "<redacted:secret-assignment>");
  json_value_is(out, "user", "bob");
  free(out);
  /* a token written with \u escapes, and one after an escaped newline */
  const char *gh = fake("ghp_", ALNUM, 36);
  snprintf(in, sizeof in, "{\"out\":\"line\\n%s\\nnext\",\"u\":\"\\u0067hp_%s\"}", gh,
           fake("", ALNUM, 36));
  out = red(r, in, NULL);
  json_value_is(out, "out", "line\n<redacted:github-token>\nnext");
  json_value_is(out, "u", "<redacted:github-token>");
  free(out);
  /* a command in tool arguments: the secret inside the string, the rest intact */
  snprintf(in, sizeof in, "{\"command\":\"curl -H \\\"Authorization: Bearer %s\\\" https://x\"}",
           fake("", ALNUM, 40));
  out = red(r, in, NULL);
  json_value_is(out, "command",
                "curl -H \"Authorization: Bearer <redacted:bearer-token>\" https://x");
  free(out);
  /* GCP service-account JSON: the private key */
  snprintf(in, sizeof in,
           "{\"type\":\"service_account\",\"private_key\":\"-----BEGIN PRIVATE KEY-----\\n%s\\n"
           "-----END PRIVATE KEY-----\\n\",\"client_email\":\"x@y.iam.gserviceaccount.com\"}",
           fake("MIIEv", B64, 200));
  out = red(r, in, NULL);
  json_value_is(out, "private_key", "<redacted:private-key>\n");
  json_value_is(out, "client_email", "x@y.iam.gserviceaccount.com");
  free(out);
  redact_free(r);
}

static void test_redacting_twice_changes_nothing(void) {
  redact_rules *r = builtin();
  char in[2048];
  snprintf(in, sizeof in, "A=%s\nurl=https://u:%s@h/\n{\"token\":\"%s\"} %s",
           fake("sk-proj-", B64URL, 80), fake("", ALNUM, 12), fake("", ALNUM, 30),
           fake("AKIA", B32, 16));
  long n1, n2;
  char *once = red(r, in, &n1), *twice = red(r, once, &n2);
  CHECK(n1 >= 4);
  CHECK_INT(n2, 0);
  CHECK_STR(twice, once);
  free(once);
  free(twice);
  redact_free(r);
}

static void test_a_secret_running_into_a_cut_is_redacted_whole(void) {
  redact_rules *r = builtin();
  char in[4096];
  char *out = NULL;
  size_t len;
  /* the text is the head of a longer value: its last secret's end is not seen */
  snprintf(in, sizeof in, "ok\n%s", fake("eyJ", B64URL, 200));
  CHECK_INT(redact_text(r, in, strlen(in), true, &out, &len), 1);
  CHECK_STR(out, "ok\n<redacted:jwt>");
  free(out);
  snprintf(in, sizeof in, "ok\n-----BEGIN OPENSSH PRIVATE KEY-----\n%s", fake("b3Bl", B64, 300));
  CHECK_INT(redact_text(r, in, strlen(in), true, &out, &len), 1);
  CHECK_STR(out, "ok\n<redacted:private-key>");
  free(out);
  snprintf(in, sizeof in, "SECRET_KEY=\"%s", fake("", ALNUM, 20));
  CHECK_INT(redact_text(r, in, strlen(in), true, &out, &len), 1);
  CHECK_STR(out, "SECRET_KEY=\"<redacted:secret-assignment>");
  free(out);
  redact_free(r);
}

static void test_user_patterns_values_and_allow(void) {
  const char *patterns[] = {"ACME-[0-9]{6}", "(?i)internal-[a-z]+-id"};
  const char *kinds[] = {"acme-ticket", NULL};
  const char *values[] = {"hunter42-corp"};
  const char *allow[] = {"^sk-test-"};
  redact_config cfg = {.builtin = true,
                       .patterns = patterns,
                       .kinds = kinds,
                       .n_patterns = 2,
                       .values = values,
                       .n_values = 1,
                       .allow = allow,
                       .n_allow = 1};
  redact_rules *r = redact_new(&cfg);
  char *out = red(r, "ticket ACME-123456, INTERNAL-Blue-ID, pw hunter42-corp.", NULL);
  CHECK_STR(out, "ticket <redacted:acme-ticket>, <redacted:user-rule>, pw <redacted:user-value>.");
  free(out);
  char in[512];
  snprintf(in, sizeof in, "%s and %s", fake("sk-test-", ALNUM, 40), fake("sk-live-", ALNUM, 40));
  out = red(r, in, NULL);
  CHECK(strncmp(out, "sk-test-", 8) == 0); /* allowed */
  CHECK(strstr(out, "and <redacted:openai-api-key>") != NULL);
  free(out);
  redact_free(r);
  /* the built-ins off: only the user's rules */
  cfg.builtin = false;
  r = redact_new(&cfg);
  unchanged(r, fake("ghp_", ALNUM, 36));
  CHECK(redact_active(r));
  redact_free(r);
  redact_config none = {0};
  r = redact_new(&none);
  CHECK(!redact_active(r));
  redact_free(r);
}

static void test_bad_patterns_are_refused_with_a_position_not_their_text(void) {
  char why[128];
  struct {
    const char *pattern, *why;
  } bad[] = {
      {"ab(cd", "unbalanced ( at offset 2"},
      {"abc)", "unbalanced ) at offset 3"},
      {"*abc", "nothing to repeat at offset 0"},
      {"[a-", "unterminated [ at offset 0"},
      {"x*", "a pattern that can match empty text at offset 0"},
      {"a{2,1}", "a repetition {m,n} with n < m at offset 1"},
      {"(a{1000}){1000}", "more than 4000 instructions once repetitions are expanded at offset 0"},
      {"\\q", "unknown escape at offset 0"},
      {"(?=x)", "an unsupported (? group at offset 0"},
      {"", "an empty pattern at offset 0"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CHECK_INT(redact_pattern_check(bad[i].pattern, why, sizeof why), -1);
    CHECK_STR(why, bad[i].why);
  }
  const char *good[] = {"a|b",   "[A-Z]{3}-\\d+", "(?:ab)+c?",  "^key=\\S+$", "\\bword\\b",
                        "x{2,}", "[^\\s\"']{8,}", "(?i)secret", "a.b",        "\\x41\\.\\-"};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
    CHECK_INT(redact_pattern_check(good[i], why, sizeof why), 0);
}

static char *user(const char *pattern, const char *text) {
  const char *patterns[] = {pattern};
  redact_config cfg = {.patterns = patterns, .n_patterns = 1};
  redact_rules *r = redact_new(&cfg);
  char *out = red(r, text, NULL);
  redact_free(r);
  return out;
}

static void test_the_regex_subset_matches_what_it_documents(void) {
  char *o;
  CHECK_STR(o = user("a|bc", "xa bc b"), "x<redacted:user-rule> <redacted:user-rule> b");
  free(o);
  CHECK_STR(o = user("^id=\\d+$", "id=12\nid=3x\nid=456"),
            "<redacted:user-rule>\nid=3x\n<redacted:user-rule>");
  free(o);
  CHECK_STR(o = user("\\bcat\\b", "cat concat cat."),
            "<redacted:user-rule> concat <redacted:user-rule>.");
  free(o);
  CHECK_STR(o = user("[^ ]{3,4}", "ab abcde"), "ab <redacted:user-rule>"); /* matches merge */
  free(o);
  CHECK_STR(o = user("(?i)tok[e]n", "TOKEN tOkEn"), "<redacted:user-rule> <redacted:user-rule>");
  free(o);
  CHECK_STR(o = user("x.y", "x\ny xzy"), "x\ny <redacted:user-rule>");
  free(o);
}

static void test_hostile_patterns_and_text_take_linear_time(void) {
  /* patterns that make a backtracking matcher take exponential time */
  size_t n = 200000;
  char *text = malloc(n + 1);
  memset(text, 'a', n);
  text[n] = 0;
  const char *hostile[] = {"(a|aa)*b", "(a*)*b", "(a+)+$x", "(a|a)*c", "(.*a){20}z"};
  for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
    char *o = user(hostile[i], text);
    CHECK_STR(o, text); /* no match, and it returned */
    free(o);
  }
  text[n - 1] = 'b';
  char *o = user("(a|aa)*b", text);
  CHECK_STR(o, "<redacted:user-rule>");
  free(o);
  free(text);
}

/* ---- the attribute policy ---- */

static const span_attr *get(const span *s, const char *key) { return span_get(s, key); }

static void test_attrs_scan_every_string_of_a_span(void) {
  redact_rules *r = builtin();
  const char *names[] = {"team.secret"};
  char custom[200];
  snprintf(custom, sizeof custom, "deploy key %s", fake("ghp_", ALNUM, 36));
  const char *values[] = {custom};
  attrs_options opt = {.log_prompts = true,
                       .log_tool_details = true,
                       .log_tool_content = true,
                       .redact = r,
                       .attribute_names = names,
                       .attribute_values = values,
                       .n_attributes = 1};
  attrs a;
  attrs_init(&a, &opt);
  span *s = span_new("bash");
  char out[512], args[512];
  snprintf(out, sizeof out, "OPENAI_API_KEY=%s\nPORT=8080\n", fake("sk-proj-", B64URL, 100));
  attrs_set(&a, s, ATTR_TOOL_OUTPUT, out, strlen(out));
  snprintf(args, sizeof args, "{\"command\":\"echo %s\"}", fake("AKIA", B32, 16));
  attrs_set(&a, s, ATTR_TOOL_INPUT, args, strlen(args));
  attrs_set(&a, s, ATTR_TOOL_PARAMETERS, args, strlen(args));
  /* set behind the policy's back: a status and an event */
  char err[256];
  snprintf(err, sizeof err, "401: key %s refused", fake("gsk_", ALNUM, 52));
  span_set_status(s, SPAN_STATUS_ERROR, err);
  span_event *e = span_add_event(s, "exception", 1);
  span_event_set_string(e, "exception.message", err);
  attrs_str(&a, s, "metadata", "{\"title\":\"hf_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefgh\"}");
  attrs_finish(&a, s);
  CHECK(!a.out_of_memory);
  CHECK_STR(get(s, "output.value")->value.s,
            "OPENAI_API_KEY=<redacted:openai-api-key>\nPORT=8080\n");
  CHECK_STR(get(s, "input.value")->value.s, "{\"command\":\"echo <redacted:aws-access-key>\"}");
  CHECK_STR(get(s, "input.mime_type")->value.s, "application/json");
  CHECK_STR(get(s, "tool.parameters")->value.s, "{\"command\":\"echo <redacted:aws-access-key>\"}");
  CHECK_STR(s->status_message, "401: key <redacted:groq-api-key> refused");
  CHECK_STR(s->events[0].attrs.items[0].value.s, "401: key <redacted:groq-api-key> refused");
  CHECK_STR(get(s, "team.secret")->value.s, "deploy key <redacted:github-token>");
  CHECK_STR(get(s, "metadata")->value.s, "{\"title\":\"<redacted:huggingface-token>\"}");
  CHECK_INT(get(s, ATTRS_REDACTIONS)->value.i, 7);
  span_free(s);
  /* a value scanned by attrs_set and then set again behind the policy's back is scanned again */
  s = span_new("read");
  attrs_set(&a, s, ATTR_TOOL_OUTPUT, "hello", 5);
  char again[128];
  snprintf(again, sizeof again, "token %s", fake("ghp_", ALNUM, 36));
  span_set_string(s, "output.value", again);
  attrs_finish(&a, s);
  CHECK_STR(get(s, "output.value")->value.s, "token <redacted:github-token>");
  span_free(s);
  /* nothing found: no count attribute */
  opt.n_attributes = 0;
  s = span_new("read");
  attrs_set(&a, s, ATTR_TOOL_OUTPUT, "hello", 5);
  attrs_finish(&a, s);
  CHECK(get(s, ATTRS_REDACTIONS) == NULL);
  span_free(s);
  redact_free(r);
}

static void test_attrs_a_secret_across_the_cut_leaves_no_prefix(void) {
  redact_rules *r = builtin();
  attrs_options opt = {.log_tool_content = true, .max_attr_bytes = 1024, .redact = r};
  attrs a;
  attrs_init(&a, &opt);
  size_t big = 5 * 1000 * 1000;
  char *text = malloc(big + 1);
  memset(text, 'x', big);
  for (size_t i = 80; i < big; i += 81) text[i] = '\n';
  text[big] = 0;
  /* a key whose first bytes sit under the cut (1024 bytes minus the marker) */
  const char *key = fake("sk-ant-api03-", B64URL, 95);
  for (size_t at = 960; at <= 1010; at += 10) {
    text[at - 1] = ' ';
    memcpy(text + at, key, strlen(key));
    span *s = span_new("read");
    attrs_set(&a, s, ATTR_TOOL_OUTPUT, text, big);
    attrs_finish(&a, s);
    const char *v = get(s, "output.value")->value.s;
    CHECK(strlen(v) <= 1024);
    CHECK(strstr(v, "sk-ant") == NULL);
    CHECK(strstr(v, "…[truncated: ") != NULL);
    CHECK(strstr(v, "of 5000000 bytes shown]") != NULL);
    span_free(s);
    memset(text + at - 1, 'x', strlen(key) + 1);
  }
  free(text);
  redact_free(r);
}

static void test_kinds_are_kebab_case(void) {
  size_t n = 0;
  for (const char *const *k = redact_kinds(); *k; k++, n++) CHECK(redact_kind_ok(*k));
  CHECK(n >= 25);
  CHECK(!redact_kind_ok("Bad_Kind"));
  CHECK(!redact_kind_ok(""));
  CHECK(!redact_kind_ok("-x"));
}

int main(void) {
  RUN(test_every_builtin_kind_is_found_by_its_format);
  RUN(test_secrets_found_by_where_they_sit);
  RUN(test_placeholders_references_and_prose_are_left_alone);
  RUN(test_json_stays_json_whatever_the_escapes);
  RUN(test_redacting_twice_changes_nothing);
  RUN(test_a_secret_running_into_a_cut_is_redacted_whole);
  RUN(test_user_patterns_values_and_allow);
  RUN(test_bad_patterns_are_refused_with_a_position_not_their_text);
  RUN(test_the_regex_subset_matches_what_it_documents);
  RUN(test_hostile_patterns_and_text_take_linear_time);
  RUN(test_attrs_scan_every_string_of_a_span);
  RUN(test_attrs_a_secret_across_the_cut_leaves_no_prefix);
  RUN(test_kinds_are_kebab_case);
  return check_done();
}
