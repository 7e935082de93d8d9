/* redact — see redact.h.
 *
 * A text is scanned as one segment, or, when it is JSON, string by string (each string decoded,
 * with its member key). Each segment goes through one pipeline:
 *   1. hits: the built-in scanners (scan_builtin: one pass, each detector started by the byte
 *      that can open its secret), the user patterns (the Pike VM below) and the literal values;
 *   2. hits that overlap a marker already in the text, or that an allow pattern matches, go;
 *   3. the rest are sorted and merged (overlapping or touching hits become one marker, named
 *      after the most specific kind), and widened to whole UTF-8 characters;
 *   4. the markers are written over them (for JSON, over the whole escape sequences the decoded
 *      bytes came from).
 * Nothing here logs or keeps what it saw. */
#include "redact.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

/* ------------------------------------------------------------------------------------------ */
/* Kinds                                                                                       */

typedef enum {
  K_PRIVATE_KEY,
  K_AWS_ACCESS_KEY,
  K_AWS_SECRET_KEY,
  K_GITHUB,
  K_GITLAB,
  K_SLACK,
  K_SLACK_WEBHOOK,
  K_STRIPE,
  K_OPENAI,
  K_ANTHROPIC,
  K_OPENROUTER,
  K_GOOGLE,
  K_GROQ,
  K_MISTRAL,
  K_HUGGINGFACE,
  K_ARIZE,
  K_AZURE_KEY,
  K_AZURE_CLIENT_SECRET,
  K_NPM,
  K_PYPI,
  K_SENDGRID,
  K_DIGITALOCEAN,
  K_JWT,
  K_PASSWORD_URL,
  K_BEARER,
  K_BASIC,
  K_PASSWORD_ARG,
  K_ASSIGNMENT,
  K_COUNT
} kind;

static const char *const kind_names[K_COUNT + 1] = {
    [K_PRIVATE_KEY] = "private-key",
    [K_AWS_ACCESS_KEY] = "aws-access-key",
    [K_AWS_SECRET_KEY] = "aws-secret-access-key",
    [K_GITHUB] = "github-token",
    [K_GITLAB] = "gitlab-token",
    [K_SLACK] = "slack-token",
    [K_SLACK_WEBHOOK] = "slack-webhook",
    [K_STRIPE] = "stripe-key",
    [K_OPENAI] = "openai-api-key",
    [K_ANTHROPIC] = "anthropic-api-key",
    [K_OPENROUTER] = "openrouter-api-key",
    [K_GOOGLE] = "google-api-key",
    [K_GROQ] = "groq-api-key",
    [K_MISTRAL] = "mistral-api-key",
    [K_HUGGINGFACE] = "huggingface-token",
    [K_ARIZE] = "arize-api-key",
    [K_AZURE_KEY] = "azure-key",
    [K_AZURE_CLIENT_SECRET] = "azure-client-secret",
    [K_NPM] = "npm-token",
    [K_PYPI] = "pypi-token",
    [K_SENDGRID] = "sendgrid-api-key",
    [K_DIGITALOCEAN] = "digitalocean-token",
    [K_JWT] = "jwt",
    [K_PASSWORD_URL] = "password-in-url",
    [K_BEARER] = "bearer-token",
    [K_BASIC] = "basic-auth",
    [K_PASSWORD_ARG] = "password-argument",
    [K_ASSIGNMENT] = "secret-assignment",
    [K_COUNT] = NULL,
};

/* When hits merge, the marker names the most specific kind: a token recognised by its format
 * (3) over a value recognised by where it sits (2: a URL's password, an Authorization value, a
 * key named like a cloud secret) over any value of a secret-named key (1). */
enum { RANK_ASSIGNMENT = 1, RANK_CONTEXT = 2, RANK_FORMAT = 3 };

static int kind_rank(kind k) {
  switch (k) {
  case K_ASSIGNMENT: return RANK_ASSIGNMENT;
  case K_PASSWORD_URL:
  case K_BEARER:
  case K_BASIC:
  case K_PASSWORD_ARG:
  case K_AWS_SECRET_KEY:
  case K_AZURE_KEY: return RANK_CONTEXT;
  default: return RANK_FORMAT;
  }
}

const char *const *redact_kinds(void) { return kind_names; }

#define USER_RULE "user-rule"
#define USER_VALUE "user-value"
#define MARKER_OPEN "<redacted:"
#define MAX_KIND 40

bool redact_kind_ok(const char *kind) {
  size_t n = kind ? strlen(kind) : 0;
  if (n == 0 || n > MAX_KIND || kind[0] < 'a' || kind[0] > 'z') return false;
  for (size_t i = 0; i < n; i++)
    if (!((kind[i] >= 'a' && kind[i] <= 'z') || (kind[i] >= '0' && kind[i] <= '9') ||
          kind[i] == '-'))
      return false;
  return true;
}

/* ------------------------------------------------------------------------------------------ */
/* Characters                                                                                  */

static inline bool is_lower(unsigned char c) { return c >= 'a' && c <= 'z'; }
static inline bool is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
static inline bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static inline bool is_alpha(unsigned char c) { return is_lower(c) || is_upper(c); }
static inline bool is_alnum(unsigned char c) { return is_alpha(c) || is_digit(c); }
static inline bool is_word(unsigned char c) { return is_alnum(c) || c == '_'; }
static inline bool is_hex(unsigned char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static inline bool is_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
static inline unsigned char to_lower(unsigned char c) { return is_upper(c) ? c + 32 : c; }

/* Character sets of token bodies. */
enum {
  S_LOWER = 1 << 0,
  S_UPPER = 1 << 1,
  S_DIGIT = 1 << 2,
  S_US = 1 << 3,    /* _ */
  S_DASH = 1 << 4,  /* - */
  S_PLUS = 1 << 5,  /* + */
  S_SLASH = 1 << 6, /* / */
  S_EQ = 1 << 7,    /* = */
  S_DOT = 1 << 8,   /* . */
  S_TILDE = 1 << 9, /* ~ */
  S_B32 = 1 << 10,  /* A-Z 2-7 */
  S_HEX = 1 << 11,  /* 0-9 a-f A-F */
};
#define S_ALPHA (S_LOWER | S_UPPER)
#define S_ALNUM (S_LOWER | S_UPPER | S_DIGIT)
#define S_B64URL (S_ALNUM | S_US | S_DASH)
#define S_TOKEN (S_B64URL | S_PLUS | S_SLASH | S_EQ | S_DOT | S_TILDE)

static inline bool in_set(unsigned char c, unsigned set) {
  if (is_lower(c)) return (set & (S_LOWER | ((c <= 'f') ? S_HEX : 0))) != 0;
  if (is_upper(c)) return (set & (S_UPPER | S_B32 | ((c <= 'F') ? S_HEX : 0))) != 0;
  if (is_digit(c)) return (set & (S_DIGIT | S_HEX | ((c >= '2' && c <= '7') ? S_B32 : 0))) != 0;
  switch (c) {
  case '_': return set & S_US;
  case '-': return set & S_DASH;
  case '+': return set & S_PLUS;
  case '/': return set & S_SLASH;
  case '=': return set & S_EQ;
  case '.': return set & S_DOT;
  case '~': return set & S_TILDE;
  default: return false;
  }
}

/* How many bytes from i are in set (at most cap). */
static size_t run(const char *s, size_t n, size_t i, unsigned set, size_t cap) {
  size_t j = i;
  while (j < n && j - i < cap && in_set((unsigned char)s[j], set)) j++;
  return j - i;
}

/* The first k-byte needle in hay[0..n), or NULL (memmem is not in standard C: the core also
 * builds for Windows). */
static const char *find(const char *hay, size_t n, const char *needle, size_t k) {
  if (k == 0) return hay;
  for (const char *p = hay, *end = hay + n; (size_t)(end - p) >= k;) {
    p = memchr(p, needle[0], (size_t)(end - p) - k + 1);
    if (!p) return NULL;
    if (memcmp(p, needle, k) == 0) return p;
    p++;
  }
  return NULL;
}

/* Whether s[i..) starts with the ASCII word w, in any case. */
static bool starts_ci(const char *s, size_t n, size_t i, const char *w) {
  size_t k = strlen(w);
  if (n - i < k) return false;
  for (size_t j = 0; j < k; j++)
    if (to_lower((unsigned char)s[i + j]) != (unsigned char)w[j]) return false;
  return true;
}

static bool starts(const char *s, size_t n, size_t i, const char *w) {
  size_t k = strlen(w);
  return n - i >= k && memcmp(s + i, w, k) == 0;
}

static bool contains_ci(const char *s, size_t n, const char *w) {
  size_t k = strlen(w);
  for (size_t i = 0; i + k <= n; i++)
    if (starts_ci(s, n, i, w)) return true;
  return false;
}

/* Whether a token may start at i: the byte before it is not a word character, or is the letter
 * of an escape sequence of JSON text ("\n", "\u003d") read as raw text. */
static bool left_boundary(const char *s, size_t i) {
  if (i == 0) return true;
  unsigned char p = (unsigned char)s[i - 1];
  if (!is_word(p)) return true;
  if (i >= 2 && s[i - 2] == '\\' && (p == 'n' || p == 't' || p == 'r' || p == 'b' || p == 'f'))
    return true;
  if (i >= 6 && s[i - 6] == '\\' && s[i - 5] == 'u' && is_hex((unsigned char)s[i - 4]) &&
      is_hex((unsigned char)s[i - 3]) && is_hex((unsigned char)s[i - 2]) && is_hex(p))
    return true;
  return false;
}

/* log2 without libm's newer symbol versions: x > 0. */
static double lg2(double x) {
  int e = 0;
  while (x >= 2.0) x /= 2.0, e++;
  while (x < 1.0) x *= 2.0, e--;
  double z = (x - 1.0) / (x + 1.0), z2 = z * z, term = z, sum = 0.0;
  for (int k = 1; k < 24; k += 2) {
    sum += term / k;
    term *= z2;
  }
  return e + 2.0 * sum / 0.69314718055994530942;
}

/* Shannon entropy of s[0..n) in bits per byte. */
static double entropy(const char *s, size_t n) {
  if (n == 0) return 0.0;
  unsigned counts[256] = {0};
  for (size_t i = 0; i < n; i++) counts[(unsigned char)s[i]]++;
  double h = 0.0;
  for (int c = 0; c < 256; c++)
    if (counts[c]) h -= (double)counts[c] / (double)n * lg2((double)counts[c] / (double)n);
  return h;
}

typedef struct {
  bool lower, upper, digit, other;
} shape;

static shape shape_of(const char *s, size_t n) {
  shape sh = {0};
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    sh.lower |= is_lower(c), sh.upper |= is_upper(c), sh.digit |= is_digit(c);
    sh.other |= !is_alnum(c);
  }
  return sh;
}

static int alnum_classes(shape sh) { return sh.lower + sh.upper + sh.digit; }

/* A token body that looks generated rather than typed: not a run of one character, not a
 * placeholder ("xxxx", "0000"), entropy to match its length. */
static bool looks_random(const char *s, size_t n) {
  if (n < 8) return false;
  double h = entropy(s, n);
  return n >= 16 ? h >= 3.0 : h >= 2.5;
}

/* ------------------------------------------------------------------------------------------ */
/* Hits                                                                                        */

typedef struct {
  size_t start, end;
  const char *kind;
  int rank;
} hit;

typedef struct {
  hit *items;
  size_t len, cap;
  bool oom;
} hits;

static void hits_add(hits *h, size_t start, size_t end, const char *kind, int rank) {
  if (end <= start || h->oom) return;
  if (h->len == h->cap) {
    size_t cap = h->cap ? h->cap * 2 : 16;
    hit *items = realloc(h->items, cap * sizeof *items);
    if (!items) {
      h->oom = true;
      return;
    }
    h->items = items, h->cap = cap;
  }
  h->items[h->len++] = (hit){start, end, kind, rank};
}

/* ------------------------------------------------------------------------------------------ */
/* The regex subset of user rules (redact.h): parsed into a tree, compiled into a Thompson NFA,
 * run as a Pike VM over every start position in one pass. Threads are kept per instruction with
 * the earliest start that reached it (two threads at one instruction and position have the
 * same future, and the earlier one's matches cover the later one's), so each byte costs at
 * most one visit of each instruction: O(text x program), whatever the input. */

#define RE_MAX_PATTERN 1000
#define RE_MAX_PROG 4000
#define RE_MAX_DEPTH 50
#define RE_MAX_REPEAT 1000
#define RE_INF (-1)

enum { RN_EMPTY, RN_SET, RN_CAT, RN_ALT, RN_REP, RN_BOL, RN_EOL, RN_WORDB, RN_NWORDB };

typedef struct {
  uint8_t t;
  int child, next; /* CAT/ALT/REP: first child; siblings through next */
  int min, max;    /* REP */
  int set;         /* SET */
} rnode;

typedef uint8_t byteset[32];

static inline void set_add(uint8_t *set, unsigned char c) {
  set[c >> 3] |= (uint8_t)(1u << (c & 7));
}
static inline bool set_has(const uint8_t *set, unsigned char c) {
  return (set[c >> 3] >> (c & 7)) & 1;
}

typedef struct {
  const char *p;
  size_t len, pos;
  rnode *nodes;
  size_t n_nodes, cap_nodes;
  byteset *sets;
  size_t n_sets, cap_sets;
  bool icase;
  int depth;
  char *why;
  size_t why_size;
  bool failed, oom;
} rparser;

static int re_fail(rparser *ps, const char *what, size_t at) {
  if (!ps->failed && ps->why && ps->why_size)
    snprintf(ps->why, ps->why_size, "%s at offset %zu", what, at);
  ps->failed = true;
  return -1;
}

static int new_node(rparser *ps, uint8_t t) {
  if (ps->n_nodes == ps->cap_nodes) {
    size_t cap = ps->cap_nodes ? ps->cap_nodes * 2 : 32;
    rnode *nodes = realloc(ps->nodes, cap * sizeof *nodes);
    if (!nodes) {
      ps->oom = ps->failed = true;
      return -1;
    }
    ps->nodes = nodes, ps->cap_nodes = cap;
  }
  ps->nodes[ps->n_nodes] = (rnode){.t = t, .child = -1, .next = -1, .set = -1};
  return (int)ps->n_nodes++;
}

static int new_set(rparser *ps) {
  if (ps->n_sets == ps->cap_sets) {
    size_t cap = ps->cap_sets ? ps->cap_sets * 2 : 16;
    byteset *sets = realloc(ps->sets, cap * sizeof *sets);
    if (!sets) {
      ps->oom = ps->failed = true;
      return -1;
    }
    ps->sets = sets, ps->cap_sets = cap;
  }
  memset(ps->sets[ps->n_sets], 0, sizeof(byteset));
  return (int)ps->n_sets++;
}

/* A SET node for set index k. */
static int set_node(rparser *ps, int k) {
  if (k < 0) return -1;
  int n = new_node(ps, RN_SET);
  if (n >= 0) ps->nodes[n].set = k;
  return n;
}

static void add_class(uint8_t *set, char cls) {
  for (int c = 0; c < 256; c++) {
    unsigned char u = (unsigned char)c;
    bool in = cls == 'd' ? is_digit(u) : cls == 'w' ? is_word(u) : is_space(u);
    if (in) set_add(set, u);
  }
}

static void add_negated_class(uint8_t *set, char cls) {
  byteset tmp = {0};
  add_class(tmp, cls);
  for (int i = 0; i < 32; i++) set[i] |= (uint8_t)~tmp[i];
}

static void fold_case(uint8_t *set) {
  for (int c = 'a'; c <= 'z'; c++) {
    if (set_has(set, (unsigned char)c)) set_add(set, (unsigned char)(c - 32));
    if (set_has(set, (unsigned char)(c - 32))) set_add(set, (unsigned char)c);
  }
}

/* A single-byte escape after '\' (n t r f v xHH or punctuation): the byte, or -1. */
static int escape_byte(rparser *ps) {
  size_t at = ps->pos - 1;
  if (ps->pos >= ps->len) return re_fail(ps, "\\ at the end", at);
  unsigned char e = (unsigned char)ps->p[ps->pos++];
  switch (e) {
  case 'n': return '\n';
  case 't': return '\t';
  case 'r': return '\r';
  case 'f': return '\f';
  case 'v': return '\v';
  case 'x': {
    if (ps->pos + 2 > ps->len || !is_hex((unsigned char)ps->p[ps->pos]) ||
        !is_hex((unsigned char)ps->p[ps->pos + 1]))
      return re_fail(ps, "\\x needs two hex digits", at);
    char hex[3] = {ps->p[ps->pos], ps->p[ps->pos + 1], 0};
    ps->pos += 2;
    return (int)strtol(hex, NULL, 16);
  }
  default:
    if (e < 0x80 && !is_alnum(e) && e > ' ') return e;
    return re_fail(ps, "unknown escape", at);
  }
}

/* [...] starting at ps->pos (on '['). */
static int parse_class(rparser *ps) {
  size_t open = ps->pos++;
  bool neg = ps->pos < ps->len && ps->p[ps->pos] == '^';
  if (neg) ps->pos++;
  int k = new_set(ps);
  if (k < 0) return -1;
  bool first = true;
  for (;;) {
    if (ps->pos >= ps->len) return re_fail(ps, "unterminated [", open);
    unsigned char c = (unsigned char)ps->p[ps->pos];
    if (c == ']' && !first) {
      ps->pos++;
      break;
    }
    first = false;
    int lo;
    if (c == '\\') {
      ps->pos++;
      char e = ps->pos < ps->len ? ps->p[ps->pos] : 0;
      if (e == 'd' || e == 'w' || e == 's' || e == 'D' || e == 'W' || e == 'S') {
        ps->pos++;
        if (e >= 'a') add_class(ps->sets[k], e);
        else add_negated_class(ps->sets[k], (char)(e + 32));
        continue;
      }
      if ((lo = escape_byte(ps)) < 0) return -1;
    } else {
      if (c >= 0x80) return re_fail(ps, "a non-ASCII character in [ ]", ps->pos);
      lo = c;
      ps->pos++;
    }
    int hi = lo;
    if (ps->pos + 1 < ps->len && ps->p[ps->pos] == '-' && ps->p[ps->pos + 1] != ']') {
      size_t dash = ps->pos++;
      unsigned char h = (unsigned char)ps->p[ps->pos];
      if (h == '\\') {
        ps->pos++;
        if ((hi = escape_byte(ps)) < 0) return -1;
      } else {
        if (h >= 0x80) return re_fail(ps, "a non-ASCII character in [ ]", ps->pos);
        hi = h;
        ps->pos++;
      }
      if (hi < lo) return re_fail(ps, "a range whose end is before its start", dash);
    }
    for (int b = lo; b <= hi; b++) set_add(ps->sets[k], (unsigned char)b);
  }
  if (ps->icase) fold_case(ps->sets[k]);
  if (neg)
    for (int i = 0; i < 32; i++) ps->sets[k][i] = (uint8_t)~ps->sets[k][i];
  return set_node(ps, k);
}

static int parse_alt(rparser *ps);

static int parse_atom(rparser *ps) {
  size_t at = ps->pos;
  unsigned char c = (unsigned char)ps->p[ps->pos];
  switch (c) {
  case '(': {
    ps->pos++;
    if (ps->pos < ps->len && ps->p[ps->pos] == '?') {
      if (ps->pos + 1 < ps->len && ps->p[ps->pos + 1] == ':') ps->pos += 2;
      else return re_fail(ps, "an unsupported (? group", at);
    }
    int inner = parse_alt(ps);
    if (inner < 0) return -1;
    if (ps->pos >= ps->len || ps->p[ps->pos] != ')') return re_fail(ps, "unbalanced (", at);
    ps->pos++;
    return inner;
  }
  case ')': return re_fail(ps, "unbalanced )", at);
  case '*':
  case '+':
  case '?': return re_fail(ps, "nothing to repeat", at);
  case '[': return parse_class(ps);
  case '.': {
    ps->pos++;
    int k = new_set(ps);
    if (k < 0) return -1;
    memset(ps->sets[k], 0xff, sizeof(byteset));
    ps->sets[k]['\n' >> 3] &= (uint8_t) ~(1u << ('\n' & 7));
    return set_node(ps, k);
  }
  case '^': ps->pos++; return new_node(ps, RN_BOL);
  case '$': ps->pos++; return new_node(ps, RN_EOL);
  case '\\': {
    ps->pos++;
    char e = ps->pos < ps->len ? ps->p[ps->pos] : 0;
    if (e == 'b' || e == 'B') {
      ps->pos++;
      return new_node(ps, e == 'b' ? RN_WORDB : RN_NWORDB);
    }
    int k = new_set(ps);
    if (k < 0) return -1;
    if (e == 'd' || e == 'w' || e == 's' || e == 'D' || e == 'W' || e == 'S') {
      ps->pos++;
      if (e >= 'a') add_class(ps->sets[k], e);
      else add_negated_class(ps->sets[k], (char)(e + 32));
      return set_node(ps, k);
    }
    int b = escape_byte(ps);
    if (b < 0) return -1;
    set_add(ps->sets[k], (unsigned char)b);
    if (ps->icase) fold_case(ps->sets[k]);
    return set_node(ps, k);
  }
  default: {
    ps->pos++;
    int k = new_set(ps);
    if (k < 0) return -1;
    set_add(ps->sets[k], c);
    if (ps->icase) fold_case(ps->sets[k]);
    return set_node(ps, k);
  }
  }
}

/* {m}, {m,} or {m,n} at ps->pos (on '{'): true and the counts when it is one (consumed); false
 * when the brace is a literal (nothing consumed). */
static bool parse_counts(rparser *ps, int *min, int *max) {
  size_t i = ps->pos + 1;
  long m = -1, n;
  for (; i < ps->len && is_digit((unsigned char)ps->p[i]) && m < 100000; i++)
    m = (m < 0 ? 0 : m * 10) + (ps->p[i] - '0');
  if (m < 0 || i >= ps->len) return false;
  n = m;
  if (ps->p[i] == ',') {
    i++;
    n = RE_INF;
    if (i < ps->len && is_digit((unsigned char)ps->p[i])) {
      n = 0;
      for (; i < ps->len && is_digit((unsigned char)ps->p[i]) && n < 100000; i++)
        n = n * 10 + (ps->p[i] - '0');
    }
  }
  if (i >= ps->len || ps->p[i] != '}') return false;
  if (m > RE_MAX_REPEAT || n > RE_MAX_REPEAT) {
    re_fail(ps, "a repetition count over 1000", ps->pos);
    return false;
  }
  if (n != RE_INF && n < m) {
    re_fail(ps, "a repetition {m,n} with n < m", ps->pos);
    return false;
  }
  ps->pos = i + 1;
  *min = (int)m, *max = (int)n;
  return true;
}

static int parse_repeat(rparser *ps) {
  int atom = parse_atom(ps);
  while (atom >= 0 && ps->pos < ps->len) {
    size_t at = ps->pos;
    char c = ps->p[ps->pos];
    int min, max;
    if (c == '*') min = 0, max = RE_INF, ps->pos++;
    else if (c == '+') min = 1, max = RE_INF, ps->pos++;
    else if (c == '?') min = 0, max = 1, ps->pos++;
    else if (c == '{' && parse_counts(ps, &min, &max)) {
    } else if (ps->failed) return -1;
    else break;
    if (ps->pos < ps->len && ps->p[ps->pos] == '?') ps->pos++; /* lazy: the same here */
    uint8_t t = ps->nodes[atom].t;
    if (t == RN_BOL || t == RN_EOL || t == RN_WORDB || t == RN_NWORDB || t == RN_EMPTY)
      return re_fail(ps, "nothing to repeat", at);
    int rep = new_node(ps, RN_REP);
    if (rep < 0) return -1;
    ps->nodes[rep].child = atom, ps->nodes[rep].min = min, ps->nodes[rep].max = max;
    atom = rep;
  }
  return atom;
}

static int parse_cat(rparser *ps) {
  int cat = new_node(ps, RN_CAT), last = -1;
  if (cat < 0) return -1;
  while (ps->pos < ps->len && ps->p[ps->pos] != '|' && ps->p[ps->pos] != ')') {
    int item = parse_repeat(ps);
    if (item < 0) return -1;
    if (last < 0) ps->nodes[cat].child = item;
    else ps->nodes[last].next = item;
    last = item;
  }
  if (last < 0) ps->nodes[cat].t = RN_EMPTY;
  return cat;
}

static int parse_alt(rparser *ps) {
  if (++ps->depth > RE_MAX_DEPTH) return re_fail(ps, "groups nested too deep", ps->pos);
  int first = parse_cat(ps);
  if (first < 0) return -1;
  if (ps->pos >= ps->len || ps->p[ps->pos] != '|') {
    ps->depth--;
    return first;
  }
  int alt = new_node(ps, RN_ALT), last = first;
  if (alt < 0) return -1;
  ps->nodes[alt].child = first;
  while (ps->pos < ps->len && ps->p[ps->pos] == '|') {
    ps->pos++;
    int next = parse_cat(ps);
    if (next < 0) return -1;
    ps->nodes[last].next = next;
    last = next;
  }
  ps->depth--;
  return alt;
}

enum { OP_SET, OP_SPLIT, OP_JMP, OP_BOL, OP_EOL, OP_WORDB, OP_NWORDB, OP_MATCH };

typedef struct {
  uint8_t op;
  int x, y; /* SET: the set; SPLIT: both targets; JMP: the target */
} rinst;

typedef struct {
  rinst *prog;
  size_t n;
  byteset *sets;
  byteset first; /* bytes a match can start with */
} regex;

/* Instructions node compiles to, saturating past RE_MAX_PROG. */
static size_t node_size(const rparser *ps, int node) {
  const rnode *nd = &ps->nodes[node];
  size_t size = 0;
  switch (nd->t) {
  case RN_EMPTY: return 0;
  case RN_CAT:
  case RN_ALT: {
    size_t k = 0;
    for (int c = nd->child; c >= 0; c = ps->nodes[c].next, k++) {
      size += node_size(ps, c);
      if (size > RE_MAX_PROG) return RE_MAX_PROG + 1;
    }
    if (nd->t == RN_ALT) size += 2 * (k - 1);
    return size > RE_MAX_PROG ? RE_MAX_PROG + 1 : size;
  }
  case RN_REP: {
    size_t c = node_size(ps, nd->child);
    if (c > RE_MAX_PROG) return RE_MAX_PROG + 1;
    size = (size_t)nd->min * c;
    size += nd->max == RE_INF ? c + 2 : (size_t)(nd->max - nd->min) * (c + 1);
    return size > RE_MAX_PROG ? RE_MAX_PROG + 1 : size;
  }
  default: return 1;
  }
}

static void emit(const rparser *ps, regex *re, int node) {
  const rnode *nd = &ps->nodes[node];
  switch (nd->t) {
  case RN_EMPTY: return;
  case RN_SET: re->prog[re->n++] = (rinst){OP_SET, nd->set, 0}; return;
  case RN_BOL: re->prog[re->n++] = (rinst){OP_BOL, 0, 0}; return;
  case RN_EOL: re->prog[re->n++] = (rinst){OP_EOL, 0, 0}; return;
  case RN_WORDB: re->prog[re->n++] = (rinst){OP_WORDB, 0, 0}; return;
  case RN_NWORDB: re->prog[re->n++] = (rinst){OP_NWORDB, 0, 0}; return;
  case RN_CAT:
    for (int c = nd->child; c >= 0; c = ps->nodes[c].next) emit(ps, re, c);
    return;
  case RN_ALT: {
    /* SPLIT a, next; a; JMP end; next: SPLIT b, next2; b; JMP end; ... last; end:
     * the JMPs are chained through their x until the end is known */
    int jumps = -1;
    for (int c = nd->child; c >= 0; c = ps->nodes[c].next) {
      if (ps->nodes[c].next < 0) {
        emit(ps, re, c);
        break;
      }
      size_t split = re->n++;
      re->prog[split] = (rinst){OP_SPLIT, (int)split + 1, 0};
      emit(ps, re, c);
      size_t j = re->n++;
      re->prog[j] = (rinst){OP_JMP, jumps, 0};
      jumps = (int)j;
      re->prog[split].y = (int)re->n;
    }
    while (jumps >= 0) {
      int prev = re->prog[jumps].x;
      re->prog[jumps].x = (int)re->n;
      jumps = prev;
    }
    return;
  }
  case RN_REP: {
    for (int i = 0; i < nd->min; i++) emit(ps, re, nd->child);
    if (nd->max == RE_INF) {
      size_t loop = re->n++;
      re->prog[loop] = (rinst){OP_SPLIT, (int)loop + 1, 0};
      emit(ps, re, nd->child);
      re->prog[re->n++] = (rinst){OP_JMP, (int)loop, 0};
      re->prog[loop].y = (int)re->n;
      return;
    }
    int splits = -1; /* chained through y until the end is known */
    for (int i = nd->min; i < nd->max; i++) {
      size_t split = re->n++;
      re->prog[split] = (rinst){OP_SPLIT, (int)split + 1, splits};
      splits = (int)split;
      emit(ps, re, nd->child);
    }
    while (splits >= 0) {
      int prev = re->prog[splits].y;
      re->prog[splits].y = (int)re->n;
      splits = prev;
    }
    return;
  }
  }
}

/* The bytes a match can start with, and whether the program can match empty text. */
static bool first_bytes(regex *re) {
  bool empty = false;
  bool *seen = calloc(re->n, sizeof *seen);
  int *stack = malloc((2 * re->n + 2) * sizeof *stack);
  if (!seen || !stack) {
    free(seen);
    free(stack);
    memset(re->first, 0xff, sizeof re->first);
    return true; /* treated as refused by the caller */
  }
  size_t top = 0;
  stack[top++] = 0;
  while (top) {
    int pc = stack[--top];
    if (seen[pc]) continue;
    seen[pc] = true;
    const rinst *in = &re->prog[pc];
    switch (in->op) {
    case OP_SET:
      for (int i = 0; i < 32; i++) re->first[i] |= re->sets[in->x][i];
      break;
    case OP_SPLIT:
      stack[top++] = in->y;
      stack[top++] = in->x;
      break;
    case OP_JMP: stack[top++] = in->x; break;
    case OP_MATCH: empty = true; break;
    default: stack[top++] = pc + 1; break;
    }
  }
  free(seen);
  free(stack);
  return empty;
}

static void regex_free(regex *re) {
  free(re->prog);
  free(re->sets);
  memset(re, 0, sizeof *re);
}

/* Compiles pattern into re. 0, or -1 with why[] set (no pattern text in it). */
static int regex_compile(const char *pattern, regex *re, char *why, size_t why_size) {
  memset(re, 0, sizeof *re);
  size_t len = strlen(pattern);
  rparser ps = {.p = pattern, .len = len, .why = why, .why_size = why_size};
  int root = -1;
  if (len == 0) re_fail(&ps, "an empty pattern", 0);
  else if (len > RE_MAX_PATTERN) re_fail(&ps, "a pattern longer than 1000 bytes", RE_MAX_PATTERN);
  else {
    if (len >= 4 && memcmp(pattern, "(?i)", 4) == 0) ps.icase = true, ps.pos = 4;
    root = parse_alt(&ps);
    if (root >= 0 && ps.pos < ps.len) root = re_fail(&ps, "unbalanced )", ps.pos);
  }
  if (root >= 0) {
    size_t size = node_size(&ps, root);
    if (size > RE_MAX_PROG) {
      re_fail(&ps, "more than 4000 instructions once repetitions are expanded", 0);
    } else if (!(re->prog = malloc((size + 1) * sizeof *re->prog))) {
      ps.oom = ps.failed = true;
    } else {
      emit(&ps, re, root);
      re->prog[re->n++] = (rinst){OP_MATCH, 0, 0};
      re->sets = ps.sets;
      ps.sets = NULL;
      if (first_bytes(re)) re_fail(&ps, "a pattern that can match empty text", 0);
    }
  }
  if (ps.oom && why && why_size) snprintf(why, why_size, "out of memory");
  free(ps.nodes);
  free(ps.sets);
  if (ps.failed) {
    regex_free(re);
    return -1;
  }
  return 0;
}

/* Scratch of the VM, sized for the largest program of a rule set. */
typedef struct {
  int *cpcs, *npcs;
  size_t *cstart, *nstart; /* by instruction: the earliest start of its thread */
  uint32_t *mark;
  uint32_t gen;
  int *stack;
  size_t cap;
} vm;

static void vm_free(vm *m) {
  free(m->cpcs), free(m->npcs), free(m->cstart), free(m->nstart), free(m->mark), free(m->stack);
  memset(m, 0, sizeof *m);
}

static bool vm_init(vm *m, size_t cap) {
  memset(m, 0, sizeof *m);
  m->cap = cap;
  m->cpcs = malloc(cap * sizeof *m->cpcs);
  m->npcs = malloc(cap * sizeof *m->npcs);
  m->cstart = malloc(cap * sizeof *m->cstart);
  m->nstart = malloc(cap * sizeof *m->nstart);
  m->mark = calloc(cap, sizeof *m->mark);
  m->stack = malloc((2 * cap + 2) * sizeof *m->stack);
  if (m->cpcs && m->npcs && m->cstart && m->nstart && m->mark && m->stack) return true;
  vm_free(m);
  return false;
}

/* The disjoint intervals the matches of one run cover, kept sorted: each new match ends at or
 * after every earlier one, so it merges with the tail. */
typedef struct {
  size_t *start, *end;
  size_t len, cap;
  bool oom, stop; /* stop: the first match is enough (allow patterns) */
} spans;

static void spans_add(spans *sp, size_t start, size_t end) {
  while (sp->len && sp->end[sp->len - 1] >= start) {
    sp->len--;
    if (sp->start[sp->len] < start) start = sp->start[sp->len];
  }
  if (sp->len == sp->cap) {
    size_t cap = sp->cap ? sp->cap * 2 : 8;
    size_t *a = realloc(sp->start, cap * sizeof *a);
    if (a) sp->start = a;
    size_t *b = a ? realloc(sp->end, cap * sizeof *b) : NULL;
    if (b) sp->end = b;
    if (!a || !b) {
      sp->oom = true;
      return;
    }
    sp->cap = cap;
  }
  sp->start[sp->len] = start, sp->end[sp->len++] = end;
}

typedef struct {
  const regex *re;
  vm *m;
  const char *s;
  size_t n;
  spans *out;
} vmrun;

/* Adds the thread (pc, start) at position pos to the list being built, following the
 * instructions that consume nothing. */
static void add_thread(vmrun *v, int *pcs, size_t *len, size_t *starts, int pc0, size_t start,
                       size_t pos) {
  vm *m = v->m;
  size_t top = 0;
  m->stack[top++] = pc0;
  while (top) {
    int pc = m->stack[--top];
    if (m->mark[pc] == m->gen) continue;
    m->mark[pc] = m->gen;
    const rinst *in = &v->re->prog[pc];
    bool ok;
    switch (in->op) {
    case OP_JMP: m->stack[top++] = in->x; break;
    case OP_SPLIT:
      m->stack[top++] = in->y;
      m->stack[top++] = in->x;
      break;
    case OP_BOL:
      if (pos == 0 || v->s[pos - 1] == '\n') m->stack[top++] = pc + 1;
      break;
    case OP_EOL:
      if (pos == v->n || v->s[pos] == '\n') m->stack[top++] = pc + 1;
      break;
    case OP_WORDB:
    case OP_NWORDB:
      ok = (pos > 0 && is_word((unsigned char)v->s[pos - 1])) !=
           (pos < v->n && is_word((unsigned char)v->s[pos]));
      if (ok == (in->op == OP_WORDB)) m->stack[top++] = pc + 1;
      break;
    case OP_MATCH:
      if (pos > start) {
        spans_add(v->out, start, pos);
        if (v->out->stop) return;
      }
      break;
    default:
      pcs[(*len)++] = pc;
      starts[pc] = start;
      break;
    }
  }
}

/* Every part of s[0..n) a match of re covers, into out. */
static void re_run(const regex *re, vm *m, const char *s, size_t n, spans *out) {
  vmrun v = {re, m, s, n, out};
  size_t clen = 0, nlen;
  m->gen++;
  for (size_t i = 0; i < n; i++) {
    if (clen == 0) { /* nothing in flight: skip to a byte a match can start with */
      while (i < n && !set_has(re->first, (unsigned char)s[i])) i++;
      if (i >= n) break;
      m->gen++;
    }
    if (set_has(re->first, (unsigned char)s[i])) add_thread(&v, m->cpcs, &clen, m->cstart, 0, i, i);
    if (out->stop && out->len) return;
    m->gen++;
    nlen = 0;
    unsigned char c = (unsigned char)s[i];
    for (size_t k = 0; k < clen; k++) {
      int pc = m->cpcs[k];
      if (set_has(re->sets[re->prog[pc].x], c))
        add_thread(&v, m->npcs, &nlen, m->nstart, pc + 1, m->cstart[pc], i + 1);
      if (out->stop && out->len) return;
    }
    int *tp = m->cpcs;
    m->cpcs = m->npcs, m->npcs = tp;
    size_t *ts = m->cstart;
    m->cstart = m->nstart, m->nstart = ts;
    clen = nlen;
  }
}

int redact_pattern_check(const char *pattern, char *why, size_t why_size) {
  regex re;
  if (!pattern) {
    if (why && why_size) snprintf(why, why_size, "not a text");
    return -1;
  }
  if (regex_compile(pattern, &re, why, why_size) != 0) return -1;
  regex_free(&re);
  return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Rules                                                                                       */

struct redact_rules {
  bool builtin;
  regex *patterns;
  char **kinds;
  size_t n_patterns;
  char **values;
  size_t *value_lens;
  size_t n_values;
  regex *allow;
  size_t n_allow;
  size_t max_prog;
  /* The prefix rules (prefix_rules) by their first byte, in their order: those starting with
   * byte c are prefix_order[prefix_from[c] .. prefix_from[c] + prefix_count[c]). A word start
   * tries only those, not all of them. */
  uint8_t prefix_from[256], prefix_count[256], prefix_order[64];
};

static void prefix_index(redact_rules *r);

void redact_free(redact_rules *r) {
  if (!r) return;
  for (size_t i = 0; i < r->n_patterns; i++) {
    regex_free(&r->patterns[i]);
    free(r->kinds[i]);
  }
  for (size_t i = 0; i < r->n_values; i++) free(r->values[i]);
  for (size_t i = 0; i < r->n_allow; i++) regex_free(&r->allow[i]);
  free(r->patterns), free(r->kinds), free(r->values), free(r->value_lens), free(r->allow);
  free(r);
}

redact_rules *redact_new(const redact_config *cfg) {
  redact_rules *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->builtin = cfg->builtin;
  prefix_index(r);
  size_t np = cfg->n_patterns, nv = cfg->n_values, na = cfg->n_allow;
  r->patterns = calloc(np ? np : 1, sizeof *r->patterns);
  r->kinds = calloc(np ? np : 1, sizeof *r->kinds);
  r->values = calloc(nv ? nv : 1, sizeof *r->values);
  r->value_lens = calloc(nv ? nv : 1, sizeof *r->value_lens);
  r->allow = calloc(na ? na : 1, sizeof *r->allow);
  if (!r->patterns || !r->kinds || !r->values || !r->value_lens || !r->allow) goto oom;
  for (size_t i = 0; i < np; i++) {
    regex re;
    if (!cfg->patterns[i] || regex_compile(cfg->patterns[i], &re, NULL, 0) != 0) continue;
    const char *kind = cfg->kinds && redact_kind_ok(cfg->kinds[i]) ? cfg->kinds[i] : USER_RULE;
    char *k = strdup(kind);
    if (!k) {
      regex_free(&re);
      goto oom;
    }
    r->patterns[r->n_patterns] = re;
    r->kinds[r->n_patterns++] = k;
    if (re.n > r->max_prog) r->max_prog = re.n;
  }
  for (size_t i = 0; i < nv; i++) {
    const char *v = cfg->values[i];
    if (!v || strlen(v) < REDACT_MIN_VALUE) continue;
    if (!(r->values[r->n_values] = strdup(v))) goto oom;
    r->value_lens[r->n_values++] = strlen(v);
  }
  for (size_t i = 0; i < na; i++) {
    regex re;
    if (!cfg->allow[i] || regex_compile(cfg->allow[i], &re, NULL, 0) != 0) continue;
    r->allow[r->n_allow++] = re;
    if (re.n > r->max_prog) r->max_prog = re.n;
  }
  return r;
oom:
  redact_free(r);
  return NULL;
}

bool redact_active(const redact_rules *r) {
  return r && (r->builtin || r->n_patterns || r->n_values);
}

/* ------------------------------------------------------------------------------------------ */
/* The built-in detectors. Each looks at one position of a segment and adds the hits it finds;
 * it returns where the scan may go on (past what it redacted), or 0. */

typedef struct {
  const redact_rules *r;
  const char *s;
  size_t n;
  bool more;       /* the segment is the head of a longer value */
  const char *key; /* the JSON member key this string is the value of, or NULL */
  size_t key_len;
  hits *h;
} seg;

static size_t add(seg *g, size_t start, size_t end, kind k) {
  hits_add(g->h, start, end, kind_names[k], kind_rank(k));
  return end;
}

/* Whether a run that stops at j stops because the segment does (its end is not seen). */
static bool cut_at(const seg *g, size_t j) { return g->more && j >= g->n; }

/* ---- tokens recognised by their prefix ---- */

typedef struct {
  const char *prefix;
  uint8_t kind;
  uint16_t set;
  uint16_t min, max; /* body length */
} prefix_rule;

static const prefix_rule prefix_rules[] = {
    {"ghp_", K_GITHUB, S_ALNUM, 30, 255},
    {"gho_", K_GITHUB, S_ALNUM, 30, 255},
    {"ghu_", K_GITHUB, S_ALNUM, 30, 255},
    {"ghs_", K_GITHUB, S_ALNUM, 30, 255},
    {"ghr_", K_GITHUB, S_ALNUM, 30, 255},
    {"github_pat_", K_GITHUB, S_ALNUM | S_US, 40, 255},
    {"glpat-", K_GITLAB, S_B64URL | S_DOT, 20, 400},
    {"gldt-", K_GITLAB, S_B64URL | S_DOT, 20, 400},
    {"glrt-", K_GITLAB, S_B64URL | S_DOT, 20, 400},
    {"glptt-", K_GITLAB, S_B64URL | S_DOT, 20, 400},
    {"gloas-", K_GITLAB, S_B64URL | S_DOT, 20, 400},
    {"glcbt-", K_GITLAB, S_B64URL | S_DOT, 20, 400},
    {"glft-", K_GITLAB, S_B64URL | S_DOT, 20, 400},
    {"glimt-", K_GITLAB, S_B64URL | S_DOT, 20, 400},
    {"glagent-", K_GITLAB, S_B64URL | S_DOT, 20, 400},
    {"glffct-", K_GITLAB, S_B64URL | S_DOT, 20, 400},
    {"glsoat-", K_GITLAB, S_B64URL | S_DOT, 20, 400},
    {"xoxb-", K_SLACK, S_ALNUM | S_DASH, 20, 255},
    {"xoxp-", K_SLACK, S_ALNUM | S_DASH, 20, 255},
    {"xoxa-", K_SLACK, S_ALNUM | S_DASH, 20, 255},
    {"xoxr-", K_SLACK, S_ALNUM | S_DASH, 20, 255},
    {"xoxs-", K_SLACK, S_ALNUM | S_DASH, 20, 255},
    {"xoxe-", K_SLACK, S_ALNUM | S_DASH, 20, 255},
    {"xoxe.xoxp-", K_SLACK, S_ALNUM | S_DASH, 20, 255},
    {"xapp-", K_SLACK, S_ALNUM | S_DASH, 20, 255},
    {"sk_live_", K_STRIPE, S_ALNUM, 10, 255},
    {"sk_test_", K_STRIPE, S_ALNUM, 10, 255},
    {"sk_prod_", K_STRIPE, S_ALNUM, 10, 255},
    {"rk_live_", K_STRIPE, S_ALNUM, 10, 255},
    {"rk_test_", K_STRIPE, S_ALNUM, 10, 255},
    {"rk_prod_", K_STRIPE, S_ALNUM, 10, 255},
    {"whsec_", K_STRIPE, S_ALNUM, 24, 255},
    {"AIza", K_GOOGLE, S_B64URL, 30, 45},
    {"gsk_", K_GROQ, S_ALNUM, 40, 120},
    {"hf_", K_HUGGINGFACE, S_ALNUM, 30, 64},
    {"api_org_", K_HUGGINGFACE, S_ALNUM, 30, 64},
    {"npm_", K_NPM, S_ALNUM, 36, 40},
    {"pypi-AgEIcHlwaS5vcmc", K_PYPI, S_B64URL, 50, 1000},
    {"SG.", K_SENDGRID, S_B64URL | S_DOT, 60, 80},
    {"dop_v1_", K_DIGITALOCEAN, S_HEX, 64, 64},
    {"doo_v1_", K_DIGITALOCEAN, S_HEX, 64, 64},
    {"dor_v1_", K_DIGITALOCEAN, S_HEX, 64, 64},
    {"AKIA", K_AWS_ACCESS_KEY, S_B32, 16, 16},
    {"ASIA", K_AWS_ACCESS_KEY, S_B32, 16, 16},
    {"ABIA", K_AWS_ACCESS_KEY, S_B32, 16, 16},
    {"ACCA", K_AWS_ACCESS_KEY, S_B32, 16, 16},
};
#define N_PREFIX_RULES (sizeof prefix_rules / sizeof prefix_rules[0])
_Static_assert(N_PREFIX_RULES <= 64, "prefix_order holds 64 rules");

/* redact_rules' index of prefix_rules by first byte: a counting sort, stable. */
static void prefix_index(redact_rules *r) {
  memset(r->prefix_count, 0, sizeof r->prefix_count);
  for (size_t k = 0; k < N_PREFIX_RULES; k++)
    r->prefix_count[(unsigned char)prefix_rules[k].prefix[0]]++;
  size_t at = 0;
  for (size_t c = 0; c < 256; c++) r->prefix_from[c] = (uint8_t)at, at += r->prefix_count[c];
  uint8_t next[256];
  memcpy(next, r->prefix_from, sizeof next);
  for (size_t k = 0; k < N_PREFIX_RULES; k++)
    r->prefix_order[next[(unsigned char)prefix_rules[k].prefix[0]]++] = (uint8_t)k;
}

static size_t try_prefix(seg *g, size_t i, const prefix_rule *pr) {
  size_t p = strlen(pr->prefix);
  if (!starts(g->s, g->n, i, pr->prefix)) return 0;
  size_t b = i + p, len = run(g->s, g->n, b, pr->set, (size_t)pr->max + 1);
  size_t end = b + len;
  bool cut = cut_at(g, end);
  if (len < pr->min && !(cut && len >= 8)) return 0;
  if (len > pr->max) return 0;                                            /* not this format */
  if (end < g->n && is_alnum((unsigned char)g->s[end]) && !cut) return 0; /* runs on */
  if (!looks_random(g->s + b, len)) return 0;
  if (pr->kind == K_AWS_ACCESS_KEY && contains_ci(g->s + b, len, "example")) return 0;
  return add(g, i, end, (kind)pr->kind);
}

/* sk-...: OpenAI (sk-proj-, sk-svcacct-, sk-admin-, and older ones), Anthropic (sk-ant-),
 * OpenRouter (sk-or-). */
static size_t try_sk(seg *g, size_t i) {
  if (!starts(g->s, g->n, i, "sk-")) return 0;
  size_t b = i + 3, len = run(g->s, g->n, b, S_B64URL, 400), end = b + len;
  bool cut = cut_at(g, end);
  kind k = starts(g->s, g->n, b, "ant-")  ? K_ANTHROPIC
           : starts(g->s, g->n, b, "or-") ? K_OPENROUTER
                                          : K_OPENAI;
  size_t min = k == K_OPENAI ? 20 : 40;
  if (len < min && !(cut && len >= 16)) return 0;
  shape sh = shape_of(g->s + b, len);
  if (!sh.digit || !(sh.lower || sh.upper) || !looks_random(g->s + b, len)) return 0;
  return add(g, i, end, k);
}

static bool hex_run(const char *s, size_t n, size_t i, size_t k) {
  if (n - i < k) return false;
  for (size_t j = 0; j < k; j++)
    if (!is_hex((unsigned char)s[i + j])) return false;
  return true;
}

/* Arize: ak- + a UUID + - + a random tail. */
static size_t try_arize(seg *g, size_t i) {
  const char *s = g->s;
  size_t n = g->n, j = i + 3;
  if (!starts(s, n, i, "ak-")) return 0;
  static const size_t groups[] = {8, 4, 4, 4, 12};
  for (size_t k = 0; k < 5; k++) {
    if (!hex_run(s, n, j, groups[k])) return 0;
    j += groups[k];
    if (j >= n || s[j] != '-') return 0;
    j++;
  }
  size_t len = run(s, n, j, S_B64URL, 200);
  if (len < 16 && !(cut_at(g, j + len) && len > 0)) return 0;
  return add(g, i, j + len, K_ARIZE);
}

/* A JWT: eyJ header . payload . signature (base64url). */
static size_t try_jwt(seg *g, size_t i) {
  const char *s = g->s;
  size_t n = g->n;
  if (!starts(s, n, i, "eyJ")) return 0;
  size_t h = run(s, n, i, S_B64URL, 8192), j = i + h;
  if (h < 10) return 0;
  if (cut_at(g, j) && h >= 20) return add(g, i, j, K_JWT);
  if (j >= n || s[j] != '.') return 0;
  size_t p = run(s, n, j + 1, S_B64URL, 65536), k = j + 1 + p;
  if (cut_at(g, k) && p > 0) return add(g, i, k, K_JWT);
  if (p < 10 || k >= n || s[k] != '.') return 0;
  size_t sig = run(s, n, k + 1, S_B64URL | S_EQ, 8192);
  return add(g, i, k + 1 + sig, K_JWT);
}

/* A placeholder or a reference rather than a value: $VAR, ${VAR}, <token>, {{ x }}, %VAR%,
 * ****, xxxx, "your-key", "changeme"... */
static bool placeholder(const char *v, size_t n) {
  if (n == 0) return true;
  unsigned char c = (unsigned char)v[0];
  if (c == '$' || c == '%' || c == '{' || c == '<' || c == '[' || c == '(' || c == '*' ||
      c == '&' || c == '@')
    return true;
  static const char *const words[] = {
      "xxxx",      "****",      "....",     "your",        "example",    "placeh",  "changeme",
      "change_me", "change-me", "redacted", "dummy",       "sample",     "replace", "insert",
      "todo",      "<",         ">",        "process.env", "os.environ", "getenv",  "secrets.",
      "vault:",    "op://",     "env(",     "env[",        "env.",       "${",      "fake"};
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
    if (contains_ci(v, n, words[i])) return true;
  /* one character repeated */
  size_t same = 1;
  for (size_t i = 1; i < n; i++) same += v[i] == v[0];
  return same == n && n > 1;
}

/* Words that stand in for a password in docs and defaults. */
static bool common_word(const char *v, size_t n) {
  static const char *const words[] = {
      "true",     "false",      "null",       "none",         "nil",         "undefined",
      "required", "optional",   "string",     "number",       "boolean",     "bool",
      "str",      "int",        "secret",     "password",     "passwd",      "token",
      "key",      "test",       "testing",    "admin",        "root",        "guest",
      "default",  "empty",      "pass",       "postgres",     "mysql",       "user",
      "username", "demo",       "local",      "localhost",    "development", "dev",
      "prod",     "production", "staging",    "foo",          "bar",         "baz",
      "qwerty",   "letmein",    "123456",     "12345678",     "password123", "secret123",
      "hunter2",  "apikey",     "api_key",    "access_token", "auth",        "value",
      "env",      "any",        "object",     "unknown",      "void",        "never",
      "text",     "mypassword", "supersecret"};
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
    if (strlen(words[i]) == n && starts_ci(v, n, 0, words[i])) return true;
  return false;
}

/* A dotted name such as config.apiKey or self.token: a reference in code. */
static bool dotted_name(const char *v, size_t n) {
  bool dot = false, start = true;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)v[i];
    if (c == '.') {
      if (start) return false;
      dot = start = true;
      continue;
    }
    if (start ? !(is_alpha(c) || c == '_' || c == '$') : !(is_word(c) || c == '$')) return false;
    start = false;
  }
  return dot && !start;
}

/* A name written in code (camelCase, PascalCase, snake_case, SCREAMING_SNAKE): its letters
 * are mostly words of three or more (an all-caps run counts as a word only beside an
 * underscore), where a generated token's letters come in short runs. */
static bool identifier_like(const char *v, size_t n, size_t *digits_out) {
  size_t letters = 0, wordy = 0, digits = 0;
  bool snake = memchr(v, '_', n) != NULL;
  for (size_t i = 0; i < n;) {
    unsigned char c = (unsigned char)v[i];
    if (is_digit(c)) {
      digits++, i++;
      continue;
    }
    if (!is_alpha(c)) {
      if (c != '_' && c != '-' && c != '.') return false;
      i++;
      continue;
    }
    size_t j = i + 1;
    bool caps = false;
    if (is_upper(c) && j < n && is_upper((unsigned char)v[j])) {
      caps = true;
      while (j < n && is_upper((unsigned char)v[j])) j++;
      if (j < n && is_lower((unsigned char)v[j])) j--, caps = j - i > 1; /* "APIKey": API, Key */
    } else {
      while (j < n && is_lower((unsigned char)v[j])) j++;
    }
    size_t w = j - i;
    letters += w;
    if (w >= 3 && (!caps || snake)) wordy += w;
    i = j;
  }
  *digits_out = digits;
  return letters >= 4 && wordy * 5 >= letters * 4 && digits * 4 <= n;
}

/* Code rather than a value: a member access (a.b, this.#x, z?.y), an operator, a call. */
static bool code_like(const char *v, size_t n) {
  size_t i = 0;
  if (n > 1 && v[0] == '+') v++, n--; /* "..."+this.key+"..." */
  while (i < n && (is_word((unsigned char)v[i]) || v[i] == '$' || v[i] == '#')) i++;
  if (i > 0 && i < n && !is_digit((unsigned char)v[0])) {
    size_t j = v[i] == '.' ? i + 1 : v[i] == '?' && i + 1 < n && v[i + 1] == '.' ? i + 2 : 0;
    if (j && j < n && (is_alpha((unsigned char)v[j]) || v[j] == '_' || v[j] == '$' || v[j] == '#'))
      return true;
  }
  static const char *const ops[] = {"?.", "??", "||", "&&", "=>", "()", ")."};
  for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++)
    if (find(v, n, ops[k], 2)) return true;
  /* a ternary: a?b:c */
  for (size_t k = 1; k + 1 < n; k++)
    if (v[k] == '?' && is_word((unsigned char)v[k - 1]) && memchr(v + k + 1, ':', n - k - 1))
      return true;
  /* a path or a route: /a/b, /auth/:id */
  if ((v[0] == '/' && memchr(v + 1, '/', n - 1)) || find(v, n, "/:", 2)) return true;
  return false;
}

/* A character a secret value is not written with (it ends or frames one in text and code). */
static bool foreign_char(unsigned char c) {
  return is_space(c) || c == '"' || c == '\'' || c == '`' || c == ';' || c == ',' || c == '[' ||
         c == ']' || c == '{' || c == '}' || c == '<' || c == '>' || c == '\\';
}

/* Whether the value of a secret-named key is a secret: not a reference, placeholder, piece of
 * code or name, and random-looking (a password: anything but a common word). */
static bool value_secret(const char *v, size_t n, bool password, bool whole) {
  if (n == 0 || n > 4096 || placeholder(v, n) || common_word(v, n) || dotted_name(v, n) ||
      code_like(v, n))
    return false;
  /* in text, such a character ends a value or frames code; a whole JSON string (whole) is the
   * value, quotes and all (a password may hold anything, a token no blank) */
  for (size_t i = 0; i < n; i++)
    if (whole ? !password && is_space((unsigned char)v[i]) : foreign_char((unsigned char)v[i]))
      return false;
  shape sh = shape_of(v, n);
  size_t digits = 0;
  bool name = identifier_like(v, n, &digits);
  if (password) {
    if (n < 6) return false;
    if (!sh.upper && !sh.digit && !sh.other && n < 12) return false; /* a lowercase word */
    return !(name && digits == 0);
  }
  if (n < 12 || alnum_classes(sh) < 2 || name) return false;
  bool uuid = n == 36 && v[8] == '-' && v[13] == '-' && v[18] == '-' && v[23] == '-';
  if (uuid) return true;
  double h = entropy(v, n);
  return n >= 16 ? h >= 3.0 : h >= 2.8;
}

typedef enum { KEY_NO, KEY_SECRET, KEY_PASSWORD } key_class;

/* Whether a key (PASSWORD, api_key, clientSecret, "x-api-key", AWS_SECRET_ACCESS_KEY ...) names
 * a secret; *k is the kind its value gets. */
static key_class key_names_secret(const char *key, size_t len, kind *k) {
  /* every secret word ends the key: a cheap test first */
  static const char *const tails[] = {"key",   "token", "secret",   "password",   "passwd",
                                      "pwd",   "pass",  "phrase",   "credential", "credentials",
                                      "creds", "auth",  "signature"};
  bool tail = false;
  for (size_t t = 0; !tail && t < sizeof tails / sizeof tails[0]; t++) {
    size_t l = strlen(tails[t]);
    tail = len >= l && starts_ci(key, len, len - l, tails[t]);
  }
  *k = K_ASSIGNMENT;
  if (!tail) return KEY_NO;
  char words[6][32], all[96];
  size_t nw = 0, na = 0;
  size_t wl = 0;
  bool in_word = false;
  *k = K_ASSIGNMENT;
  if (len > 80) key += len - 80, len = 80;
  for (size_t i = 0; i <= len; i++) {
    unsigned char c = i < len ? (unsigned char)key[i] : 0;
    bool alnum = is_alnum(c);
    /* a new word: after a separator, at a lower->Upper step, or at the Upper of "APIKey" */
    bool camel = i > 0 && alnum && is_upper(c) &&
                 (is_lower((unsigned char)key[i - 1]) ||
                  (i + 1 < len && is_upper((unsigned char)key[i - 1]) &&
                   is_lower((unsigned char)key[i + 1])));
    if ((!alnum || camel) && in_word) {
      words[nw][wl < 31 ? wl : 31] = 0;
      nw++;
      in_word = false;
    }
    if (!alnum) continue;
    if (!in_word) { /* the last six words are kept */
      if (nw == 6) memmove(words[0], words[1], sizeof words[0] * 5), nw = 5;
      in_word = true, wl = 0;
    }
    if (wl < 31) words[nw][wl] = (char)to_lower(c);
    wl++;
    if (na < sizeof all - 1) all[na++] = (char)to_lower(c);
  }
  all[na] = 0;
  if (nw == 0) return KEY_NO;
  const char *last = words[nw - 1], *prev = nw > 1 ? words[nw - 2] : "";
#define IS(w, s) (strcmp((w), (s)) == 0)
  if (strstr(all, "secretaccesskey") || (strstr(all, "aws") && IS(last, "secret")))
    *k = K_AWS_SECRET_KEY;
  if (IS(all, "accountkey") || (na >= 15 && strcmp(all + na - 15, "sharedaccesskey") == 0))
    *k = K_AZURE_KEY;
  static const char *const password_words[] = {"password", "passwd", "pwd", "pass", "passphrase"};
  for (size_t i = 0; i < sizeof password_words / sizeof password_words[0]; i++)
    if (IS(last, password_words[i])) return KEY_PASSWORD;
  if (nw == 1) {
    static const char *const whole[] = {
        "token",        "secret",       "credential",      "credentials",   "creds",
        "auth",         "apikey",       "secretkey",       "accesskey",     "privatekey",
        "authtoken",    "accesstoken",  "refreshtoken",    "apitoken",      "apisecret",
        "clientsecret", "sessiontoken", "bearertoken",     "signingkey",    "encryptionkey",
        "masterkey",    "accountkey",   "sharedaccesskey", "webhooksecret", "authkey"};
    for (size_t i = 0; i < sizeof whole / sizeof whole[0]; i++)
      if (IS(last, whole[i])) return KEY_SECRET;
    static const char *const tails[] = {"password",   "passwd",    "secret",
                                        "apikey",     "secretkey", "accesskey",
                                        "privatekey", "authtoken", "accesstoken"};
    for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
      size_t t = strlen(tails[i]), l = strlen(last);
      if (l > t && strcmp(last + l - t, tails[i]) == 0) return i < 2 ? KEY_PASSWORD : KEY_SECRET;
    }
    return KEY_NO;
  }
  if (IS(last, "key")) {
    static const char *const not_secret[] = {
        "public",      "pub",         "primary", "foreign", "sort",   "partition", "cache",
        "idempotency", "hot",         "lookup",  "unique",  "row",    "hash",      "range",
        "sequence",    "schema",      "natural", "dedup",   "dedupe", "group",     "cursor",
        "message",     "translation", "label",   "item",    "list",   "node",      "entry",
        "map",         "dict",        "object",  "index",   "field",  "column",    "table",
        "redis",       "s3",          "file",    "bucket",  "react",  "i18n",      "state",
        "query",       "storage",     "local",   "session", "route",  "search",    "shortcut",
        "modifier",    "sign"};
    for (size_t i = 0; i < sizeof not_secret / sizeof not_secret[0]; i++)
      if (IS(prev, not_secret[i])) return KEY_NO;
    if (IS(prev, "storage") || IS(prev, "account")) *k = K_AZURE_KEY;
    return KEY_SECRET;
  }
  if (IS(last, "token")) {
    static const char *const not_secret[] = {
        "next",  "page",   "continuation", "sync",   "cancellation", "cancel",  "max",
        "lexer", "parser", "input",        "output", "total",        "prompt",  "completion",
        "start", "end",    "eos",          "bos",    "pad",          "unk",     "sep",
        "cls",   "mask",   "last",         "first",  "current",      "special", "stop"};
    for (size_t i = 0; i < sizeof not_secret / sizeof not_secret[0]; i++)
      if (IS(prev, not_secret[i])) return KEY_NO;
    return KEY_SECRET;
  }
  static const char *const secret_words[] = {
      "secret",    "credential", "credentials", "creds",     "auth",      "apikey",
      "secretkey", "accesskey",  "privatekey",  "signature", "authtoken", "accesstoken"};
  for (size_t i = 0; i < sizeof secret_words / sizeof secret_words[0]; i++)
    if (IS(last, secret_words[i])) return KEY_SECRET;
#undef IS
  return KEY_NO;
}

/* Whether a key ends in a letter a secret's name can end in (key, token, secret, password,
 * passwd, pwd, pass, passphrase, credential(s), creds, auth, signature): a cheap first test. */
static bool key_tail(unsigned char c) {
  c = to_lower(c);
  return c == 'y' || c == 'n' || c == 't' || c == 'd' || c == 's' || c == 'e' || c == 'l' ||
         c == 'h' || c == 'w';
}

static bool key_char(unsigned char c) { return is_word(c) || c == '-' || c == '.'; }

/* The value after an assignment operator at j: [*vs, *ve), quotes excluded. query: the key is
 * a URL's query parameter, whose value ends at '&'. */
static bool assigned_value(const seg *g, size_t j, bool query, size_t *vs, size_t *ve) {
  const char *s = g->s;
  size_t n = g->n;
  for (size_t k = 0; k < 8 && j < n && (s[j] == ' ' || s[j] == '\t'); k++) j++;
  if (j >= n) return false;
  char q = s[j];
  bool escaped_quote = q == '\\' && j + 1 < n && (s[j + 1] == '"' || s[j + 1] == '\'');
  if (escaped_quote) q = s[++j];
  if (q == '"' || q == '\'' || q == '`') {
    size_t a = j + 1, e = a;
    while (e < n && e - a <= 4096) {
      char c = s[e];
      if (c == '\n' || c == '\r') return false;
      if (escaped_quote && c == '\\' && e + 1 < n && s[e + 1] == q) break;
      if (!escaped_quote && c == q) break;
      if (c == '\\' && !escaped_quote) e++; /* an escaped character inside the value */
      e++;
    }
    if (e >= n && !g->more) return false;
    if (e > n) e = n;
    if (e - a > 4096) return false;
    *vs = a, *ve = e;
    return true;
  }
  size_t e = j;
  while (e < n && e - j <= 4096) {
    unsigned char c = (unsigned char)s[e];
    if (is_space(c) || c == '"' || c == '\'' || c == '`' || c == ',' || c == ';' ||
        (c == '&' && query) || c == '<' || c == '>' || c == '(' || c == ')' || c == '{' ||
        c == '}' || c == '[' || c == ']' || c == '|' || c == '\\')
      break;
    e++;
  }
  *vs = j, *ve = e;
  return e > j;
}

/* KEY=value, key: value, "key": "value", key => 'value', --key=value ... at the operator i. */
static size_t try_assignment(seg *g, size_t i) {
  const char *s = g->s;
  size_t n = g->n, op = 1;
  char c = s[i];
  if (c == '=') {
    if (i > 0 && (s[i - 1] == '=' || s[i - 1] == '!' || s[i - 1] == '<' || s[i - 1] == '>' ||
                  s[i - 1] == ':' || s[i - 1] == '+' || s[i - 1] == '?'))
      return 0;
    while (i + op < n && op < 3 && (s[i + op] == '=' || s[i + op] == '>')) op++;
  } else { /* ':' */
    if (i + 1 < n && s[i + 1] == ':') return 0;
    if (i > 0 && s[i - 1] == ':') return 0;
    if (i + 1 < n && s[i + 1] == '=') op = 2;
  }
  /* the key, backwards: blanks, a closing quote (maybe escaped) or ], then key characters */
  size_t j = i;
  for (size_t k = 0; k < 8 && j > 0 && (s[j - 1] == ' ' || s[j - 1] == '\t'); k++) j--;
  if (j > 0 && (s[j - 1] == ']' || s[j - 1] == '+' || s[j - 1] == '?')) j--;
  if (j > 0 && (s[j - 1] == '"' || s[j - 1] == '\'' || s[j - 1] == '`')) {
    j--;
    if (j > 0 && s[j - 1] == '\\') j--;
  }
  if (j == 0 || !key_tail((unsigned char)s[j - 1])) return 0;
  size_t ke = j;
  while (j > 0 && ke - j < 80 && key_char((unsigned char)s[j - 1])) j--;
  kind k;
  key_class kc = key_names_secret(s + j, ke - j, &k);
  if (kc == KEY_NO) return 0;
  size_t vs, ve;
  bool query = j > 0 && (s[j - 1] == '?' || s[j - 1] == '&');
  if (!assigned_value(g, i + op, query, &vs, &ve)) return 0;
  bool cut = cut_at(g, ve);
  if (!value_secret(s + vs, ve - vs, kc == KEY_PASSWORD, false) &&
      !(cut && ve - vs >= 8 && !placeholder(s + vs, ve - vs)))
    return 0;
  add(g, vs, ve, k);
  return vs; /* the format detectors still look inside: a JWT is named a jwt */
}

/* scheme://user:PASSWORD@host */
static size_t try_url_password(seg *g, size_t i) {
  const char *s = g->s;
  size_t n = g->n;
  if (!starts(s, n, i, "://") || i == 0 || !is_alnum((unsigned char)s[i - 1])) return 0;
  size_t j = i + 3, colon = 0, at = 0;
  for (size_t k = j; k < n && k - j < 512; k++) {
    unsigned char c = (unsigned char)s[k];
    if (c == '@') {
      at = k;
      break;
    }
    if (c == '/' || c == '?' || c == '#' || c == '"' || c == '\'' || c == '<' || c == '>' ||
        c == '\\' || c == '`' || is_space(c))
      break;
    if (c == ':' && !colon) colon = k;
  }
  if (!at || !colon || colon + 1 >= at) return 0;
  const char *pw = s + colon + 1;
  size_t len = at - colon - 1;
  if (placeholder(pw, len) || common_word(pw, len)) return 0;
  add(g, colon + 1, at, K_PASSWORD_URL);
  return colon + 1;
}

/* The credential at j: a run of token characters. */
static size_t credential(const seg *g, size_t j) { return run(g->s, g->n, j, S_TOKEN, 8192); }

static bool credential_plausible(const char *v, size_t n) {
  if (n < 12 || placeholder(v, n) || code_like(v, n)) return false;
  shape sh = shape_of(v, n);
  size_t digits;
  return alnum_classes(sh) >= 2 && !identifier_like(v, n, &digits) && looks_random(v, n);
}

/* Basic base64(user:password): the base64 decodes to printable text with a colon. */
static bool basic_credential(const char *v, size_t n) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  if (n < 8 || n > 4096) return false;
  unsigned acc = 0;
  int bits = 0;
  bool colon = false;
  size_t out = 0;
  for (size_t i = 0; i < n && v[i] != '='; i++) {
    const char *p = memchr(alphabet, v[i], 64);
    if (!p) return false;
    acc = (acc << 6) | (unsigned)(p - alphabet);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      unsigned char b = (unsigned char)(acc >> bits) & 0xff;
      if (b < 0x20 || b > 0x7e) return false;
      colon |= b == ':';
      out++;
    }
  }
  return colon && out >= 3;
}

/* Authorization: [scheme] credential, as a header, a key or a JSON member. */
static size_t try_authorization(seg *g, size_t i) {
  const char *s = g->s;
  size_t n = g->n;
  if (!starts_ci(s, n, i, "authorization")) return 0;
  size_t j = i + 13;
  for (size_t k = 0; k < 3 && j < n && (s[j] == '"' || s[j] == '\'' || s[j] == '\\'); k++) j++;
  while (j < n && (s[j] == ' ' || s[j] == '\t')) j++;
  if (j >= n || (s[j] != ':' && s[j] != '=')) return 0;
  j++;
  while (j < n && (s[j] == ' ' || s[j] == '\t')) j++;
  for (size_t k = 0; k < 2 && j < n && (s[j] == '"' || s[j] == '\'' || s[j] == '\\'); k++) j++;
  size_t w = run(s, n, j, S_ALPHA | S_DASH, 24);
  bool basic = false;
  if (w > 0 && j + w + 1 < n && s[j + w] == ' ' && in_set((unsigned char)s[j + w + 1], S_TOKEN)) {
    basic = w == 5 && starts_ci(s, n, j, "basic");
    j += w + 1;
  }
  size_t len = credential(g, j);
  if (basic ? !basic_credential(s + j, len) : !credential_plausible(s + j, len)) return 0;
  add(g, j, j + len, basic ? K_BASIC : K_BEARER);
  return j;
}

/* Bearer <token> and Basic <base64(user:password)> wherever they appear. */
static size_t try_scheme(seg *g, size_t i) {
  const char *s = g->s;
  size_t n = g->n;
  bool basic = starts_ci(s, n, i, "basic");
  if (!basic && !starts_ci(s, n, i, "bearer")) return 0;
  size_t j = i + (basic ? 5 : 6);
  if (j >= n || s[j] != ' ') return 0;
  while (j < n && s[j] == ' ') j++;
  size_t len = credential(g, j);
  if (basic ? !basic_credential(s + j, len) : !credential_plausible(s + j, len)) return 0;
  add(g, j, j + len, basic ? K_BASIC : K_BEARER);
  return j;
}

/* Mistral keys have no prefix: 32 letters and digits close after the word "mistral". */
static size_t try_mistral(seg *g, size_t i) {
  const char *s = g->s;
  size_t n = g->n;
  if (!starts_ci(s, n, i, "mistral")) return 0;
  for (size_t j = i + 7; j < n && j < i + 7 + 48; j++) {
    if (!is_alnum((unsigned char)s[j]) || is_word((unsigned char)s[j - 1])) continue;
    size_t len = run(s, n, j, S_ALNUM, 64);
    if (len == 32 && !(j + len < n && is_word((unsigned char)s[j + len]))) {
      shape sh = shape_of(s + j, len);
      if (alnum_classes(sh) >= 2 && entropy(s + j, len) >= 3.5) add(g, j, j + len, K_MISTRAL);
      return i + 7; /* what lies between is scanned too */
    }
    j += len;
  }
  return 0;
}

/* https://hooks.slack.com/services/T.../B.../...: the part after the host. */
static size_t try_slack_webhook(seg *g, size_t i) {
  const char *s = g->s;
  size_t n = g->n;
  static const char host[] = "hooks.slack.com/";
  if (!starts(s, n, i, host)) return 0;
  size_t j = i + sizeof host - 1;
  if (!starts(s, n, j, "services/") && !starts(s, n, j, "workflows/") &&
      !starts(s, n, j, "triggers/"))
    return 0;
  size_t len = run(s, n, j, S_B64URL | S_SLASH | S_PLUS, 512);
  if (len < 30) return 0;
  return add(g, j, j + len, K_SLACK_WEBHOOK);
}

/* Azure AD client secrets: 3 characters, a digit, Q~, then 31 to 34 more (at the ~). */
static size_t try_azure_client_secret(seg *g, size_t i) {
  const char *s = g->s;
  size_t n = g->n;
  if (i < 5 || s[i - 1] != 'Q' || !is_digit((unsigned char)s[i - 2])) return 0;
  size_t start = i - 5;
  for (size_t k = start; k < i - 2; k++)
    if (!in_set((unsigned char)s[k], S_ALNUM | S_US | S_TILDE | S_DOT)) return 0;
  if (start > 0 && in_set((unsigned char)s[start - 1], S_ALNUM | S_US | S_TILDE | S_DOT)) return 0;
  size_t len = run(s, n, i + 1, S_B64URL | S_TILDE | S_DOT, 40);
  if (len < 31 || len > 34) return 0;
  return add(g, start, i + 1 + len, K_AZURE_CLIENT_SECRET);
}

/* -----BEGIN ... PRIVATE KEY----- ... -----END ... PRIVATE KEY-----, the whole block; a block
 * whose end is not there is redacted as far as its body goes. */
static size_t try_private_key(seg *g, size_t i) {
  const char *s = g->s;
  size_t n = g->n;
  if (!starts(s, n, i, "-----BEGIN ")) return 0;
  size_t j = i + 11, label = j;
  while (j < n && j - label < 64 &&
         (is_upper((unsigned char)s[j]) || is_digit((unsigned char)s[j]) || s[j] == ' '))
    j++;
  size_t llen = j - label;
  bool key = (llen >= 11 && memcmp(s + j - 11, "PRIVATE KEY", 11) == 0) ||
             (llen >= 17 && memcmp(s + j - 17, "PRIVATE KEY BLOCK", 17) == 0);
  if (!key || !starts(s, n, j, "-----")) return 0;
  j += 5;
  /* the body starts with base64 (or an encrypted key's Proc-Type header) on the next line, or
   * after a blank when the block was flattened: not words about a key */
  size_t f = j;
  while (f < n && (is_space((unsigned char)s[f]) ||
                   (s[f] == '\\' && f + 1 < n && (s[f + 1] == 'n' || s[f + 1] == 'r'))))
    f += s[f] == '\\' ? 2 : 1;
  size_t digits = run(s, n, f, S_DIGIT, 8); /* a line number of a tool's output: "4: ", "00004| " */
  if (digits && f + digits < n && (s[f + digits] == ':' || s[f + digits] == '|')) {
    f += digits + 1;
    while (f < n && s[f] == ' ') f++;
  }
  size_t first = run(s, n, f, S_ALNUM | S_PLUS | S_SLASH, 64);
  if (first < 16 && !starts_ci(s, n, f, "proc-type:") && !cut_at(g, f + first)) return 0;
  size_t body = 0, k = j;
  for (; k < n && k - j < 65536; k++) {
    unsigned char c = (unsigned char)s[k];
    if (c == '-' && starts(s, n, k, "-----END")) {
      size_t e = k + 8;
      while (e < n && e - k < 80 && s[e] != '\n' && !starts(s, n, e, "-----")) e++;
      if (starts(s, n, e, "-----") && body >= 32) return add(g, i, e + 5, K_PRIVATE_KEY);
      return 0; /* a block with no key in it: an example */
    }
    if (is_alnum(c) || c == '+' || c == '/' || c == '_') body++;
    else if (!(c == '=' || c == ':' || c == ',' || c == '.' || c == '-' || c == '\\' || c == '|' ||
               is_space(c)))
      break;
  }
  if (body < 32) return 0; /* no key in it: an example, or words about one */
  return add(g, i, k, K_PRIVATE_KEY);
}

/* ---- a password given to a command on its command line ---- */

/* Commands that take a password as an argument, and how: mysql's -p with the password attached
 * (a bare -p asks for it), sshpass's -p with it attached or apart, curl's -u with user, colon,
 * password. */
typedef enum { ARG_ATTACHED, ARG_ANY, ARG_USER_COLON } arg_form;

typedef struct {
  const char *command; /* a word before the option on the same line */
  const char *option;  /* "-p", "--user": the option, then the value */
  arg_form form;
} password_option;

static const password_option password_options[] = {
    {"mysql", "-p", ARG_ATTACHED},        {"mysqldump", "-p", ARG_ATTACHED},
    {"mysqladmin", "-p", ARG_ATTACHED},   {"mariadb", "-p", ARG_ATTACHED},
    {"mariadb-dump", "-p", ARG_ATTACHED}, {"sshpass", "-p", ARG_ANY},
    {"curl", "-u", ARG_USER_COLON},       {"curl", "--user", ARG_USER_COLON},
    {"curl", "-U", ARG_USER_COLON},       {"curl", "--proxy-user", ARG_USER_COLON},
};

/* Whether the word `command` stands before i on the same line (as a whole word, at most 1 KiB
 * back: a shell command line, not a paragraph that names the tool). */
static bool command_before(const char *s, size_t i, const char *command) {
  size_t k = strlen(command), lo = i > 1024 ? i - 1024 : 0;
  for (size_t j = i; j-- > lo;) {
    if (s[j] == '\n') return false;
    if (j + k <= i && memcmp(s + j, command, k) == 0 &&
        (j == 0 || !is_word((unsigned char)s[j - 1])) &&
        (j + k == i || s[j + k] == ' ' || s[j + k] == '\t'))
      return true;
  }
  return false;
}

/* The shell word at j: quoted ('…' or "…", the quotes left out) or up to a blank or a shell
 * operator. *vs and *ve frame the value. */
static bool shell_word(const char *s, size_t n, size_t j, size_t *vs, size_t *ve) {
  if (j >= n) return false;
  if (s[j] == '\'' || s[j] == '"') {
    const char *close = memchr(s + j + 1, s[j], n - j - 1);
    if (!close) return false;
    *vs = j + 1, *ve = (size_t)(close - s);
    return *ve > *vs;
  }
  size_t e = j;
  while (e < n && !is_space((unsigned char)s[e]) && !memchr("'\";|&)<>`", s[e], 9)) e++;
  *vs = j, *ve = e;
  return e > j;
}

static size_t try_password_option(seg *g, size_t i) {
  const char *s = g->s;
  size_t n = g->n;
  if (i == 0 || !is_space((unsigned char)s[i - 1])) return 0;
  for (size_t r = 0; r < sizeof password_options / sizeof password_options[0]; r++) {
    const password_option *po = &password_options[r];
    size_t k = strlen(po->option), j = i + k;
    if (!starts(s, n, i, po->option) || j >= n) continue;
    bool attached = !is_space((unsigned char)s[j]) && s[j] != '=';
    if (po->form == ARG_ATTACHED && !attached) continue;
    if (!attached) { /* "-p secret", "--user=u:p", "--user u:p" */
      if (k == 2 && s[j] == '=') continue;
      j++;
      while (j < n && s[j] == ' ') j++;
    } else if (k > 2) {
      continue; /* "--username": another option */
    }
    if (!command_before(s, i, po->command)) continue;
    size_t vs, ve;
    if (!shell_word(s, n, j, &vs, &ve) || cut_at(g, ve)) return 0;
    while (ve > vs && (s[ve - 1] == ',' || s[ve - 1] == '.')) ve--; /* prose: "-pX, or" */
    if (po->form == ARG_USER_COLON) {
      const char *colon = memchr(s + vs, ':', ve - vs);
      if (!colon) return 0; /* curl asks for the password */
      vs = (size_t)(colon - s) + 1;
    }
    if (ve - vs < 4 || placeholder(s + vs, ve - vs) || common_word(s + vs, ve - vs)) return 0;
    return add(g, vs, ve, K_PASSWORD_ARG);
  }
  return 0;
}

/* A detector of a token that starts at a word start with its first byte. */
static size_t word_start(seg *g, size_t i) {
  unsigned char c = (unsigned char)g->s[i];
  size_t end = 0;
  switch (c) {
  case 's': end = try_sk(g, i); break;
  case 'a': end = try_arize(g, i); break;
  case 'e': end = try_jwt(g, i); break;
  case 'h': end = try_slack_webhook(g, i); break;
  default: break;
  }
  if (!end && (c == 'a' || c == 'A')) end = try_authorization(g, i);
  if (!end && (c == 'b' || c == 'B')) end = try_scheme(g, i);
  if (!end && (c == 'm' || c == 'M')) end = try_mistral(g, i);
  const redact_rules *rules = g->r;
  for (size_t k = 0; !end && k < rules->prefix_count[c]; k++) {
    const prefix_rule *pr = &prefix_rules[rules->prefix_order[rules->prefix_from[c] + k]];
    if (i + 1 < g->n && pr->prefix[1] == g->s[i + 1]) end = try_prefix(g, i, pr);
  }
  return end;
}

/* Whether the word at i may open a secret: its first two bytes begin one of the detectors'
 * prefixes (a cheap test that spares the detectors most words of text and code). */
static bool word_may_open(const char *s, size_t n, size_t i) {
  unsigned char c = (unsigned char)s[i], d = i + 1 < n ? to_lower((unsigned char)s[i + 1]) : 0;
  switch (c) {
  case 'a': return d == 'k' || d == 'u' || d == 'p'; /* ak-, authorization, api_org_ */
  case 'A': return d == 'u' || d == 'i' || d == 'k' || d == 's' || d == 'b' || d == 'c';
  case 'b':
  case 'B': return d == 'e' || d == 'a'; /* bearer, basic */
  case 'd': return d == 'o';             /* dop_v1_ ... */
  case 'e': return d == 'y';             /* eyJ */
  case 'g': return d == 'h' || d == 'i' || d == 'l' || d == 's';
  case 'h': return d == 'f' || d == 'o'; /* hf_, hooks.slack.com */
  case 'm':
  case 'M': return d == 'i'; /* mistral */
  case 'n': return d == 'p'; /* npm_ */
  case 'p': return d == 'y'; /* pypi- */
  case 'r': return d == 'k'; /* rk_live_ */
  case 's': return d == 'k'; /* sk-, sk_live_ */
  case 'S': return d == 'g'; /* SG. */
  case 'w': return d == 'h'; /* whsec_ */
  case 'x': return d == 'o' || d == 'a';
  default: return false;
  }
}

/* The end of the marker at i ("<redacted:kind>"), or 0 when none starts there. */
static size_t marker_end(const char *s, size_t n, size_t i) {
  if (!starts(s, n, i, MARKER_OPEN)) return 0;
  size_t e = i + sizeof MARKER_OPEN - 1, k = e;
  while (k < n && k - e <= MAX_KIND &&
         (is_lower((unsigned char)s[k]) || is_digit((unsigned char)s[k]) || s[k] == '-'))
    k++;
  return k > e && k < n && s[k] == '>' ? k + 1 : 0;
}

/* Bytes of interest to the scan loop: 1 a letter or digit, 2 a byte that starts a detector
 * outside words (- : = ~) or a marker (<). */
static const uint8_t scan_class[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 0, 2, 2, 0, 0,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 2, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

static void scan_builtin(seg *g) {
  const char *s = g->s;
  size_t n = g->n;
  if (g->key) { /* a JSON member's value: its key is the context */
    kind k;
    key_class kc = key_names_secret(g->key, g->key_len, &k);
    if (kc != KEY_NO && value_secret(s, n, kc == KEY_PASSWORD, true)) add(g, 0, n, k);
  }
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    uint8_t t = scan_class[c];
    size_t end = 0;
    if (!t) continue;
    if (t & 1) {
      if (word_may_open(s, n, i) && left_boundary(s, i)) end = word_start(g, i);
      if (!end) {
        while (i + 1 < n && (scan_class[(unsigned char)s[i + 1]] & 1)) i++;
        continue;
      }
    } else {
      switch (c) {
      case '-':
        if (i + 11 <= n && s[i + 1] == '-') end = try_private_key(g, i);
        if (!end) end = try_password_option(g, i);
        break;
      case ':':
        end = i + 2 < n && s[i + 1] == '/' ? try_url_password(g, i) : try_assignment(g, i);
        break;
      case '=': end = try_assignment(g, i); break;
      case '<': end = marker_end(s, n, i); break; /* a marker is never scanned */
      default: end = try_azure_client_secret(g, i); break;
      }
    }
    if (end > i + 1) i = end - 1;
  }
}

/* ------------------------------------------------------------------------------------------ */
/* One segment: every hit, filtered, merged                                                    */

typedef struct {
  const redact_rules *r;
  vm m; /* allocated on first use */
  bool vm_ready, oom;
} scratch;

static bool ensure_vm(scratch *sc) {
  if (sc->vm_ready) return true;
  if (!vm_init(&sc->m, sc->r->max_prog ? sc->r->max_prog : 1)) return sc->oom = true, false;
  return sc->vm_ready = true;
}

/* Markers already in s: [start, end) pairs into h (as hits of no kind). */
static void find_markers(const char *s, size_t n, hits *h) {
  size_t from = 0;
  while (from < n) {
    const char *p = find(s + from, n - from, MARKER_OPEN, sizeof MARKER_OPEN - 1);
    if (!p) break;
    size_t a = (size_t)(p - s), e = marker_end(s, n, a);
    if (e) hits_add(h, a, e, NULL, 0);
    from = e ? e : a + 1;
  }
}

static int by_start(const void *a, const void *b) {
  const hit *x = a, *y = b;
  if (x->start != y->start) return x->start < y->start ? -1 : 1;
  return x->end > y->end ? -1 : x->end < y->end;
}

/* Whether an allow pattern matches the text of [start, end). */
static bool allowed(scratch *sc, const char *s, size_t start, size_t end) {
  const redact_rules *r = sc->r;
  if (!r->n_allow || !ensure_vm(sc)) return false;
  for (size_t a = 0; a < r->n_allow; a++) {
    spans sp = {.stop = true};
    re_run(&r->allow[a], &sc->m, s + start, end - start, &sp);
    bool hit = sp.len > 0;
    free(sp.start);
    free(sp.end);
    if (hit) return true;
  }
  return false;
}

/* The hits of segment s[0..n), sorted, disjoint, on character boundaries, into out. */
static void segment_hits(scratch *sc, const char *s, size_t n, bool more, const char *key,
                         size_t key_len, hits *out) {
  const redact_rules *r = sc->r;
  hits found = {0}, markers = {0};
  seg g = {r, s, n, more, key, key_len, &found};
  if (r->builtin) scan_builtin(&g);
  for (size_t p = 0; p < r->n_patterns && !found.oom; p++) {
    if (!ensure_vm(sc)) break;
    spans sp = {0};
    re_run(&r->patterns[p], &sc->m, s, n, &sp);
    for (size_t k = 0; k < sp.len; k++)
      hits_add(&found, sp.start[k], sp.end[k], r->kinds[p], RANK_FORMAT);
    found.oom |= sp.oom;
    free(sp.start);
    free(sp.end);
  }
  for (size_t v = 0; v < r->n_values; v++) {
    const char *value = r->values[v];
    size_t vl = r->value_lens[v];
    for (size_t from = 0; from + vl <= n;) {
      const char *p = find(s + from, n - from, value, vl);
      if (!p) break;
      size_t a = (size_t)(p - s);
      hits_add(&found, a, a + vl, USER_VALUE, RANK_FORMAT);
      from = a + vl;
    }
  }
  if (found.len) find_markers(s, n, &markers);
  if (found.oom || markers.oom) sc->oom = true;
  if (found.len > 1) qsort(found.items, found.len, sizeof *found.items, by_start);
  size_t m = 0; /* markers are sorted too */
  for (size_t k = 0; k < found.len && !sc->oom; k++) {
    hit h = found.items[k];
    while (m < markers.len && markers.items[m].end <= h.start) m++;
    if (m < markers.len && markers.items[m].start < h.end) continue; /* a marker: never again */
    while (h.start > 0 && ((unsigned char)s[h.start] & 0xC0) == 0x80) h.start--;
    while (h.end < n && ((unsigned char)s[h.end] & 0xC0) == 0x80) h.end++;
    if (allowed(sc, s, h.start, h.end)) continue;
    if (out->len && out->items[out->len - 1].end >= h.start) {
      hit *last = &out->items[out->len - 1];
      if (h.end > last->end) last->end = h.end;
      if (h.rank > last->rank) last->kind = h.kind, last->rank = h.rank;
      continue;
    }
    hits_add(out, h.start, h.end, h.kind, h.rank);
  }
  if (out->oom) sc->oom = true;
  free(found.items);
  free(markers.items);
}

/* ------------------------------------------------------------------------------------------ */
/* Writing the markers                                                                         */

typedef struct {
  const char *src;
  size_t done; /* src bytes written so far */
  text out;
  long count;
} writer;

static void write_marker(writer *w, size_t start, size_t end, const char *kind) {
  text_add(&w->out, w->src + w->done, start - w->done);
  text_add(&w->out, MARKER_OPEN, sizeof MARKER_OPEN - 1);
  text_add(&w->out, kind, strlen(kind));
  text_add(&w->out, ">", 1);
  w->done = end;
  w->count++;
}

/* ---- JSON ---- */

#define JSON_MAX_DEPTH 512

static size_t json_ws(const char *s, size_t n, size_t i) {
  while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
  return i;
}

/* The end of the string whose opening quote is at i (past its closing quote), or 0. */
static size_t json_string_end(const char *s, size_t n, size_t i) {
  for (size_t j = i + 1; j < n; j++) {
    unsigned char c = (unsigned char)s[j];
    if (c == '"') return j + 1;
    if (c < 0x20) return 0;
    if (c == '\\') {
      if (j + 1 >= n) return 0;
      char e = s[j + 1];
      if (e == 'u') {
        if (!hex_run(s, n, j + 2, 4)) return 0;
        j += 5;
      } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' ||
                 e == 'r' || e == 't') {
        j++;
      } else {
        return 0;
      }
    }
  }
  return 0;
}

static size_t json_number_end(const char *s, size_t n, size_t i) {
  size_t j = i;
  if (j < n && s[j] == '-') j++;
  if (j >= n || !is_digit((unsigned char)s[j])) return 0;
  if (s[j] == '0') j++;
  else
    while (j < n && is_digit((unsigned char)s[j])) j++;
  if (j < n && s[j] == '.') {
    j++;
    if (j >= n || !is_digit((unsigned char)s[j])) return 0;
    while (j < n && is_digit((unsigned char)s[j])) j++;
  }
  if (j < n && (s[j] == 'e' || s[j] == 'E')) {
    j++;
    if (j < n && (s[j] == '+' || s[j] == '-')) j++;
    if (j >= n || !is_digit((unsigned char)s[j])) return 0;
    while (j < n && is_digit((unsigned char)s[j])) j++;
  }
  return j;
}

/* Whether s[0..n) is one JSON value (an object, array or string at the top), nested at most
 * JSON_MAX_DEPTH deep. */
static bool json_text(const char *s, size_t n) {
  size_t i = json_ws(s, n, 0);
  if (i >= n || (s[i] != '{' && s[i] != '[' && s[i] != '"')) return false;
  char stack[JSON_MAX_DEPTH];
  int depth = 0;
  enum { VALUE, AFTER_VALUE, KEY_OR_END, VALUE_OR_END } want = VALUE;
  for (;;) {
    i = json_ws(s, n, i);
    if (i >= n) return depth == 0 && want == AFTER_VALUE;
    char c = s[i];
    switch (want) {
    case VALUE:
    case VALUE_OR_END:
      if (want == VALUE_OR_END && c == ']') {
        depth--, i++, want = AFTER_VALUE;
        break;
      }
      if (c == '{' || c == '[') {
        if (depth == JSON_MAX_DEPTH) return false;
        stack[depth++] = c;
        i++;
        want = c == '{' ? KEY_OR_END : VALUE_OR_END;
      } else if (c == '"') {
        if (!(i = json_string_end(s, n, i))) return false;
        want = AFTER_VALUE;
      } else if (c == '-' || is_digit((unsigned char)c)) {
        if (!(i = json_number_end(s, n, i))) return false;
        want = AFTER_VALUE;
      } else if (starts(s, n, i, "true") || starts(s, n, i, "null")) {
        i += 4, want = AFTER_VALUE;
      } else if (starts(s, n, i, "false")) {
        i += 5, want = AFTER_VALUE;
      } else {
        return false;
      }
      break;
    case KEY_OR_END:
      if (c == '}') {
        depth--, i++, want = AFTER_VALUE;
        break;
      }
      if (c != '"' || !(i = json_string_end(s, n, i))) return false;
      i = json_ws(s, n, i);
      if (i >= n || s[i] != ':') return false;
      i++, want = VALUE;
      break;
    case AFTER_VALUE:
      if (depth == 0) return false; /* something after the top value */
      if (c == ',') {
        i++;
        if (stack[depth - 1] == '{') {
          i = json_ws(s, n, i);
          if (i >= n || s[i] != '"' || !(i = json_string_end(s, n, i))) return false;
          i = json_ws(s, n, i);
          if (i >= n || s[i] != ':') return false;
          i++;
        }
        want = VALUE;
      } else if ((c == '}' && stack[depth - 1] == '{') || (c == ']' && stack[depth - 1] == '[')) {
        depth--, i++;
      } else {
        return false;
      }
      break;
    }
  }
}

/* One escape unit of a (valid) JSON string at raw position p: its raw length, and how many
 * bytes it decodes to, written to dec when given. */
static size_t json_unit(const char *s, size_t p, size_t end, char *dec, size_t *dlen) {
  if (s[p] != '\\') {
    if (dec) dec[0] = s[p];
    *dlen = 1;
    return 1;
  }
  char e = s[p + 1];
  if (e != 'u') {
    char c = e == 'b'   ? '\b'
             : e == 'f' ? '\f'
             : e == 'n' ? '\n'
             : e == 'r' ? '\r'
             : e == 't' ? '\t'
                        : e;
    if (dec) dec[0] = c;
    *dlen = 1;
    return 2;
  }
  unsigned cp = (unsigned)strtoul((char[5]){s[p + 2], s[p + 3], s[p + 4], s[p + 5], 0}, NULL, 16);
  size_t raw = 6;
  if (cp >= 0xD800 && cp <= 0xDBFF && p + 12 <= end && s[p + 6] == '\\' && s[p + 7] == 'u' &&
      hex_run(s, end, p + 8, 4)) {
    unsigned lo =
        (unsigned)strtoul((char[5]){s[p + 8], s[p + 9], s[p + 10], s[p + 11], 0}, NULL, 16);
    if (lo >= 0xDC00 && lo <= 0xDFFF) {
      cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
      raw = 12;
    }
  }
  if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD; /* a lone surrogate */
  char u[4];
  size_t k;
  if (cp < 0x80) u[0] = (char)cp, k = 1;
  else if (cp < 0x800) u[0] = (char)(0xC0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3F)), k = 2;
  else if (cp < 0x10000)
    u[0] = (char)(0xE0 | cp >> 12), u[1] = (char)(0x80 | ((cp >> 6) & 0x3F)),
    u[2] = (char)(0x80 | (cp & 0x3F)), k = 3;
  else
    u[0] = (char)(0xF0 | cp >> 18), u[1] = (char)(0x80 | ((cp >> 12) & 0x3F)),
    u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), u[3] = (char)(0x80 | (cp & 0x3F)), k = 4;
  if (dec) memcpy(dec, u, k);
  *dlen = k;
  return raw;
}

/* Redacts the string whose content is raw[a..b) (valid JSON), with its member key (raw text of
 * the key's content, or NULL). */
static void json_string(scratch *sc, writer *w, size_t a, size_t b, const char *key,
                        size_t key_len) {
  const char *s = w->src;
  const char *dec = s + a;
  size_t dn = b - a;
  char *buf = NULL;
  if (memchr(s + a, '\\', b - a)) { /* decode; escapes only ever shrink */
    if (!(buf = malloc(b - a + 1))) {
      sc->oom = true;
      return;
    }
    dn = 0;
    for (size_t p = a; p < b;) {
      size_t k;
      p += json_unit(s, p, b, buf + dn, &k);
      dn += k;
    }
    dec = buf;
  }
  hits h = {0};
  segment_hits(sc, dec, dn, false, key, key_len, &h);
  /* decoded offsets to raw ones, in one walk: hits are sorted and disjoint */
  size_t p = a, d = 0;
  for (size_t k = 0; k < h.len; k++) {
    size_t unit = 0, dlen = 0;
    while (p < b && (unit = json_unit(s, p, b, NULL, &dlen), d + dlen <= h.items[k].start))
      p += unit, d += dlen;
    size_t rs = p;
    while (p < b && d < h.items[k].end) {
      p += json_unit(s, p, b, NULL, &dlen);
      d += dlen;
    }
    write_marker(w, rs, p, h.items[k].kind);
  }
  free(h.items);
  free(buf);
}

/* A JSON text string by string; a value's member key is decoded for context. */
static void json_redact(scratch *sc, writer *w, size_t n) {
  const char *s = w->src;
  char key[128];
  size_t key_len = 0;
  bool have_key = false; /* the last token was a member key and its ':' */
  for (size_t i = 0; i < n && !sc->oom;) {
    char c = s[i];
    if (c != '"') {
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != ':') have_key = false;
      i++;
      continue;
    }
    size_t end = json_string_end(s, n, i), after = json_ws(s, n, end);
    bool is_key = after < n && s[after] == ':';
    json_string(sc, w, i + 1, end - 1, !is_key && have_key ? key : NULL, key_len);
    have_key = false;
    if (is_key) { /* decoded, cut to what fits: keys are short */
      key_len = 0;
      for (size_t p = i + 1; p < end - 1 && key_len + 4 < sizeof key;) {
        size_t k;
        p += json_unit(s, p, end - 1, key + key_len, &k);
        key_len += k;
      }
      have_key = true;
      i = after + 1;
      continue;
    }
    i = end;
  }
}

long redact_text(const redact_rules *r, const char *text, size_t len, bool more, char **out,
                 size_t *out_len) {
  *out = NULL;
  if (out_len) *out_len = 0;
  if (!redact_active(r) || len == 0) return 0;
  scratch sc = {.r = r};
  writer w = {.src = text};
  if (!more && json_text(text, len)) {
    json_redact(&sc, &w, len);
  } else {
    hits h = {0};
    segment_hits(&sc, text, len, more, NULL, 0, &h);
    for (size_t k = 0; k < h.len; k++)
      write_marker(&w, h.items[k].start, h.items[k].end, h.items[k].kind);
    free(h.items);
  }
  if (sc.vm_ready) vm_free(&sc.m);
  if (w.count) text_add(&w.out, text + w.done, len - w.done);
  if (sc.oom || w.out.failed) {
    free(w.out.data);
    return -1;
  }
  if (!w.count) return 0;
  *out = w.out.data;
  if (out_len) *out_len = w.out.len;
  return w.count;
}
