'use strict';
// What the exporter does with each answer of the backend, in words, for `status` and `doctor`:
// the classes of native/retry.h (retry_classify), so these words say what the core does.
// Until the core reports its own description with each outcome, this is the one place the
// CLI states it.

/**
 * The class of an export answer and what the exporter does with it: {cls, does}. status is
 * the HTTP status (0: no answer), error the exporter's error text.
 */
function exporterAction(status, error) {
  const s = Number(status) || 0;
  if (s >= 200 && s < 300) return { cls: 'accepted', does: 'accepted: the spans leave the spool' };
  if (s === 0)
    return {
      cls: 'retried',
      does: `no answer${error ? ` (${String(error).split('\n')[0]})` : ''}: retried with backoff; the spans wait in the spool`,
    };
  if ([429, 502, 503, 504].includes(s))
    return {
      cls: 'retried',
      does: `HTTP ${s}: retried with backoff (honouring Retry-After); the spans wait in the spool`,
    };
  if (s === 413)
    return {
      cls: 'split',
      does: 'HTTP 413: the batch is split in halves until it passes; a single span still too large is dropped',
    };
  if (s === 401 || s === 403)
    return {
      cls: 'refused',
      does: `HTTP ${s}: the credentials are refused; the spans wait in the spool until the key changes`,
    };
  return {
    cls: 'dropped',
    does: `HTTP ${s}: not retryable: the batch is dropped (counted and logged); later spans are sent`,
  };
}

module.exports = { exporterAction };
