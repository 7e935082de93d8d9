/* attrs — the one attribute policy: what each attribute may carry, and how big it may be.
 *
 * A privacy review reads this header and attrs.c. Every attribute that can carry user content
 * (prompts, answers, tool arguments, tool output) is named by an attrs_key; the key's class
 * decides, from the options (ARIZE_LOG_*), whether its value is sent or replaced by a
 * redaction marker, and its shape decides what the marker looks like (text, or JSON that is
 * still JSON). Every string is cut to the per-attribute limit with a visible marker, and a
 * span's strings together to MAX_SPAN_TEXT_BYTES. OpenInference's own masking
 * (OPENINFERENCE_HIDE_*) and the custom attributes are applied last, by attrs_hide and
 * attrs_finish. Attributes that carry no user content (ids, names, counts, kinds) are set with
 * attrs_str and attrs_int.
 *
 * Secrets (redact.h) are replaced by "<redacted:KIND>" markers in every string a span carries,
 * whatever set it: attrs_set, attrs_set_nth and attrs_set_error scan a value before cutting it
 * (the part that is sent, plus REDACT_MARGIN bytes past the cut, so a secret straddling the cut
 * leaves no prefix behind), and attrs_finish scans every string of the span once more (names,
 * attributes, lists, the status, events, the custom attributes), so an attribute added later
 * cannot bypass the scan. The span's count of markers is its int attribute opencode.redactions
 * (only when above 0).
 *
 * "Add an attribute": add its key to attrs_key and its row (name, class, shape) to the table
 * in attrs.c. */
#ifndef ATTRS_H
#define ATTRS_H

#define ATTRS_REDACTIONS "opencode.redactions" /* markers the span holds (int) */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "redact.h"
#include "spans.h"

/* What the user allows to leave the machine, and what every span carries: the config's `attrs`
 * section (config.h), read here through a const pointer, never copied.
 * The settings table's ATTRS rows (settings.h) declare most fields, each with its key and default:
 *   log_prompts        false: prompt and response text become "<redacted (N chars)>"
 *   log_tool_details   false: tool arguments, command, file path, query, url, title
 *   log_tool_content   false: tool input and output
 *   user_id            user.id on every span; NULL for none
 *   max_attr_bytes     longer string attributes are cut with a marker; 0 = 32 KiB
 *   max_input_bytes    llm.input_messages: the most recent messages that fit
 *   hide_inputs, hide_outputs, hide_input_messages, hide_output_messages, hide_input_text,
 *   hide_output_text   OpenInference's own masking (OPENINFERENCE_HIDE_*): values become
 *                      "__REDACTED__", and hidden message lists are left out
 *   hide_llm_invocation_parameters   llm.invocation_parameters goes
 * The rest config.c (and, for host, the tracer) sets by its own rules. */
typedef struct {
#define ATTRS(id, kind, field, ...) SETTINGS_CTYPE(kind) field;
#include "settings.h"
  const char *project_name;   /* arize.project.name on every span; NULL for none */
  bool child_session_ids;     /* a subagent's spans carry its own session id in session.id
                               * (subagent_session_id: child), not the root's */
  const char *host;           /* the machine's name, for the Turn's context; NULL: unknown */
  const redact_rules *redact; /* secrets to replace with markers (redact.h); NULL: none */

  /* Custom attributes on every span (config `attributes:`); ours win on the same name. */
  const char *const *attribute_names;
  const char *const *attribute_values;
  size_t n_attributes;
} attrs_options;

/* Redaction classes: which option lets a value through. */
typedef enum {
  ATTRS_PUBLIC,         /* always sent (its content was redacted piecewise, see attrs_embedded) */
  ATTRS_PROMPT,         /* log_prompts: the user's prompt, the model's reasoning and answer */
  ATTRS_TOOL_DETAILS,   /* log_tool_details: what a tool was asked (command, path, query...) */
  ATTRS_TOOL_CONTENT,   /* log_tool_content: what a tool answered */
  ATTRS_TOOL_ARGUMENTS, /* log_tool_details and log_tool_content: a tool's whole input */
} attrs_class;

/* The attributes that can carry user content. Names with %zu take an index (attrs_set_nth),
 * or two (attrs_set_nth2: the message, then the part or call within it). */
typedef enum {
  ATTR_INPUT_TEXT,              /* input.value: a prompt (Turn, first model call, subagent) */
  ATTR_OUTPUT_TEXT,             /* output.value: an answer (Turn, model call, subagent) */
  ATTR_LLM_INPUT_CONTENT,       /* llm.input_messages.%zu.message.content: the system prompt,
                                 * a user prompt, an earlier answer of the model */
  ATTR_LLM_INPUT_PART,          /* llm.input_messages.%zu.message.contents.%zu...text: a part of
                                 * a user message (its prompt, an attached file's text) */
  ATTR_LLM_INPUT_IMAGE,         /* ...contents.%zu.message_content.image.image.url: an attached
                                 * image (a data: URL is never inlined: attrs_data_url) */
  ATTR_LLM_INPUT_TOOL_CALL,     /* llm.input_messages.%zu.message.tool_calls.%zu...arguments:
                                 * the arguments of a tool call the model made earlier */
  ATTR_LLM_INPUT_TOOL_RESULT,   /* llm.input_messages.%zu.message.content: a tool's output */
  ATTR_LLM_INPUT_TOOL_RESULTS,  /* input.value: the tool results a model call consumed (JSON) */
  ATTR_LLM_OUTPUT_CONTENT,      /* llm.output_messages.0.message.content */
  ATTR_LLM_OUTPUT_PART,         /* llm.output_messages.0.message.contents.%zu...text */
  ATTR_LLM_TOOL_CALL_ARGUMENTS, /* llm.output_messages.0.message.tool_calls.%zu...arguments */
  ATTR_LLM_OUTPUT_TOOL_CALLS,   /* output.value: the tool calls of an answer that has no text
                                 * (JSON: [{id, name, arguments}]) */
  ATTR_TOOL_INPUT,              /* input.value: a tool's arguments (JSON) */
  ATTR_TOOL_PARAMETERS,         /* tool.parameters: the same arguments (JSON) */
  /* a tool's main arguments (tool.command, tool.file_path...): attrs_set_tool_argument */
  ATTR_TOOL_DESCRIPTION, /* tool.description: the tool's description from its definition
                          * (the live signals' tool.definition hook; absent otherwise; a
                          * definition, not content) */
  ATTR_TOOL_TITLE,       /* opencode.tool.title: the title OpenCode gave the call */
  ATTR_TOOL_OUTPUT,      /* output.value: a tool's output or error */
  /* the live signals (live.h) */
  ATTR_LLM_INVOCATION_PARAMETERS, /* llm.invocation_parameters: the generation settings (JSON;
                                   * the plugin leaves credentials out) */
  ATTR_LLM_TOOL_SCHEMA,           /* llm.tools.%zu.tool.json_schema: a tool offered (JSON: its
                                   * name, description, parameters; a definition, not content) */
  ATTR_TURN_COMMAND_ARGUMENTS,    /* opencode.turn.command.arguments: what followed /command */
  ATTR_TURN_FILES,                /* opencode.turn.files: [{path, additions, deletions}] */
  ATTR_TURN_TODOS,                /* opencode.turn.todos: the turn's last todo list (JSON) */
  ATTRS_N_KEYS
} attrs_key;

/* The policy for one payload. Borrowed options; out_of_memory is set by any call that could
 * not allocate (the span is then incomplete and must not be sent). */
#define ATTRS_SCREENED_MAX 256
#define ATTRS_SCREENED_SLOTS 512 /* a power of two, twice ATTRS_SCREENED_MAX */

typedef struct {
  const attrs_options *opt;
  size_t max_bytes; /* per string attribute: opt->max_attr_bytes, or 32 KiB */
  bool out_of_memory;
  /* The true size of a value that holds parts cut before parsing (payload_measure): bytes and
   * characters, of value as text (json false) or as JSON text (json true). NULL: a value is
   * what it is. chars may be NULL (not wanted). A cut value's first max_bytes bytes are always its
   * own. */
  void (*measure)(const char *value, size_t len, bool json, size_t *bytes, size_t *chars);
  /* The values of the span being built that attrs_set* already scanned (where they are stored,
   * their length and hash): attrs_finish does not scan them again unless they changed. */
  struct {
    const char *p;
    size_t len;
    uint64_t hash;
  } screened[ATTRS_SCREENED_MAX];
  size_t n_screened;
  /* screened[] by place: open addressing on p, index + 1 (0: free) */
  uint16_t screened_slot[ATTRS_SCREENED_SLOTS];
} attrs;

void attrs_init(attrs *a, const attrs_options *opt);

/* Sets key on s to value (len bytes; NUL-terminated JSON text for JSON keys), or to the
 * redaction marker its class asks for, cut to the limit. JSON keys that are input.value also
 * set input.mime_type: application/json only while the value is that JSON. */
void attrs_set(attrs *a, span *s, attrs_key key, const char *value, size_t len);

/* Sets the attribute name on s to one of a tool's main arguments (tool.command, tool.file_path,
 * tool.query, tool.url: the names come from the tool table in spanmap.c), as text: what a tool
 * was asked, so of class ATTRS_TOOL_DETAILS, whatever its name. */
void attrs_set_tool_argument(attrs *a, span *s, const char *name, const char *value, size_t len);

/* The same for a key whose name takes an index (%zu), or two. */
void attrs_set_nth(attrs *a, span *s, attrs_key key, size_t n, const char *value, size_t len);
void attrs_set_nth2(attrs *a, span *s, attrs_key key, size_t n, size_t k, const char *value,
                    size_t len);

/* About how many bytes a value of len bytes takes once set under key: its marker when its
 * class is hidden, else at most the attribute limit. For budgets (the input messages). */
size_t attrs_cost(const attrs *a, attrs_key key, size_t len);

/* The text an image's data: URL (url, len bytes) is shown as: never the data, but what it is:
 * "<data:image/png, 1234 bytes, not inlined>" (its mime type and decoded size). NULL when url
 * is not a data: URL (it is kept as it is). Writes into out (size bytes). */
const char *attrs_data_url(const char *url, size_t len, char *out, size_t size);

/* value, or "<redacted>" when its class is hidden: for user content inside a JSON attribute
 * (the tool outputs in ATTR_LLM_INPUT_TOOL_RESULTS). Borrowed, static or value. */
const char *attrs_embedded(const attrs *a, attrs_class c, const char *value);

/* The size of value (n bytes) once written as a JSON string's content the way jansson writes it
 * (control characters as \uXXXX, '"' and '\\' escaped, UTF-8 kept): *bytes and its *chars. */
void attrs_json_escaped_size(const char *value, size_t n, size_t *bytes, size_t *chars);

/* attrs_set for a value of full_len bytes (full_chars characters) of which only the first len
 * bytes were built (len > the limit, so those are all a cut value shows): sets what attrs_set
 * would set for the whole value (its cut prefix and marker, or the redaction or over-limit
 * marker with the whole value's size), so a huge value is never built whole. */
void attrs_set_sized(attrs *a, span *s, attrs_key key, const char *value, size_t len,
                     size_t full_len, size_t full_chars);

/* Sets s's status to ERROR with message (a C string; len: its full length, for the marker), or
 * "<redacted (N chars)>" when its class is hidden; secrets redacted, cut to max_bytes. */
void attrs_set_error(attrs *a, span *s, attrs_class c, const char *message, size_t len);

/* Attributes without user content: ids, names, kinds, counts. A NULL value sets nothing. */
void attrs_str(attrs *a, span *s, const char *key, const char *value);
void attrs_int(attrs *a, span *s, const char *key, int64_t value);

/* Event attributes that may carry user content: value, or the redaction marker of its class,
 * cut to the attribute limit. */
void attrs_event_str(attrs *a, span_event *e, attrs_class c, const char *key, const char *value);
void attrs_event_int(attrs *a, span_event *e, const char *key, int64_t value);

/* user.id, when one is configured, and arize.project.name (the configured project). */
void attrs_user(attrs *a, span *s);

/* OPENINFERENCE_HIDE_*: values become "__REDACTED__", hidden lists and their mime types go. */
void attrs_hide(attrs *a, span *s);

/* The last touch before a span leaves: the custom attributes (ours win on a name), then every
 * string scanned for secrets and cut to its limit (names to 1 KiB, attributes, status, events to
 * max_bytes), the span's strings together to 1 MiB, and opencode.redactions. */
void attrs_finish(attrs *a, span *s);

#endif
