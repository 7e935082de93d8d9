/* otlp — span records to OTLP protobuf and back (opentelemetry-proto v1.x, protobuf-c).
 *
 * A span is encoded once, when reconcile emits it (the tracer's emit calls otlp_encode_span),
 * as an opentelemetry.proto.trace.v1.Span message; the queue and the spool keep those bytes
 * (and a restart reads them back as they are), and a batch of them is framed into one
 * ExportTraceServiceRequest at send time, with the resource of the config then in force.
 * Nothing decodes a stored span except tests and diagnostics (otlp_decode_span).
 */
#ifndef OTLP_H
#define OTLP_H

#include <stddef.h>
#include <stdint.h>

#include "spans.h"

/* Encodes one span as a protobuf Span message. On success *out is malloc'd (caller frees)
 * and 0 is returned; -1 when out of memory. SpanKind is INTERNAL, as OpenInference does. */
int otlp_encode_span(const span *s, uint8_t **out, size_t *out_len);

/* The resource and scope of a request. Strings are borrowed. A NULL service_name or
 * project_name leaves those attributes out. An extra attribute that repeats a key set
 * here is dropped (keys must be unique; the explicit setting wins, as OTEL_SERVICE_NAME
 * wins over OTEL_RESOURCE_ATTRIBUTES). */
typedef struct {
  const char *service_name;  /* service.name */
  const char *project_name;  /* openinference.project.name and arize.project.name */
  const char *scope_version; /* instrumentation scope version; scope name is fixed */
  span_attrs extra;          /* further resource attributes (borrowed, may be empty) */
} otlp_resource;

/* Builds an ExportTraceServiceRequest with one ResourceSpans / ScopeSpans holding the
 * given encoded spans (as made by otlp_encode_span), framed as they are: the request holds the
 * very bytes stored for each span, with length-delimited headers written around them (encode
 * once: a span is never unpacked and packed again). *out is malloc'd, caller frees.
 * Returns 0, or -1 when a span does not decode (or has a trace_id that is not 16 bytes,
 * a span_id that is not 8) or memory runs out; error (may be NULL) then says which span
 * by index. */
int otlp_encode_request(const otlp_resource *res, const uint8_t *const *spans,
                        const size_t *span_lens, size_t n_spans, uint8_t **out, size_t *out_len,
                        char *error, size_t error_len);

/* Reads an ExportTraceServiceResponse body. *rejected_spans gets
 * partial_success.rejected_spans (0 when absent); *message a malloc'd copy of
 * partial_success.error_message, or NULL. An empty body is a valid empty response.
 * Returns 0, or -1 when the body is not a valid response. */
int otlp_parse_response(const uint8_t *body, size_t len, int64_t *rejected_spans, char **message);

/* Reads an encoded Span back (for tests and diagnostics): the caller frees with
 * span_free. NULL when the bytes are not a Span with valid id sizes, or out of memory.
 * Attribute values of a type spans.h cannot hold (arrays, maps, bytes), and non-string
 * event attributes, are skipped. */
span *otlp_decode_span(const uint8_t *data, size_t len);

#endif
