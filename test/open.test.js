'use strict';
// plugin/open.mjs: the open part of each session as OpenCode's events tell it. Replayed on the
// shared captures of the real OpenCode, event by event: at every moment the plugin would build a
// payload, what the events kept is what a read of the session gave (the capture's snapshot),
// and it says so when it cannot stand for the session (events missed), so the plugin reads.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { FIXTURES } = require('./helpers/fixtures.js');

const load = () => import('../plugin/open.mjs');

/** A capture: its events in order, and its snapshots (each taken at one of those events). */
function capture(name) {
  const dir = path.join(FIXTURES, name);
  const events = fs
    .readFileSync(path.join(dir, 'events.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const snapshots = fs
    .readdirSync(path.join(dir, 'snapshots'))
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(fs.readFileSync(path.join(dir, 'snapshots', f), 'utf8')));
  return { events, snapshots };
}

// The same JSON whatever the order of object keys (events and reads list them differently).
const canon = (v) =>
  JSON.stringify(v, (k, x) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(
          Object.keys(x)
            .sort()
            .map((q) => [q, x[q]]),
        )
      : x,
  );

/** The snapshot's messages that existed when its event fired (a read lands a moment later:
 * it may show a model call created since, with nothing in it yet). */
const asOfEvent = (snapshot, kept) => snapshot.messages.filter((m) => kept.some((k) => k.info.id === m.info.id));

for (const name of ['main-run', 'serve-scenarios'])
  test(`${name}: at every snapshot event, the events kept give what a read gave`, async () => {
    const { createOpenPart } = await load();
    const { events, snapshots } = capture(name);
    const open = createOpenPart();
    let compared = 0;
    for (const event of events) {
      open.event(event);
      for (const snap of snapshots.filter((s) => s.event.id === event.id)) {
        const kept = open.messages(snap.session.id);
        assert.ok(kept, `${snap.session.id} is vouched for (created in this capture)`);
        const read = asOfEvent(snap, kept);
        assert.equal(read.length, kept.length, 'no message kept that a read did not show');
        assert.equal(canon(kept), canon(read));
        compared++;
      }
    }
    assert.equal(compared, snapshots.length);
  });

test('a session not seen created is read once; from then on its events keep it', async () => {
  const { createOpenPart } = await load();
  const { events, snapshots } = capture('main-run');
  const root = snapshots[0].session.id;
  // the plugin loads after the first model call: the session's creation and its first turn's
  // start were not seen
  const late = events.findIndex((e) => e.id === snapshots[0].event.id) + 1;
  const open = createOpenPart();
  let reads = 0,
    compared = 0;
  for (const event of events.slice(late)) {
    open.event(event);
    const snap = snapshots.find((s) => s.event.id === event.id && s.session.id === root);
    if (!snap) continue;
    if (!open.messages(root)) {
      open.seed(root, snap.messages, true); // what the plugin reads when it cannot vouch
      reads++;
      continue;
    }
    const kept = open.messages(root);
    assert.equal(canon(kept), canon(asOfEvent(snap, kept)));
    compared++;
  }
  assert.equal(reads, 1, 'one read');
  assert.equal(compared, snapshots.filter((s) => s.session.id === root).length - 2);
});

const info = (id, role, extra = {}) => ({ id, sessionID: 'ses_a', role, time: { created: 1 }, ...extra });
const part = (id, messageID, extra = {}) => ({ id, messageID, sessionID: 'ses_a', type: 'text', text: 'x', ...extra });
const ev = (type, properties) => ({ type, properties });
const created = ev('session.created', { info: { id: 'ses_a' } });

test('missed events are a gap: the plugin reads instead', async () => {
  const { createOpenPart } = await load();
  const turn = (open) => {
    open.event(created);
    open.event(ev('message.updated', { info: info('msg_1', 'user') }));
    open.event(ev('message.part.updated', { part: part('prt_1', 'msg_1') }));
  };
  let open = createOpenPart();
  turn(open);
  // a finished model call without its parts
  open.event(
    ev('message.updated', {
      info: info('msg_2', 'assistant', { parentID: 'msg_1', time: { created: 2, completed: 3 } }),
    }),
  );
  assert.equal(open.messages('ses_a'), undefined);
  // one refused at once (an error, no part) is whole as it is
  open = createOpenPart();
  turn(open);
  const failed = { parentID: 'msg_1', time: { created: 2, completed: 3 }, error: { name: 'APIError' } };
  open.event(ev('message.updated', { info: info('msg_2', 'assistant', failed) }));
  assert.equal(open.messages('ses_a').length, 2);
  // parts of a message whose info never came
  open = createOpenPart();
  turn(open);
  open.event(ev('message.part.updated', { part: part('prt_2', 'msg_2') }));
  assert.equal(open.messages('ses_a'), undefined);
  // a model call whose prompt is not kept
  open = createOpenPart();
  open.event(created);
  open.event(ev('message.updated', { info: info('msg_2', 'assistant', { parentID: 'msg_1' }) }));
  open.event(ev('message.part.updated', { part: part('prt_2', 'msg_2') }));
  assert.equal(open.messages('ses_a'), undefined);
  // a session not seen created, never read
  open = createOpenPart();
  open.event(ev('message.updated', { info: info('msg_1', 'user') }));
  open.event(ev('message.part.updated', { part: part('prt_1', 'msg_1') }));
  assert.equal(open.messages('ses_a'), undefined);
});

test('a read never takes back what events said, but fills in what they missed', async () => {
  const { createOpenPart } = await load();
  const open = createOpenPart();
  open.event(ev('message.updated', { info: info('msg_1', 'user') }));
  open.event(ev('message.part.updated', { part: part('prt_1', 'msg_1') }));
  const running = part('prt_2', 'msg_2', { type: 'tool', state: { status: 'running' } });
  const done = part('prt_2', 'msg_2', { type: 'tool', state: { status: 'completed', output: 'ok' } });
  open.event(ev('message.updated', { info: info('msg_2', 'assistant', { parentID: 'msg_1' }) }));
  open.event(ev('message.part.updated', { part: done }));
  // a read that raced the tool's end shows it running: the event's completed state stays
  open.seed(
    'ses_a',
    [
      { info: info('msg_1', 'user'), parts: [part('prt_1', 'msg_1')] },
      { info: info('msg_2', 'assistant', { parentID: 'msg_1' }), parts: [running] },
    ],
    true,
  );
  assert.equal(open.messages('ses_a')[1].parts[0].state.status, 'completed');
  // events missed the end: a later read's completed state replaces the running one kept
  const other = createOpenPart();
  other.event(ev('message.updated', { info: info('msg_2', 'assistant', { parentID: 'msg_1' }) }));
  other.event(ev('message.part.updated', { part: running }));
  other.seed(
    'ses_a',
    [
      { info: info('msg_1', 'user'), parts: [part('prt_1', 'msg_1')] },
      { info: info('msg_2', 'assistant', { parentID: 'msg_1', time: { created: 2, completed: 3 } }), parts: [done] },
    ],
    true,
  );
  const kept = other.messages('ses_a');
  assert.equal(kept[1].parts[0].state.status, 'completed');
  assert.equal(kept[1].info.time.completed, 3);
});

test('a read of a tail vouches from its oldest message on', async () => {
  const { createOpenPart } = await load();
  const open = createOpenPart();
  open.seed(
    'ses_a',
    [
      { info: info('msg_5', 'user'), parts: [part('prt_5', 'msg_5')] },
      { info: info('msg_6', 'assistant', { parentID: 'msg_5' }), parts: [part('prt_6', 'msg_6')] },
    ],
    false,
  );
  assert.equal(open.messages('ses_a'), undefined, 'not from the start');
  assert.equal(open.messages('ses_a', 'msg_3'), undefined, 'not from before the read');
  assert.deepEqual(
    open.messages('ses_a', 'msg_5').map((m) => m.info.id),
    ['msg_5', 'msg_6'],
  );
  assert.deepEqual(
    open.messages('ses_a', 'msg_6').map((m) => m.info.id),
    ['msg_6'],
  );
});

test('what the watermark leaves behind goes; removed messages and parts go; it stays bounded', async () => {
  const { createOpenPart } = await load();
  const open = createOpenPart({ sessionsMax: 3, messagesMax: 10 });
  open.event(created);
  for (let i = 1; i <= 6; i++) {
    const id = `msg_${i}`;
    open.event(ev('message.updated', { info: info(id, i % 3 === 1 ? 'user' : 'assistant', { parentID: 'msg_1' }) }));
    open.event(ev('message.part.updated', { part: part(`prt_${i}`, id) }));
  }
  open.keepFrom('ses_a', 'msg_4');
  assert.deepEqual(
    open.messages('ses_a', 'msg_4').map((m) => m.info.id),
    ['msg_4', 'msg_5', 'msg_6'],
  );
  assert.equal(open.messages('ses_a'), undefined, 'no longer from the start');
  open.event(ev('message.part.removed', { sessionID: 'ses_a', messageID: 'msg_6', partID: 'prt_6' }));
  open.event(ev('message.removed', { sessionID: 'ses_a', messageID: 'msg_5' }));
  assert.deepEqual(
    open.messages('ses_a', 'msg_4').map((m) => [m.info.id, m.parts.length]),
    [
      ['msg_4', 1],
      ['msg_6', 0],
    ],
  );
  // more messages than a session may keep: read instead
  for (let i = 10; i < 30; i++) open.event(ev('message.updated', { info: info(`msg_${i}`, 'user') }));
  assert.equal(open.messages('ses_a', 'msg_4'), undefined);
  assert.ok(open.size().messages <= 10);
  // more sessions than kept: the least recently changed goes
  for (const s of ['ses_b', 'ses_c', 'ses_d']) open.event(ev('session.created', { info: { id: s } }));
  assert.equal(open.size().sessions, 3);
  assert.equal(open.info('ses_a'), undefined);
  open.drop('ses_b');
  assert.equal(open.size().sessions, 2);
});

test('with tracing off nothing is kept', async () => {
  const { createOpenPart } = await load();
  let on = false;
  const open = createOpenPart({ enabled: () => on });
  open.event(created);
  open.event(ev('message.updated', { info: info('msg_1', 'user') }));
  assert.deepEqual(open.size(), { sessions: 0, messages: 0 });
  on = true;
  open.event(created);
  assert.deepEqual(open.size(), { sessions: 1, messages: 0 });
});
