/* otlp — span records to OTLP protobuf and back; see otlp.h.
 *
 * Encoding a span (once, when it is made) builds protobuf-c message structs that borrow the
 * span's strings (nothing is copied), packs them, and frees only the arrays this file
 * allocated. A request is framed around the stored span bytes without unpacking them
 * (otlp_encode_request); only its resource and scope go through protobuf-c. Decoding (a
 * response, or a span for tests) uses protobuf-c's own unpack and free_unpacked.
 */
#include "otlp.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otlp_trace_service.pb-c.h"
#include "platform.h"

/* Short names for the generated types: the package prefix is the same everywhere. */
typedef Opentelemetry__Proto__Common__V1__AnyValue pb_any_value;
typedef Opentelemetry__Proto__Common__V1__KeyValue pb_key_value;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope pb_scope;
typedef Opentelemetry__Proto__Resource__V1__Resource pb_resource;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans pb_resource_spans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans pb_scope_spans;
typedef Opentelemetry__Proto__Trace__V1__Span pb_span;
typedef Opentelemetry__Proto__Trace__V1__Span__Event pb_event;
typedef Opentelemetry__Proto__Trace__V1__Status pb_status;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest pb_request;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse pb_response;

#define OTLP_SCOPE_NAME "opencode-arize-tracing"

/* W3C "sampled" plus "parent is known to be local": every parent we set is a span we
 * made ourselves, never one propagated from another process. */
#define OTLP_SPAN_FLAGS                                                                            \
  (0x01u |                                                                                         \
   (uint32_t)OPENTELEMETRY__PROTO__TRACE__V1__SPAN_FLAGS__SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK)

/* ---- encoding ------------------------------------------------------------------- */

/* A KeyValue with its AnyValue, allocated together so a list of n attributes costs one
 * malloc. */
typedef struct {
  pb_key_value kv;
  pb_any_value value;
} otlp_kv_slot;

/* The KeyValue list of one span, event or resource: slots plus the pointer array that
 * protobuf-c wants, in one block. */
typedef struct {
  otlp_kv_slot *slots;
  pb_key_value **ptrs;
  size_t n;
  void **arrays; /* one block per list-valued attribute (ArrayValue and its items) */
  size_t n_arrays;
} otlp_kv_list;

/* Room for n attributes; *list is all-NULL for n == 0. -1 when out of memory. */
static int otlp_kv_list_alloc(otlp_kv_list *list, size_t n) {
  list->slots = NULL, list->ptrs = NULL, list->n = 0;
  list->arrays = NULL, list->n_arrays = 0;
  if (n == 0) return 0;
  if (n > SIZE_MAX / (sizeof(otlp_kv_slot) + sizeof(pb_key_value *))) return -1;
  /* Slots first: their alignment is at least a pointer's, so the pointer array that
   * follows them is aligned too. */
  void *block = malloc(n * (sizeof(otlp_kv_slot) + sizeof(pb_key_value *)));
  if (!block) return -1;
  list->slots = block;
  list->ptrs = (pb_key_value **)(list->slots + n);
  return 0;
}

static void otlp_kv_list_free(otlp_kv_list *list) {
  for (size_t i = 0; i < list->n_arrays; i++) free(list->arrays[i]);
  free(list->arrays);
  list->arrays = NULL, list->n_arrays = 0;
  free(list->slots);
  list->slots = NULL, list->ptrs = NULL, list->n = 0;
}

/* Appends an attribute named key (borrowed) and returns its still-empty value to fill.
 * The list must have room. */
static pb_any_value *otlp_kv_list_push(otlp_kv_list *list, const char *key) {
  otlp_kv_slot *slot = &list->slots[list->n];
  opentelemetry__proto__common__v1__key_value__init(&slot->kv);
  opentelemetry__proto__common__v1__any_value__init(&slot->value);
  slot->kv.key = (char *)key;
  slot->kv.value = &slot->value;
  list->ptrs[list->n++] = &slot->kv;
  return &slot->value;
}

static void otlp_set_string_value(pb_any_value *v, const char *s) {
  v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
  v->string_value = (char *)(s ? s : "");
}

/* Sets v to the AnyValue member of attr's type; strings are borrowed. */
static void otlp_set_value(pb_any_value *v, const span_attr *attr) {
  switch (attr->type) {
  case SPAN_ATTR_STRING: otlp_set_string_value(v, attr->value.s); break;
  case SPAN_ATTR_INT:
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
    v->int_value = attr->value.i;
    break;
  case SPAN_ATTR_DOUBLE:
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
    v->double_value = attr->value.d;
    break;
  case SPAN_ATTR_BOOL:
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
    v->bool_value = attr->value.b;
    break;
  case SPAN_ATTR_STRING_LIST: /* built by otlp_set_list_value, which owns the memory */ break;
  }
}

/* An ArrayValue of strings for a list attribute, in one block the list frees. */
typedef Opentelemetry__Proto__Common__V1__ArrayValue pb_array_value;

static int otlp_set_list_value(otlp_kv_list *list, pb_any_value *v, const span_attr *attr) {
  size_t n = attr->value.list.n;
  void **arrays = realloc(list->arrays, (list->n_arrays + 1) * sizeof *arrays);
  if (!arrays) return -1;
  list->arrays = arrays;
  /* ArrayValue, then the values, then the pointers to them: every part pointer-aligned */
  char *block =
      malloc(sizeof(pb_array_value) + n * (sizeof(pb_any_value) + sizeof(pb_any_value *)));
  if (!block) return -1;
  list->arrays[list->n_arrays++] = block;
  pb_array_value *array = (pb_array_value *)block;
  pb_any_value *values = (pb_any_value *)(block + sizeof *array);
  pb_any_value **ptrs = (pb_any_value **)(values + n);
  opentelemetry__proto__common__v1__array_value__init(array);
  for (size_t i = 0; i < n; i++) {
    opentelemetry__proto__common__v1__any_value__init(&values[i]);
    otlp_set_string_value(&values[i], attr->value.list.items[i]);
    ptrs[i] = &values[i];
  }
  array->n_values = n;
  array->values = ptrs;
  v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
  v->array_value = array;
  return 0;
}

/* A list holding exactly the attributes of a. -1 when out of memory (nothing left to free). */
static int otlp_kv_list_from_attrs(otlp_kv_list *list, const span_attrs *a) {
  if (otlp_kv_list_alloc(list, a->len) < 0) return -1;
  for (size_t i = 0; i < a->len; i++) {
    pb_any_value *v = otlp_kv_list_push(list, a->items[i].key);
    if (a->items[i].type != SPAN_ATTR_STRING_LIST) {
      otlp_set_value(v, &a->items[i]);
    } else if (otlp_set_list_value(list, v, &a->items[i]) < 0) {
      otlp_kv_list_free(list);
      return -1;
    }
  }
  return 0;
}

/* The events of one span, with their attribute lists. */
typedef struct {
  pb_event *events;
  pb_event **ptrs;
  otlp_kv_list *attrs;
  size_t n;
} otlp_event_list;

static void otlp_event_list_free(otlp_event_list *list) {
  if (list->attrs)
    for (size_t i = 0; i < list->n; i++) otlp_kv_list_free(&list->attrs[i]);
  free(list->events);
  free(list->ptrs);
  free(list->attrs);
  memset(list, 0, sizeof *list);
}

static int otlp_event_list_build(otlp_event_list *list, const span *s) {
  memset(list, 0, sizeof *list);
  if (s->n_events == 0) return 0;
  list->events = calloc(s->n_events, sizeof *list->events);
  list->ptrs = calloc(s->n_events, sizeof *list->ptrs);
  list->attrs = calloc(s->n_events, sizeof *list->attrs);
  if (!list->events || !list->ptrs || !list->attrs) goto oom;
  for (size_t i = 0; i < s->n_events; i++) {
    const span_event *e = &s->events[i];
    pb_event *ev = &list->events[i];
    opentelemetry__proto__trace__v1__span__event__init(ev);
    ev->time_unix_nano = e->time_ns;
    ev->name = e->name;
    list->n = i + 1; /* so that free releases this event's list too */
    if (otlp_kv_list_from_attrs(&list->attrs[i], &e->attrs) < 0) goto oom;
    ev->n_attributes = list->attrs[i].n;
    ev->attributes = list->attrs[i].ptrs;
    list->ptrs[i] = ev;
  }
  return 0;
oom:
  otlp_event_list_free(list);
  return -1;
}

static Opentelemetry__Proto__Trace__V1__Status__StatusCode otlp_status_code(span_status st) {
  switch (st) {
  case SPAN_STATUS_OK: return OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_OK;
  case SPAN_STATUS_ERROR:
    return OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
  default: return OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_UNSET;
  }
}

/* Packs any message into a fresh malloc'd buffer. -1 when out of memory. */
static int otlp_pack(const ProtobufCMessage *msg, uint8_t **out, size_t *out_len) {
  size_t len = protobuf_c_message_get_packed_size(msg);
  uint8_t *buf = malloc(len ? len : 1); /* malloc(0) may return NULL */
  if (!buf) return -1;
  *out_len = protobuf_c_message_pack(msg, buf);
  *out = buf;
  return 0;
}

int otlp_encode_span(const span *s, uint8_t **out, size_t *out_len) {
  *out = NULL, *out_len = 0;
  pb_span msg;
  opentelemetry__proto__trace__v1__span__init(&msg);
  msg.trace_id.data = (uint8_t *)s->trace_id;
  msg.trace_id.len = sizeof s->trace_id;
  msg.span_id.data = (uint8_t *)s->span_id;
  msg.span_id.len = sizeof s->span_id;
  if (s->has_parent) {
    msg.parent_span_id.data = (uint8_t *)s->parent_span_id;
    msg.parent_span_id.len = sizeof s->parent_span_id;
  }
  msg.flags = OTLP_SPAN_FLAGS;
  msg.name = s->name;
  msg.kind = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_INTERNAL;
  msg.start_time_unix_nano = s->start_ns;
  msg.end_time_unix_nano = s->end_ns;

  /* An UNSET status with no message is the same as no Status at all: leave it out. */
  pb_status status;
  opentelemetry__proto__trace__v1__status__init(&status);
  if (s->status != SPAN_STATUS_UNSET || s->status_message) {
    status.code = otlp_status_code(s->status);
    if (s->status_message) status.message = s->status_message;
    msg.status = &status;
  }

  otlp_kv_list attrs;
  otlp_event_list events;
  if (otlp_kv_list_from_attrs(&attrs, &s->attrs) < 0) return -1;
  if (otlp_event_list_build(&events, s) < 0) {
    otlp_kv_list_free(&attrs);
    return -1;
  }
  msg.n_attributes = attrs.n;
  msg.attributes = attrs.ptrs;
  msg.n_events = events.n;
  msg.events = events.ptrs;

  int rc = otlp_pack(&msg.base, out, out_len);
  otlp_event_list_free(&events);
  otlp_kv_list_free(&attrs);
  return rc;
}

/* ---- requests --------------------------------------------------------------------- */

static void otlp_error(char *error, size_t error_len, const char *fmt, ...) PLATFORM_PRINTF(3, 4);

static void otlp_error(char *error, size_t error_len, const char *fmt, ...) {
  if (!error || error_len == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(error, error_len, fmt, ap);
  va_end(ap);
}

/* Whether an extra resource attribute repeats a key that res sets explicitly. */
static bool otlp_extra_is_shadowed(const otlp_resource *res, const char *key) {
  if (strcmp(key, "service.name") == 0) return res->service_name != NULL;
  if (strcmp(key, "openinference.project.name") == 0 || strcmp(key, "arize.project.name") == 0)
    return res->project_name != NULL;
  return false;
}

/* The resource attributes: the fixed ones first, then the extras. Resource keys must be
 * unique, and the explicit settings win (as OTEL_SERVICE_NAME wins over
 * OTEL_RESOURCE_ATTRIBUTES), so an extra that repeats a fixed key is left out. */
static int otlp_resource_attrs(otlp_kv_list *list, const otlp_resource *res) {
  if (otlp_kv_list_alloc(list, 3 + res->extra.len) < 0) return -1;
  if (res->service_name)
    otlp_set_string_value(otlp_kv_list_push(list, "service.name"), res->service_name);
  if (res->project_name) {
    otlp_set_string_value(otlp_kv_list_push(list, "openinference.project.name"), res->project_name);
    otlp_set_string_value(otlp_kv_list_push(list, "arize.project.name"), res->project_name);
  }
  for (size_t i = 0; i < res->extra.len; i++) {
    const span_attr *a = &res->extra.items[i];
    if (!otlp_extra_is_shadowed(res, a->key)) otlp_set_value(otlp_kv_list_push(list, a->key), a);
  }
  return 0;
}

/* Ids of the wrong size mean the stored bytes are not one of our spans (corruption, or
 * another message that happened to parse): a receiver would reject them anyway. */
static bool otlp_span_ids_valid(const pb_span *sp) {
  return sp->trace_id.len == 16 && sp->span_id.len == 8 &&
         (sp->parent_span_id.len == 0 || sp->parent_span_id.len == 8);
}

/* ---- framing: encoded spans go into a request as they are ----------------------------- */

/* Protobuf wire format, just what framing needs. */
enum { WIRE_VARINT = 0, WIRE_I64 = 1, WIRE_LEN = 2, WIRE_I32 = 5 };

static size_t otlp_varint_size(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) v >>= 7, n++;
  return n;
}

static uint8_t *otlp_put_varint(uint8_t *p, uint64_t v) {
  while (v >= 0x80) *p++ = (uint8_t)(v | 0x80), v >>= 7;
  *p++ = (uint8_t)v;
  return p;
}

/* Reads a varint at *p (before end); false when truncated or longer than 10 bytes. */
static bool otlp_get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
  *v = 0;
  for (int shift = 0; shift < 70 && *p < end; shift += 7) {
    uint8_t b = *(*p)++;
    *v |= (uint64_t)(b & 0x7f) << shift;
    if (b < 0x80) return true;
  }
  return false;
}

/* Whether data is a well-formed message at the top level with the id sizes of a Span
 * (trace_id 16 bytes, span_id 8, parent_span_id none or 8). It does not descend into
 * attributes: the bytes are ours (otlp_encode_span) and checksummed on disk, so this only has
 * to catch a record that is not a span at all. */
static bool otlp_span_bytes_valid(const uint8_t *data, size_t len) {
  const uint8_t *p = data, *end = data + len;
  bool trace = false, span = false;
  while (p < end) {
    uint64_t tag, v;
    if (!otlp_get_varint(&p, end, &tag) || tag >> 3 == 0) return false;
    switch (tag & 7) {
    case WIRE_VARINT:
      if (!otlp_get_varint(&p, end, &v)) return false;
      break;
    case WIRE_I64:
      if (end - p < 8) return false;
      p += 8;
      break;
    case WIRE_I32:
      if (end - p < 4) return false;
      p += 4;
      break;
    case WIRE_LEN:
      if (!otlp_get_varint(&p, end, &v) || v > (uint64_t)(end - p)) return false;
      if (tag >> 3 == 1) trace = v == 16;
      else if (tag >> 3 == 2) span = v == 8;
      else if (tag >> 3 == 4 && v != 0 && v != 8) return false;
      p += v;
      break;
    default: return false;
    }
  }
  return trace && span;
}

/* A length-delimited field header: tag, then the length. Returns the end of it. */
static uint8_t *otlp_put_len_header(uint8_t *p, unsigned field, size_t len) {
  p = otlp_put_varint(p, (uint64_t)field << 3 | WIRE_LEN);
  return otlp_put_varint(p, len);
}

static size_t otlp_len_field_size(size_t len) { return 1 + otlp_varint_size(len) + len; }

int otlp_encode_request(const otlp_resource *res, const uint8_t *const *spans,
                        const size_t *span_lens, size_t n_spans, uint8_t **out, size_t *out_len,
                        char *error, size_t error_len) {
  *out = NULL, *out_len = 0;
  for (size_t i = 0; i < n_spans; i++) {
    if (!otlp_span_bytes_valid(spans[i], span_lens[i])) {
      otlp_error(error, error_len,
                 "span %zu of %zu: not a protobuf Span with valid ids (%zu bytes)", i, n_spans,
                 span_lens[i]);
      return -1;
    }
  }
  /* The resource and the scope are packed by protobuf-c, once per request; the spans are
   * framed around their stored bytes, never unpacked. Field order and sizes are what
   * protobuf-c itself would write for the same message. */
  otlp_kv_list attrs;
  if (otlp_resource_attrs(&attrs, res) < 0) {
    otlp_error(error, error_len, "out of memory");
    return -1;
  }
  pb_resource resource;
  opentelemetry__proto__resource__v1__resource__init(&resource);
  resource.n_attributes = attrs.n;
  resource.attributes = attrs.ptrs;
  pb_scope scope;
  opentelemetry__proto__common__v1__instrumentation_scope__init(&scope);
  scope.name = OTLP_SCOPE_NAME;
  if (res->scope_version) scope.version = (char *)res->scope_version;
  size_t resource_len = protobuf_c_message_get_packed_size(&resource.base);
  size_t scope_len = protobuf_c_message_get_packed_size(&scope.base);

  size_t scope_spans_len = otlp_len_field_size(scope_len); /* ScopeSpans.scope = 1 */
  for (size_t i = 0; i < n_spans; i++)
    scope_spans_len += otlp_len_field_size(span_lens[i]); /* .spans = 2 */
  size_t resource_spans_len =
      otlp_len_field_size(resource_len) + otlp_len_field_size(scope_spans_len);
  size_t total = otlp_len_field_size(resource_spans_len); /* request.resource_spans = 1 */

  uint8_t *buf = malloc(total ? total : 1), *p = buf;
  if (!buf) {
    otlp_kv_list_free(&attrs);
    otlp_error(error, error_len, "out of memory");
    return -1;
  }
  p = otlp_put_len_header(p, 1, resource_spans_len);
  p = otlp_put_len_header(p, 1, resource_len);
  p += protobuf_c_message_pack(&resource.base, p);
  p = otlp_put_len_header(p, 2, scope_spans_len);
  p = otlp_put_len_header(p, 1, scope_len);
  p += protobuf_c_message_pack(&scope.base, p);
  for (size_t i = 0; i < n_spans; i++) {
    p = otlp_put_len_header(p, 2, span_lens[i]);
    memcpy(p, spans[i], span_lens[i]);
    p += span_lens[i];
  }
  otlp_kv_list_free(&attrs);
  *out = buf;
  *out_len = (size_t)(p - buf);
  return 0;
}

/* ---- responses ------------------------------------------------------------------- */

int otlp_parse_response(const uint8_t *body, size_t len, int64_t *rejected_spans, char **message) {
  if (rejected_spans) *rejected_spans = 0;
  if (message) *message = NULL;
  if (len == 0) return 0; /* a 2xx with no body: everything accepted */
  pb_response *resp =
      opentelemetry__proto__collector__trace__v1__export_trace_service_response__unpack(NULL, len,
                                                                                        body);
  if (!resp) return -1;
  int rc = 0;
  const Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess *ps =
      resp->partial_success;
  if (ps) {
    if (rejected_spans) *rejected_spans = ps->rejected_spans;
    if (message && ps->error_message && ps->error_message[0] &&
        !(*message = strdup(ps->error_message)))
      rc = -1;
  }
  opentelemetry__proto__collector__trace__v1__export_trace_service_response__free_unpacked(resp,
                                                                                           NULL);
  return rc;
}

/* ---- decoding -------------------------------------------------------------------- */

static span_status otlp_span_status(const pb_status *st) {
  if (!st) return SPAN_STATUS_UNSET;
  switch (st->code) {
  case OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_OK: return SPAN_STATUS_OK;
  case OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR:
    return SPAN_STATUS_ERROR;
  default: return SPAN_STATUS_UNSET;
  }
}

/* Copies one attribute onto s. Arrays, maps and bytes have no span_attr type and are
 * skipped: we never encode them, and decoding is for tests and diagnostics. */
/* A list of strings (what spans.h can hold, e.g. tag.tags); other arrays are skipped. */
static int otlp_decode_string_list(span *s, const char *key, const pb_array_value *array) {
  if (!array) return 0;
  const char **items = malloc((array->n_values ? array->n_values : 1) * sizeof *items);
  if (!items) return -1;
  size_t n = 0;
  for (size_t i = 0; i < array->n_values; i++) {
    const pb_any_value *v = array->values[i];
    if (!v || v->value_case != OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE) {
      free(items);
      return 0;
    }
    items[n++] = v->string_value ? v->string_value : "";
  }
  int rc = span_set_string_list(s, key, items, n);
  free(items);
  return rc;
}

static int otlp_decode_attr(span *s, const pb_key_value *kv) {
  const pb_any_value *v = kv->value;
  if (!kv->key || !v) return 0;
  switch (v->value_case) {
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
    return span_set_string(s, kv->key, v->string_value ? v->string_value : "");
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
    return span_set_int(s, kv->key, v->int_value);
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
    return span_set_double(s, kv->key, v->double_value);
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
    return span_set_bool(s, kv->key, v->bool_value);
  case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE:
    return otlp_decode_string_list(s, kv->key, v->array_value);
  default: return 0;
  }
}

/* Event attributes: spans.h offers string setters only for events (all reconcile
 * writes), so other types are skipped here. */
static int otlp_decode_event(span *s, const pb_event *ev) {
  span_event *e = span_add_event(s, ev->name ? ev->name : "", ev->time_unix_nano);
  if (!e) return -1;
  for (size_t i = 0; i < ev->n_attributes; i++) {
    const pb_key_value *kv = ev->attributes[i];
    if (kv->key && kv->value &&
        kv->value->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE &&
        span_event_set_string(e, kv->key, kv->value->string_value ? kv->value->string_value : "") <
            0)
      return -1;
  }
  return 0;
}

static span *otlp_span_from_message(const pb_span *sp) {
  span *s = span_new(sp->name ? sp->name : "");
  if (!s) return NULL;
  memcpy(s->trace_id, sp->trace_id.data, 16);
  memcpy(s->span_id, sp->span_id.data, 8);
  if (sp->parent_span_id.len == 8) {
    memcpy(s->parent_span_id, sp->parent_span_id.data, 8);
    s->has_parent = true;
  }
  s->start_ns = sp->start_time_unix_nano;
  s->end_ns = sp->end_time_unix_nano;
  const char *msg =
      sp->status && sp->status->message && sp->status->message[0] ? sp->status->message : NULL;
  if (span_set_status(s, otlp_span_status(sp->status), msg) < 0) goto fail;
  for (size_t i = 0; i < sp->n_attributes; i++)
    if (otlp_decode_attr(s, sp->attributes[i]) < 0) goto fail;
  for (size_t i = 0; i < sp->n_events; i++)
    if (otlp_decode_event(s, sp->events[i]) < 0) goto fail;
  return s;
fail:
  span_free(s);
  return NULL;
}

span *otlp_decode_span(const uint8_t *data, size_t len) {
  pb_span *sp = opentelemetry__proto__trace__v1__span__unpack(NULL, len, data);
  if (!sp) return NULL;
  span *s = otlp_span_ids_valid(sp) ? otlp_span_from_message(sp) : NULL;
  opentelemetry__proto__trace__v1__span__free_unpacked(sp, NULL);
  return s;
}
