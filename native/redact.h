/* redact — secrets out of text before it leaves the machine.
 *
 * redact_text finds secrets in a text and replaces each with a marker that names its kind and
 * keeps nothing of the value: "<redacted:github-token>". attrs.c calls it on every string a span
 * carries (attrs.h), before anything is cut, encoded or spooled.
 *
 * What is found:
 *   - the built-in detectors (on unless redact.secrets / ARIZE_REDACT_SECRETS is false),
 *     hand-written scanners, no regular expressions: provider keys by their prefix and format
 *     (OpenAI, Anthropic, OpenRouter, Google, Groq, Mistral, Hugging Face, Arize, AWS, GitHub,
 *     GitLab, Slack, Stripe, npm, PyPI, SendGrid, DigitalOcean, Azure), JWTs, PEM private keys
 *     (the whole block), Authorization / Bearer / Basic values, passwords in URLs
 *     (scheme://user:PASSWORD@host), and values assigned to a key that names a secret
 *     (KEY=value, key: value, "key": "value", --key=value) when the value looks like one (its
 *     character classes and Shannon entropy; references such as $VAR or process.env.X and
 *     placeholders such as changeme are left alone). The kinds are redact_kinds().
 *   - the user's rules: patterns (the regex subset below), each with an optional kind name
 *     ("user-rule" without one), and literal values ("user-value").
 * A match of an allow pattern is never redacted (the pattern is searched in the text that would
 * be redacted).
 *
 * JSON text stays JSON: a text that is a JSON object, array or string is scanned string by
 * string, each decoded first (escapes such as \" \\ \n \u0041 are read as what they stand for),
 * with the member key of a value as context ("password": "..."); a redaction covers whole escape
 * sequences, and the marker needs no escaping inside a JSON string. A marker already in a text is
 * never rescanned: a second pass keeps every marker whole (on ordinary text it finds nothing).
 *
 * The regex subset of user patterns (matched on bytes; linear time, no backtracking: a
 * Thompson NFA run as a Pike VM over all start positions at once):
 *   literals, . (any byte but newline), [abc] [^a-z] classes (ASCII), \d \w \s \D \W \S,
 *   \t \n \r \f \v \xHH, \ before punctuation, * + ? {m} {m,} {m,n} (n <= 1000; a lazy ? after
 *   them is accepted and means the same), alternation |, groups ( ) and (?: ), anchors ^ $ (at
 *   line boundaries) \b \B, and (?i) at the very start for ASCII case-insensitivity. Every part
 *   of the text that some match covers is redacted (overlapping matches merge). A pattern that
 *   can match empty text, or that is longer than 1,000 bytes or 4,000 instructions once its
 *   counted repetitions are expanded, is refused.
 *
 * Thread safety: a redact_rules is immutable once built; any number of threads may use it. */
#ifndef REDACT_H
#define REDACT_H

#include <stdbool.h>
#include <stddef.h>

/* Bytes past a cut that a caller scans with the text it keeps (more = true), so that a secret
 * straddling the cut is seen whole: longer than any fixed-format secret. */
#define REDACT_MARGIN 1024

typedef struct redact_rules redact_rules;

typedef struct {
  bool builtin;                /* the built-in detectors */
  const char *const *patterns; /* user patterns (the subset above) */
  const char *const *kinds;    /* per pattern: its kind (redact_kind_ok), or NULL */
  size_t n_patterns;
  const char *const *values; /* literal values, at least REDACT_MIN_VALUE bytes each */
  size_t n_values;
  const char *const *allow; /* patterns whose matches are never redacted */
  size_t n_allow;
} redact_config;

#define REDACT_MIN_VALUE 4

/* Whether pattern is one redact_new accepts: 0, or -1 with why[] saying what is wrong and at
 * which byte offset ("unbalanced ( at offset 3"), never quoting the pattern. */
int redact_pattern_check(const char *pattern, char *why, size_t why_size);

/* Whether a user's kind name is usable: 1 to 40 of [a-z0-9-], starting with a letter. */
bool redact_kind_ok(const char *kind);

/* The rules for cfg (copied). A pattern that redact_pattern_check refuses, a kind that
 * redact_kind_ok refuses ("user-rule" instead) and a value shorter than REDACT_MIN_VALUE are
 * skipped: the caller warns about them. NULL only when out of memory. */
redact_rules *redact_new(const redact_config *cfg);
void redact_free(redact_rules *r);

/* Whether r looks for anything (built-in detectors or a user rule). NULL: nothing. */
bool redact_active(const redact_rules *r);

/* Redacts text[0..len). Returns how many markers replaced secrets, and when that is more than
 * 0, the redacted text in *out (malloc'd, NUL-terminated, *out_len bytes; the caller frees);
 * *out is NULL otherwise. -1 when out of memory (*out NULL).
 * more: text is the head of a longer value that will be cut inside it (scan up to
 * REDACT_MARGIN bytes past the cut): a secret running into the end is redacted although its end
 * is not seen, and the text is never read as JSON. r NULL: nothing is redacted. */
long redact_text(const redact_rules *r, const char *text, size_t len, bool more, char **out,
                 size_t *out_len);

/* The built-in kinds, a NULL-terminated list (for docs and tests). */
const char *const *redact_kinds(void);

#endif
