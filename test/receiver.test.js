'use strict';
// Self-test for test/receiver.js. Runs under `node --test` and `bun test`
// (only node:test's test() and node:assert are used, which both support).

const { test } = require('node:test');
const assert = require('node:assert/strict');
const zlib = require('node:zlib');
const { startReceiver, decodeExportRequest, encodePartialSuccess, spanTree } = require('./receiver.js');

// --- minimal protobuf encoder, independent of the receiver's ---
const varint = (n) => {
  let v = BigInt.asUintN(64, BigInt(n));
  const out = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out);
};
const key = (no, wt) => varint(no * 8 + wt);
const cat = (...parts) => Buffer.concat(parts.flat());
const len = (no, bytes) => cat(key(no, 2), varint(bytes.length), bytes);
const str = (no, s) => len(no, Buffer.from(s));
const vint = (no, n) => cat(key(no, 0), varint(n));
const fixed64 = (no, n) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return cat(key(no, 1), b);
};
const dbl = (no, d) => {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(d);
  return cat(key(no, 1), b);
};
const fixed32 = (no, n) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return cat(key(no, 5), b);
};

function anyValue(v) {
  if (typeof v === 'string') return str(1, v);
  if (typeof v === 'boolean') return vint(2, v ? 1 : 0);
  if (typeof v === 'bigint' || Number.isInteger(v)) return vint(3, v);
  if (typeof v === 'number') return dbl(4, v);
  if (Array.isArray(v)) return len(5, cat(v.map((x) => len(1, anyValue(x)))));
  if (Buffer.isBuffer(v)) return len(7, v);
  return len(6, cat(Object.entries(v).map(([k, x]) => len(1, keyValue(k, x)))));
}
const keyValue = (k, v) => cat(str(1, k), len(2, anyValue(v)));
const attrs = (no, obj) => Object.entries(obj).map(([k, v]) => len(no, keyValue(k, v)));

function encodeSpan(s) {
  return cat(
    len(1, Buffer.from(s.traceId, 'hex')),
    len(2, Buffer.from(s.spanId, 'hex')),
    s.parentSpanId ? len(4, Buffer.from(s.parentSpanId, 'hex')) : [],
    str(5, s.name),
    vint(6, s.kind ?? 1),
    fixed64(7, s.startNs),
    fixed64(8, s.endNs),
    attrs(9, s.attributes || {}),
    (s.events || []).map((e) => len(11, cat(fixed64(1, e.timeNs), str(2, e.name), attrs(3, e.attributes || {})))),
    s.status ? len(15, cat(str(2, s.status.message), vint(3, s.status.code))) : [],
    fixed32(16, 0x101),
    vint(99, 12345),
    str(98, 'unknown'),
    fixed32(97, 7),
    dbl(96, 1.5), // unknown fields: must be skipped
  );
}
const encodeRequest = (spans) =>
  len(
    1,
    cat(
      len(1, cat(attrs(1, { 'service.name': 'opencode', pid: 42 }))),
      len(
        2,
        cat(
          len(1, cat(str(1, 'arize-tracing'), str(2, '0.1.0'))),
          spans.map((s) => len(2, encodeSpan(s))),
        ),
      ),
      str(3, 'https://opentelemetry.io/schemas/1.26.0'),
    ),
  );

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const T0 = 1_700_000_000_123_456_789n;
const sampleSpans = () => [
  {
    traceId: TRACE,
    spanId: 'b7ad6b7169203331',
    name: 'turn',
    kind: 1,
    startNs: T0,
    endNs: T0 + 1_500_000_000n,
    attributes: {
      'openinference.span.kind': 'AGENT',
      str: 'héllo',
      yes: true,
      no: false,
      int: 42,
      neg: -7,
      big: 2n ** 60n,
      dbl: 2.5,
      arr: ['a', 1, true],
      kv: { x: 'y', n: 3 },
      raw: Buffer.from([1, 2, 3]),
    },
    events: [{ name: 'exception', timeNs: T0 + 10n, attributes: { 'exception.message': 'boom' } }],
    status: { code: 2, message: 'it broke' },
  },
  {
    traceId: TRACE,
    spanId: '00f067aa0ba902b7',
    parentSpanId: 'b7ad6b7169203331',
    name: 'llm',
    kind: 3,
    startNs: T0 + 100_000_000n,
    endNs: T0 + 350_000_000n,
    attributes: { 'openinference.span.kind': 'LLM' },
  },
];

const post = (url, body, headers = {}) =>
  fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/x-protobuf', ...headers } });

function assertDecoded(spans) {
  assert.equal(spans.length, 2);
  const [a, b] = spans;
  assert.equal(a.traceId, TRACE);
  assert.equal(a.spanId, 'b7ad6b7169203331');
  assert.equal(a.parentSpanId, '');
  assert.equal(b.parentSpanId, 'b7ad6b7169203331');
  assert.equal(a.name, 'turn');
  assert.equal(a.kind, 1);
  assert.equal(b.kind, 3);
  assert.equal(a.startNs, T0);
  assert.equal(a.endNs, T0 + 1_500_000_000n);
  assert.equal(a.startMs, 1_700_000_000_123.456);
  assert.equal(a.endMs - a.startMs, 1500);
  assert.equal(a.flags, 0x101);
  assert.deepEqual(a.attributes, {
    'openinference.span.kind': 'AGENT',
    str: 'héllo',
    yes: true,
    no: false,
    int: 42,
    neg: -7,
    big: 2n ** 60n,
    dbl: 2.5,
    arr: ['a', 1, true],
    kv: { x: 'y', n: 3 },
    raw: Buffer.from([1, 2, 3]),
  });
  assert.equal(a.events.length, 1);
  assert.equal(a.events[0].name, 'exception');
  assert.equal(a.events[0].timeNs, T0 + 10n);
  assert.deepEqual(a.events[0].attributes, { 'exception.message': 'boom' });
  assert.deepEqual(a.status, { code: 2, message: 'it broke' });
  assert.deepEqual(b.status, { code: 0, message: '' });
  assert.deepEqual(a.resource, { 'service.name': 'opencode', pid: 42 });
  assert.equal(a.resource.attributes['service.name'], 'opencode');
  assert.equal(a.scope.name, 'arize-tracing');
  assert.equal(a.scope.version, '0.1.0');
}

test('listens on 127.0.0.1 and decodes a plain export', async () => {
  const r = await startReceiver();
  try {
    assert.match(r.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(r.tracesUrl, r.url + '/v1/traces');
    const body = encodeRequest(sampleSpans());
    const res = await post(r.tracesUrl, body, { 'X-Api-Key': 'k1' });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /application\/x-protobuf/);
    assert.equal((await res.arrayBuffer()).byteLength, 0);
    const [rec] = r.requests;
    assert.equal(rec.method, 'POST');
    assert.equal(rec.path, '/v1/traces');
    assert.equal(rec.headers['x-api-key'], 'k1');
    assert.equal(rec.bytes, body.length);
    assert.equal(rec.gzip, false);
    assertDecoded(rec.spans);
    assertDecoded(r.spans());
  } finally {
    await r.close();
  }
});

test('decodes a gzip export', async () => {
  const r = await startReceiver();
  try {
    const gz = zlib.gzipSync(encodeRequest(sampleSpans()));
    const res = await post(r.tracesUrl, gz, { 'content-encoding': 'gzip' });
    assert.equal(res.status, 200);
    assert.equal(r.requests[0].gzip, true);
    assert.equal(r.requests[0].bytes, gz.length);
    assertDecoded(await r.waitForSpans(2, 1000));
  } finally {
    await r.close();
  }
});

test('decodeExportRequest and spanTree work standalone', () => {
  const spans = decodeExportRequest(encodeRequest(sampleSpans()));
  assertDecoded(spans);
  assert.equal(spanTree(spans), 'turn [AGENT] 1500ms ERROR: it broke\n  llm [LLM] 250ms');
  assert.deepEqual(decodeExportRequest(Buffer.alloc(0)), []);
  assert.throws(() => decodeExportRequest(Buffer.from([0x0a, 0x05, 0x01])), /past end/);
});

test('programmable responses; spans() only counts 2xx', async () => {
  const partial = encodePartialSuccess(3, 'bad span');
  // hand-encoded: {1: {1: 3, 2: "bad span"}}
  assert.deepEqual(partial, cat(Buffer.from([0x0a, 12, 0x08, 3, 0x12, 8]), Buffer.from('bad span')));
  const r = await startReceiver({
    respond: (rec, i) =>
      i === 0
        ? { status: 503, headers: { 'Retry-After': '1' }, body: 'busy' }
        : i === 1
          ? { status: 200, body: partial }
          : undefined,
  });
  try {
    const body = encodeRequest(sampleSpans());
    const r0 = await post(r.tracesUrl, body);
    assert.equal(r0.status, 503);
    assert.equal(r0.headers.get('retry-after'), '1');
    assert.equal(await r0.text(), 'busy');
    assert.equal(r.requests[0].spans.length, 2); // still decoded and recorded
    assert.equal(r.spans().length, 0);

    const r1 = await post(r.tracesUrl, body);
    assert.deepEqual(Buffer.from(await r1.arrayBuffer()), partial);
    const r2 = await post(r.tracesUrl, body);
    assert.equal(r2.status, 200);
    assert.equal(r.spans().length, 4);
    assert.deepEqual(
      r.requests.map((q) => q.status),
      [503, 200, 200],
    );
  } finally {
    await r.close();
  }
});

test('default rejections: wrong path, content type, malformed body', async () => {
  const r = await startReceiver();
  try {
    assert.equal((await post(r.url + '/v1/metrics', Buffer.alloc(0))).status, 404);
    assert.equal((await post(r.tracesUrl, '{}', { 'content-type': 'application/json' })).status, 415);
    const bad = await post(r.tracesUrl, Buffer.from([0x0a, 0x7f]));
    assert.equal(bad.status, 400);
    assert.match(r.requests[2].error, /protobuf/);
    assert.equal(r.spans().length, 0);
  } finally {
    await r.close();
  }
});

test('hang keeps the request open until close()', async () => {
  const r = await startReceiver({ hang: (rec, i) => i === 0 });
  const pending = post(r.tracesUrl, encodeRequest(sampleSpans())).then(
    (res) => `answered ${res.status}`,
    (err) => `failed: ${err.name}`,
  );
  await r.waitForRequests(1, 2000);
  assert.equal(r.requests[0].hung, true);
  assert.equal(r.requests[0].status, undefined);
  assert.equal(r.spans().length, 0);
  const raced = await Promise.race([pending, new Promise((ok) => setTimeout(ok, 200, 'still pending'))]);
  assert.equal(raced, 'still pending');
  await r.close();
  assert.match(await pending, /^failed/);
});

test('waitForSpans rejects with the count received', async () => {
  const r = await startReceiver();
  try {
    await post(r.tracesUrl, encodeRequest(sampleSpans()));
    const t = Date.now();
    await assert.rejects(r.waitForSpans(5, 150), /timed out after 150ms waiting for 5 span\(s\); received 2 span\(s\)/);
    assert.ok(Date.now() - t >= 140);
    // and it resolves as soon as enough arrive
    const waiting = r.waitForSpans(4, 2000);
    await post(r.tracesUrl, encodeRequest(sampleSpans()));
    assert.equal((await waiting).length, 4);
  } finally {
    await r.close();
  }
});
