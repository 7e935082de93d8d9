#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "otlp.h"
#include "otlp_trace_service.pb-c.h"

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest pb_request;
typedef Opentelemetry__Proto__Common__V1__KeyValue pb_key_value;

/* A span with fixed ids: byte i of every id is seed + i. */
static span *make_span(const char *name, uint8_t seed) {
  span *s = span_new(name);
  for (int i = 0; i < 16; i++) s->trace_id[i] = (uint8_t)(seed + i);
  for (int i = 0; i < 8; i++) s->span_id[i] = (uint8_t)(seed + 100 + i);
  s->start_ns = 1700000000000000000ull + seed;
  s->end_ns = 1700000001000000000ull + seed;
  return s;
}

static void encode(const span *s, uint8_t **out, size_t *len) {
  CHECK(otlp_encode_span(s, out, len) == 0);
  CHECK(*out != NULL && *len > 0);
}

static void test_span_round_trips_every_field(void) {
  span *s = make_span("LLM: claude", 1);
  for (int i = 0; i < 8; i++) s->parent_span_id[i] = (uint8_t)(0xA0 + i);
  s->has_parent = true;
  CHECK(span_set_string(s, "openinference.span.kind", "LLM") == 0);
  CHECK(span_set_string(s, "input.value", "h\xC3\xA9llo") == 0);
  CHECK(span_set_int(s, "llm.token_count.prompt", -1234567890123ll) == 0);
  CHECK(span_set_double(s, "llm.cost", 0.125) == 0);
  CHECK(span_set_bool(s, "cached", true) == 0);
  CHECK(span_set_bool(s, "streamed", false) == 0);
  span_event *e = span_add_event(s, "exception", 1700000000500000000ull);
  CHECK(span_event_set_string(e, "exception.type", "APIError") == 0);
  CHECK(span_event_set_string(e, "exception.message", "rate limited") == 0);
  CHECK(span_add_event(s, "retry", 1700000000600000000ull) != NULL);
  CHECK(span_set_status(s, SPAN_STATUS_ERROR, "bad request") == 0);

  uint8_t *bytes;
  size_t len;
  encode(s, &bytes, &len);
  span *d = otlp_decode_span(bytes, len);
  CHECK(d != NULL);
  if (d) {
    CHECK_STR(d->name, "LLM: claude");
    CHECK(memcmp(d->trace_id, s->trace_id, 16) == 0);
    CHECK(memcmp(d->span_id, s->span_id, 8) == 0);
    CHECK(d->has_parent);
    CHECK(memcmp(d->parent_span_id, s->parent_span_id, 8) == 0);
    CHECK(d->start_ns == s->start_ns);
    CHECK(d->end_ns == s->end_ns);
    CHECK_INT(d->attrs.len, 6);
    CHECK_STR(span_get(d, "openinference.span.kind")->value.s, "LLM");
    CHECK_STR(span_get(d, "input.value")->value.s, "h\xC3\xA9llo");
    CHECK_INT(span_get(d, "llm.token_count.prompt")->type, SPAN_ATTR_INT);
    CHECK_INT(span_get(d, "llm.token_count.prompt")->value.i, -1234567890123ll);
    CHECK_INT(span_get(d, "llm.cost")->type, SPAN_ATTR_DOUBLE);
    CHECK(span_get(d, "llm.cost")->value.d == 0.125);
    CHECK_INT(span_get(d, "cached")->type, SPAN_ATTR_BOOL);
    CHECK(span_get(d, "cached")->value.b == true);
    CHECK(span_get(d, "streamed")->value.b == false);
    CHECK_INT(d->n_events, 2);
    CHECK_STR(d->events[0].name, "exception");
    CHECK(d->events[0].time_ns == 1700000000500000000ull);
    CHECK_STR(span_attrs_get(&d->events[0].attrs, "exception.type")->value.s, "APIError");
    CHECK_STR(span_attrs_get(&d->events[0].attrs, "exception.message")->value.s, "rate limited");
    CHECK_STR(d->events[1].name, "retry");
    CHECK_INT(d->events[1].attrs.len, 0);
    CHECK_INT(d->status, SPAN_STATUS_ERROR);
    CHECK_STR(d->status_message, "bad request");
  }
  span_free(d);
  span_free(s);
  free(bytes);
}

static void test_root_span_has_no_parent_and_unset_status(void) {
  span *s = make_span("Turn", 7);
  uint8_t *bytes;
  size_t len;
  encode(s, &bytes, &len);
  span *d = otlp_decode_span(bytes, len);
  CHECK(d != NULL);
  if (d) {
    CHECK(!d->has_parent);
    CHECK_INT(d->status, SPAN_STATUS_UNSET);
    CHECK(d->status_message == NULL);
    CHECK_INT(d->attrs.len, 0);
    CHECK_INT(d->n_events, 0);
  }
  span_free(d);
  span_free(s);
  free(bytes);
}

static void test_ok_status_without_message_round_trips(void) {
  span *s = make_span("TOOL: bash", 3);
  CHECK(span_set_status(s, SPAN_STATUS_OK, NULL) == 0);
  CHECK(span_set_double(s, "nan", NAN) == 0);
  uint8_t *bytes;
  size_t len;
  encode(s, &bytes, &len);
  span *d = otlp_decode_span(bytes, len);
  CHECK(d != NULL);
  if (d) {
    CHECK_INT(d->status, SPAN_STATUS_OK);
    CHECK(d->status_message == NULL);
    CHECK(isnan(span_get(d, "nan")->value.d));
  }
  span_free(d);
  span_free(s);
  free(bytes);
}

/* The string value of key in a KeyValue list, or NULL. */
static const char *kv_string(pb_key_value **kvs, size_t n, const char *key) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(kvs[i]->key, key) == 0 && kvs[i]->value &&
        kvs[i]->value->value_case ==
            OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE)
      return kvs[i]->value->string_value;
  return NULL;
}

static size_t kv_count(pb_key_value **kvs, size_t n, const char *key) {
  size_t count = 0;
  for (size_t i = 0; i < n; i++) count += strcmp(kvs[i]->key, key) == 0;
  return count;
}

static void test_request_carries_resource_scope_and_spans(void) {
  uint8_t *bytes[3];
  size_t lens[3];
  const char *names[3] = {"Turn", "LLM: m1", "TOOL: read"};
  for (int i = 0; i < 3; i++) {
    span *s = make_span(names[i], (uint8_t)(10 * (i + 1)));
    encode(s, &bytes[i], &lens[i]);
    span_free(s);
  }
  otlp_resource res = {
      .service_name = "opencode", .project_name = "my-project", .scope_version = "0.3.1"};
  CHECK(span_attrs_set_string(&res.extra, "deployment.environment", "dev", 3) == 0);
  /* an extra that repeats a fixed key must not produce a duplicate */
  CHECK(span_attrs_set_string(&res.extra, "service.name", "other", 5) == 0);

  uint8_t *req = NULL;
  size_t req_len = 0;
  char error[128] = "";
  CHECK(otlp_encode_request(&res, (const uint8_t *const *)bytes, lens, 3, &req, &req_len, error,
                            sizeof error) == 0);
  pb_request *r = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
      NULL, req_len, req);
  CHECK(r != NULL);
  if (r) {
    CHECK_INT(r->n_resource_spans, 1);
    Opentelemetry__Proto__Trace__V1__ResourceSpans *rs = r->resource_spans[0];
    pb_key_value **kvs = rs->resource->attributes;
    size_t n = rs->resource->n_attributes;
    CHECK_STR(kv_string(kvs, n, "service.name"), "opencode");
    CHECK_INT(kv_count(kvs, n, "service.name"), 1);
    CHECK_STR(kv_string(kvs, n, "openinference.project.name"), "my-project");
    CHECK_STR(kv_string(kvs, n, "arize.project.name"), "my-project");
    CHECK_STR(kv_string(kvs, n, "deployment.environment"), "dev");
    CHECK_INT(n, 4);
    CHECK_INT(rs->n_scope_spans, 1);
    Opentelemetry__Proto__Trace__V1__ScopeSpans *ss = rs->scope_spans[0];
    CHECK_STR(ss->scope->name, "opencode-arize-tracing");
    CHECK_STR(ss->scope->version, "0.3.1");
    CHECK_INT(ss->n_spans, 3);
    for (size_t i = 0; i < ss->n_spans && i < 3; i++) {
      CHECK_STR(ss->spans[i]->name, names[i]);
      CHECK_INT(ss->spans[i]->kind,
                OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_INTERNAL);
      CHECK_INT(ss->spans[i]->trace_id.len, 16);
      CHECK_INT(ss->spans[i]->trace_id.data[0], 10 * (i + 1));
    }
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(r,
                                                                                            NULL);
  }
  free(req);
  span_attrs_clear(&res.extra);
  for (int i = 0; i < 3; i++) free(bytes[i]);
}

static void test_request_with_a_garbage_span_fails_with_error(void) {
  span *s = make_span("Turn", 1);
  uint8_t *good;
  size_t good_len;
  encode(s, &good, &good_len);
  span_free(s);
  static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x01};
  const uint8_t *spans[2] = {good, garbage};
  size_t lens[2] = {good_len, sizeof garbage};
  otlp_resource res = {.service_name = "opencode", .project_name = "p", .scope_version = "1"};
  uint8_t *req = (uint8_t *)"unchanged";
  size_t req_len = 1;
  char error[128] = "";
  CHECK(otlp_encode_request(&res, spans, lens, 2, &req, &req_len, error, sizeof error) == -1);
  CHECK(req == NULL);
  CHECK(strstr(error, "span 1") != NULL);
  free(good);
}

static void test_request_rejects_a_message_without_valid_ids(void) {
  /* an empty buffer parses as a Span with every field empty */
  const uint8_t *spans[1] = {(const uint8_t *)""};
  size_t lens[1] = {0};
  otlp_resource res = {.service_name = "opencode", .project_name = "p", .scope_version = "1"};
  uint8_t *req;
  size_t req_len;
  CHECK(otlp_encode_request(&res, spans, lens, 1, &req, &req_len, NULL, 0) == -1);
  CHECK(otlp_decode_span((const uint8_t *)"", 0) == NULL);
}

static void test_response_reports_partial_success(void) {
  Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess ps =
      OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_PARTIAL_SUCCESS__INIT;
  ps.rejected_spans = 2;
  ps.error_message = "span name too long";
  Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse resp =
      OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_RESPONSE__INIT;
  resp.partial_success = &ps;
  uint8_t buf[128];
  size_t len =
      opentelemetry__proto__collector__trace__v1__export_trace_service_response__pack(&resp, buf);
  int64_t rejected = -1;
  char *message = NULL;
  CHECK(otlp_parse_response(buf, len, &rejected, &message) == 0);
  CHECK_INT(rejected, 2);
  CHECK_STR(message, "span name too long");
  free(message);
}

static void test_empty_response_body_means_all_accepted(void) {
  int64_t rejected = -1;
  char *message = (char *)"stale";
  CHECK(otlp_parse_response(NULL, 0, &rejected, &message) == 0);
  CHECK_INT(rejected, 0);
  CHECK(message == NULL);
  /* an empty message (partial_success absent) reads the same */
  static const uint8_t empty_ps[] = {0x0a, 0x00};
  CHECK(otlp_parse_response(empty_ps, sizeof empty_ps, &rejected, &message) == 0);
  CHECK_INT(rejected, 0);
  CHECK(message == NULL);
}

static void test_garbage_bytes_are_rejected_without_crashing(void) {
  static const uint8_t inputs[][8] = {
      {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, /* varint too long */
      {0x0a, 0x7f, 0x01},                               /* length past the end */
      {0x0b, 0x00},                                     /* start-group wire type */
      {'<', 'h', 't', 'm', 'l', '>', '\n', 0},          /* an HTML error page */
  };
  static const size_t lens[] = {8, 3, 2, 7};
  for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
    int64_t rejected;
    char *message = NULL;
    CHECK(otlp_parse_response(inputs[i], lens[i], &rejected, &message) == -1);
    CHECK(message == NULL);
    CHECK(otlp_decode_span(inputs[i], lens[i]) == NULL);
  }
  /* every truncation of a valid span either decodes or fails cleanly */
  span *s = make_span("LLM", 5);
  CHECK(span_set_string(s, "input.value", "some text") == 0);
  uint8_t *bytes;
  size_t len;
  encode(s, &bytes, &len);
  for (size_t cut = 0; cut < len; cut++) span_free(otlp_decode_span(bytes, cut));
  free(bytes);
  span_free(s);
}

/* Encode once: the request carries each span's stored bytes verbatim, and is the very
 * message protobuf-c would pack for the same content. */
static void test_request_frames_the_stored_span_bytes_as_they_are(void) {
  uint8_t *bytes[2];
  size_t lens[2];
  for (int i = 0; i < 2; i++) {
    span *s = make_span(i ? "LLM" : "Turn", (uint8_t)(i + 1));
    encode(s, &bytes[i], &lens[i]);
    span_free(s);
  }
  span_attrs extra = {0};
  span_attrs_set_string(&extra, "deployment.environment", "test", 4);
  otlp_resource res = {
      .service_name = "opencode", .project_name = "p", .scope_version = "1.2", .extra = extra};
  uint8_t *req = NULL;
  size_t req_len = 0;
  CHECK(otlp_encode_request(&res, (const uint8_t *const *)bytes, lens, 2, &req, &req_len, NULL,
                            0) == 0);
  for (int i = 0; i < 2; i++) CHECK(memmem(req, req_len, bytes[i], lens[i]) != NULL);
  Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest *r =
      opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
          NULL, req_len, req);
  CHECK(r != NULL);
  size_t repacked_len =
      opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(r);
  uint8_t *repacked = malloc(repacked_len);
  opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(r, repacked);
  CHECK_INT(repacked_len, req_len);
  CHECK(memcmp(repacked, req, req_len) == 0);
  free(repacked);
  opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(r, NULL);
  free(req);
  span_attrs_clear(&extra);
  free(bytes[0]);
  free(bytes[1]);
}

int main(void) {
  RUN(test_request_frames_the_stored_span_bytes_as_they_are);
  RUN(test_span_round_trips_every_field);
  RUN(test_root_span_has_no_parent_and_unset_status);
  RUN(test_ok_status_without_message_round_trips);
  RUN(test_request_carries_resource_scope_and_spans);
  RUN(test_request_with_a_garbage_span_fails_with_error);
  RUN(test_request_rejects_a_message_without_valid_ids);
  RUN(test_response_reports_partial_success);
  RUN(test_empty_response_body_means_all_accepted);
  RUN(test_garbage_bytes_are_rejected_without_crashing);
  return check_done();
}
