'use strict';
// Local OTLP/HTTP (protobuf) trace receiver for the test suite.
// CommonJS and node: built-ins only, so the same file runs under Node and Bun.

const http = require('node:http');
const zlib = require('node:zlib');
const { EventEmitter } = require('node:events');

// ---------------------------------------------------------------------------
// Protobuf wire format: just enough to read and write OTLP trace messages.

const VARINT = 0,
  I64 = 1,
  LEN = 2,
  I32 = 5;
// Decoders switch on the whole tag (field number + wire type), so a known field
// arriving with an unexpected wire type is skipped like an unknown one.
const tag = (no, wt) => no * 8 + wt;

// Yields [tag, value] for each field of one message. Varints come back as BigInt
// (int64/uint64 must not lose precision); the other wire types as Buffer slices.
function* fields(buf) {
  let pos = 0;
  const varint = () => {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (pos >= buf.length) throw new Error('protobuf: truncated varint');
      const b = buf[pos++];
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return BigInt.asUintN(64, result);
    }
    throw new Error('protobuf: varint longer than 10 bytes');
  };
  const take = (n) => {
    if (n > buf.length - pos) throw new Error('protobuf: field runs past end of message');
    pos += n;
    return buf.subarray(pos - n, pos);
  };
  while (pos < buf.length) {
    const t = Number(varint());
    const wt = t & 7;
    if (wt === VARINT) yield [t, varint()];
    else if (wt === I64) yield [t, take(8)];
    else if (wt === LEN) yield [t, take(Number(varint()))];
    else if (wt === I32) yield [t, take(4)];
    else throw new Error(`protobuf: unsupported wire type ${wt} (field ${t >> 3})`);
  }
}

// int64 values that fit in a double become Numbers; larger ones stay BigInt.
const toNumber = (big) =>
  big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;

const utf8 = (b) => b.toString('utf8');

// AnyValue -> plain JS value (string, boolean, number|BigInt, array, object, Buffer; null if unset).
function decodeAnyValue(buf) {
  let v = null;
  for (const [t, x] of fields(buf)) {
    switch (t) {
      case tag(1, LEN):
        v = utf8(x);
        break;
      case tag(2, VARINT):
        v = x !== 0n;
        break;
      case tag(3, VARINT):
        v = toNumber(BigInt.asIntN(64, x));
        break;
      case tag(4, I64):
        v = x.readDoubleLE(0);
        break;
      case tag(5, LEN): // ArrayValue { 1: repeated AnyValue }
        v = [];
        for (const [t2, y] of fields(x)) if (t2 === tag(1, LEN)) v.push(decodeAnyValue(y));
        break;
      case tag(6, LEN): // KeyValueList { 1: repeated KeyValue }
        v = {};
        for (const [t2, y] of fields(x)) if (t2 === tag(1, LEN)) addKeyValue(v, y);
        break;
      case tag(7, LEN):
        v = Buffer.from(x);
        break; // copy: x is a view into the request body
    }
  }
  return v;
}

// KeyValue { 1: key, 2: AnyValue } -> target[key] = value
function addKeyValue(target, buf) {
  let key = '',
    value = null;
  for (const [t, x] of fields(buf)) {
    if (t === tag(1, LEN)) key = utf8(x);
    else if (t === tag(2, LEN)) value = decodeAnyValue(x);
  }
  target[key] = value;
}

function decodeEvent(buf) {
  const e = { name: '', timeNs: 0n, attributes: {}, droppedAttributesCount: 0 };
  for (const [t, x] of fields(buf)) {
    switch (t) {
      case tag(1, I64):
        e.timeNs = x.readBigUInt64LE(0);
        break;
      case tag(2, LEN):
        e.name = utf8(x);
        break;
      case tag(3, LEN):
        addKeyValue(e.attributes, x);
        break;
      case tag(4, VARINT):
        e.droppedAttributesCount = Number(x);
        break;
    }
  }
  e.timeMs = nsToMs(e.timeNs);
  return e;
}

function decodeLink(buf) {
  const l = { traceId: '', spanId: '', traceState: '', attributes: {} };
  for (const [t, x] of fields(buf)) {
    switch (t) {
      case tag(1, LEN):
        l.traceId = x.toString('hex');
        break;
      case tag(2, LEN):
        l.spanId = x.toString('hex');
        break;
      case tag(3, LEN):
        l.traceState = utf8(x);
        break;
      case tag(4, LEN):
        addKeyValue(l.attributes, x);
        break;
    }
  }
  return l;
}

function decodeStatus(buf) {
  const s = { code: 0, message: '' };
  for (const [t, x] of fields(buf)) {
    if (t === tag(2, LEN)) s.message = utf8(x);
    else if (t === tag(3, VARINT)) s.code = Number(x);
  }
  return s;
}

// Millisecond Number with microsecond precision (Number(ns) alone would round).
const nsToMs = (ns) => Number(ns / 1000n) / 1000;

function decodeSpan(buf, resource, scope) {
  const s = {
    traceId: '',
    spanId: '',
    traceState: '',
    parentSpanId: '',
    name: '',
    kind: 0,
    startNs: 0n,
    endNs: 0n,
    attributes: {},
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    status: { code: 0, message: '' },
    flags: 0,
  };
  for (const [t, x] of fields(buf)) {
    switch (t) {
      case tag(1, LEN):
        s.traceId = x.toString('hex');
        break;
      case tag(2, LEN):
        s.spanId = x.toString('hex');
        break;
      case tag(3, LEN):
        s.traceState = utf8(x);
        break;
      case tag(4, LEN):
        s.parentSpanId = x.toString('hex');
        break;
      case tag(5, LEN):
        s.name = utf8(x);
        break;
      case tag(6, VARINT):
        s.kind = Number(x);
        break;
      case tag(7, I64):
        s.startNs = x.readBigUInt64LE(0);
        break;
      case tag(8, I64):
        s.endNs = x.readBigUInt64LE(0);
        break;
      case tag(9, LEN):
        addKeyValue(s.attributes, x);
        break;
      case tag(10, VARINT):
        s.droppedAttributesCount = Number(x);
        break;
      case tag(11, LEN):
        s.events.push(decodeEvent(x));
        break;
      case tag(12, VARINT):
        s.droppedEventsCount = Number(x);
        break;
      case tag(13, LEN):
        s.links.push(decodeLink(x));
        break;
      case tag(14, VARINT):
        s.droppedLinksCount = Number(x);
        break;
      case tag(15, LEN):
        s.status = decodeStatus(x);
        break;
      case tag(16, I32):
        s.flags = x.readUInt32LE(0);
        break;
    }
  }
  s.startMs = nsToMs(s.startNs);
  s.endMs = nsToMs(s.endNs);
  s.resource = resource;
  s.scope = scope;
  return s;
}

// Resource { 1: repeated KeyValue attributes }. The result is the attribute map
// itself (span.resource['service.name']); non-enumerable `attributes`/`attrs`
// aliases make span.resource.attributes[...] work too without changing equality.
function decodeResource(buf) {
  const attrs = {};
  if (buf) for (const [t, x] of fields(buf)) if (t === tag(1, LEN)) addKeyValue(attrs, x);
  return Object.defineProperties(attrs, { attributes: { value: attrs }, attrs: { value: attrs } });
}

// InstrumentationScope { 1: name, 2: version, 3: attributes }
function decodeScope(buf) {
  const sc = { name: '', version: '', attributes: {} };
  if (buf) {
    for (const [t, x] of fields(buf)) {
      if (t === tag(1, LEN)) sc.name = utf8(x);
      else if (t === tag(2, LEN)) sc.version = utf8(x);
      else if (t === tag(3, LEN)) addKeyValue(sc.attributes, x);
    }
  }
  return sc;
}

// ExportTraceServiceRequest -> flat array of decoded spans, each carrying its
// resource and scope. Throws on malformed input.
function decodeExportRequest(buffer) {
  const buf = Buffer.isBuffer(buffer) ? buffer : Buffer.from(buffer);
  const spans = [];
  for (const [t, rsBuf] of fields(buf)) {
    if (t !== tag(1, LEN)) continue;
    // Fields may come in any order, so collect ResourceSpans before decoding spans.
    let resourceBuf = null;
    const scopeSpans = [];
    for (const [t2, x] of fields(rsBuf)) {
      if (t2 === tag(1, LEN)) resourceBuf = x;
      else if (t2 === tag(2, LEN)) scopeSpans.push(x);
    }
    const resource = decodeResource(resourceBuf);
    for (const ssBuf of scopeSpans) {
      let scopeBuf = null;
      const spanBufs = [];
      for (const [t3, x] of fields(ssBuf)) {
        if (t3 === tag(1, LEN)) scopeBuf = x;
        else if (t3 === tag(2, LEN)) spanBufs.push(x);
      }
      const scope = decodeScope(scopeBuf);
      for (const sb of spanBufs) spans.push(decodeSpan(sb, resource, scope));
    }
  }
  return spans;
}

// --- encoding (responses only) ---

function encodeVarint(n) {
  let v = BigInt.asUintN(64, BigInt(n)); // negatives become 10-byte two's complement, as protobuf wants
  const out = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out);
}
const encodeLen = (no, bytes) => Buffer.concat([encodeVarint(tag(no, LEN)), encodeVarint(bytes.length), bytes]);

// ExportTraceServiceResponse { 1: ExportTracePartialSuccess { 1: int64 rejected_spans, 2: string error_message } }
// Zero/empty fields are omitted, as proto3 does.
function encodePartialSuccess(rejected, message) {
  const parts = [];
  if (rejected) parts.push(encodeVarint(tag(1, VARINT)), encodeVarint(rejected));
  if (message) parts.push(encodeLen(2, Buffer.from(String(message))));
  return encodeLen(1, Buffer.concat(parts));
}

// ---------------------------------------------------------------------------
// The HTTP receiver.

// options.respond(record, index) -> {status, headers?, body?} | undefined (may be async)
// options.hang(record, index)    -> true to accept the request and never answer it
async function startReceiver(options = {}) {
  const requests = [];
  const events = new EventEmitter();
  const sockets = new Set(); // tracked so close() can cut keep-alive and hung connections

  async function handle(req, res) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const raw = Buffer.concat(chunks);
    const headers = {};
    for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = v;
    const path = (req.url || '').split('?')[0];
    const record = {
      method: req.method,
      path,
      headers,
      bytes: raw.length,
      gzip: /\bgzip\b/i.test(headers['content-encoding'] || ''),
      spans: [],
      error: undefined,
      status: undefined,
      hung: false,
      receivedAt: Date.now(),
    };

    // What a real collector would answer if the test does not say otherwise. The spans of a
    // POST are decoded whatever its path: a test may answer another path itself (the target
    // of a redirect).
    let fallback = 200;
    if (req.method !== 'POST') fallback = 405;
    else if (!/^application\/x-protobuf\b/i.test(headers['content-type'] || '')) fallback = 415;
    else {
      try {
        record.spans = decodeExportRequest(record.gzip ? zlib.gunzipSync(raw) : raw);
      } catch (err) {
        record.error = err.message;
        fallback = 400;
      }
    }
    if (fallback === 200 && path !== '/v1/traces') fallback = 404;

    const index = requests.push(record) - 1;
    if (options.hang && options.hang(record, index)) {
      record.hung = true; // leave res open; close() destroys the socket
      events.emit('request', record);
      return;
    }

    const reply = (options.respond && (await options.respond(record, index))) || {
      status: fallback,
      body: fallback === 200 ? undefined : record.error || http.STATUS_CODES[fallback],
    };
    const status = reply.status || 200;
    const body = reply.body == null ? Buffer.alloc(0) : Buffer.from(reply.body);
    const replyHeaders = { 'content-type': 'application/x-protobuf' };
    for (const [k, v] of Object.entries(reply.headers || {})) replyHeaders[k.toLowerCase()] = v;
    replyHeaders['content-length'] = String(body.length);
    // Mark the outcome before the client can see the response, so a test that
    // awaits its export and then reads spans() never races the bookkeeping.
    record.status = status;
    events.emit('request', record);
    res.writeHead(status, replyHeaders);
    res.end(body);
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String((err && err.stack) || err));
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port || 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const url = `http://127.0.0.1:${server.address().port}`;

  const spans = () => requests.filter((r) => r.status >= 200 && r.status < 300).flatMap((r) => r.spans);

  // Resolves with get() once ok(get()) holds, re-checking after every request.
  function waitUntil(get, ok, timeoutMs, describe) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const v = get();
        if (ok(v)) {
          done();
          resolve(v);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(describe()));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        events.off('request', check);
      };
      events.on('request', check);
      check();
    });
  }

  let closing;
  return {
    url,
    tracesUrl: `${url}/v1/traces`,
    requests,
    spans,
    waitForSpans(n, timeoutMs = 10000) {
      return waitUntil(
        spans,
        (s) => s.length >= n,
        timeoutMs,
        () =>
          `waitForSpans: timed out after ${timeoutMs}ms waiting for ${n} span(s); received ${spans().length} ` +
          `span(s) in ${requests.length} request(s) (statuses: ${requests.map((r) => (r.hung ? 'hung' : r.status)).join(', ') || 'none'})`,
      );
    },
    // Counts every request, answered or not (e.g. to know a hung request arrived).
    waitForRequests(n, timeoutMs = 10000) {
      return waitUntil(
        () => requests,
        (r) => r.length >= n,
        timeoutMs,
        () =>
          `waitForRequests: timed out after ${timeoutMs}ms waiting for ${n} request(s); received ${requests.length}`,
      );
    },
    close() {
      if (!closing) {
        closing = new Promise((resolve) => {
          server.close(() => resolve());
          for (const s of sockets) s.destroy();
          if (server.closeAllConnections) server.closeAllConnections();
        });
      }
      return closing;
    },
  };
}

// ---------------------------------------------------------------------------
// Human-readable tree: roots first, children by start time then name.
// Line: "name [openinference.span.kind] 123ms" (+ " ERROR: message").
function spanTree(spans) {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const children = new Map();
  const roots = [];
  for (const s of spans) {
    if (s.parentSpanId && byId.has(s.parentSpanId) && s.parentSpanId !== s.spanId) {
      if (!children.has(s.parentSpanId)) children.set(s.parentSpanId, []);
      children.get(s.parentSpanId).push(s);
    } else {
      roots.push(s); // true roots and orphans whose parent was not exported
    }
  }
  const order = (a, b) =>
    a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  const lines = [];
  const seen = new Set(); // guards against parent cycles in malformed input
  const walk = (s, depth) => {
    if (seen.has(s)) return;
    seen.add(s);
    const kind = s.attributes['openinference.span.kind'] ?? '?';
    const ms = Math.round(Number(s.endNs - s.startNs) / 1e6);
    let line = `${'  '.repeat(depth)}${s.name} [${kind}] ${ms}ms`;
    if (s.status && s.status.code === 2) line += ` ERROR: ${s.status.message}`;
    lines.push(line);
    for (const c of (children.get(s.spanId) || []).sort(order)) walk(c, depth + 1);
  };
  for (const r of roots.sort(order)) walk(r, 0);
  return lines.join('\n');
}

/** A received span as plain, comparable data (ids, times as strings, status, attributes, events). */
function comparable(s) {
  return {
    id: s.spanId,
    trace: s.traceId,
    parent: s.parentSpanId,
    name: s.name,
    start: String(s.startNs),
    end: String(s.endNs),
    status: s.status,
    attributes: s.attributes,
    events: s.events.map((e) => ({ name: e.name, time: String(e.timeNs), attributes: e.attributes })),
  };
}

// How many times each span id arrived in a 2xx answer, and how many arrived twice or more.
function deliveries(receiver) {
  const count = new Map();
  for (const r of receiver.requests)
    if (r.status >= 200 && r.status < 300) for (const s of r.spans) count.set(s.spanId, (count.get(s.spanId) || 0) + 1);
  let duplicated = 0;
  for (const n of count.values()) duplicated += n - 1;
  return { delivered: count.size, duplicated };
}

module.exports = { startReceiver, deliveries, decodeExportRequest, encodePartialSuccess, spanTree, comparable };
