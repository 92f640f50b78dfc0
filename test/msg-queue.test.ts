// The per-protocol inbox that back-pressure rests on: full at `limit` messages or at 16 MiB
// of unread payload, and it says when a read makes room again.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Msg } from '../lib/message.js'
import { MsgQueue, READ_QUEUE_BYTES } from '../lib/msg-queue.js'

test('full at the message limit; room is reported once, when reads bring it down to half (hysteresis)', async () => {
  let drains = 0
  const q = new MsgQueue(4, () => drains++)
  for (let i = 0; i < 3; i++) assert.ok(q.push(new Msg(0, new Uint8Array(1))))
  assert.not.ok(q.push(new Msg(0, new Uint8Array(1))), 'the fourth message fills it')
  assert.ok(q.full)
  await q.readMsg()
  assert.is(drains, 0, 'three left: still above half')
  assert.ok(q.full, 'stays full until half')
  await q.readMsg()
  assert.is(drains, 1, 'two left: half, room reported')
  assert.not.ok(q.full)
  await q.readMsg()
  assert.is(drains, 1, 'no second report while not full')
})

test('pause/resume cycles per message: a reader one behind a writer crosses the marks once per half queue, not once per message', async () => {
  let drains = 0
  const q = new MsgQueue(64, () => drains++)
  let pauses = 0
  for (let i = 0; i < 1000; i++) {
    if (!q.push(new Msg(0, new Uint8Array(1)))) pauses++
    if (q.full) await q.readMsg()
    while (q.full) await q.readMsg()
  }
  assert.ok(pauses <= 1000 / 32 + 1, `${pauses} pauses for 1000 messages`)
  assert.is(drains, pauses)
})

test('full at 16 MiB of unread payload even far below the message limit', async () => {
  let drains = 0
  const q = new MsgQueue(64, () => drains++)
  const half = READ_QUEUE_BYTES / 2
  assert.ok(q.push(new Msg(0, new Uint8Array(half - 1))))
  assert.not.ok(q.push(new Msg(1, new Uint8Array(half + 1))), 'two messages reach the byte bound')
  assert.ok(q.full)
  assert.is((await q.readMsg()).code, 0)
  assert.is(drains, 0, 'half + 1 bytes left: above half')
  assert.is((await q.readMsg()).code, 1)
  assert.is(drains, 1)
  assert.not.ok(q.full)
})

test('a waiting reader takes a message directly; close rejects it and later reads', async () => {
  const q = new MsgQueue(1, () => {})
  const pending = q.readMsg()
  assert.ok(q.push(new Msg(5, new Uint8Array(0))), 'handed to the reader, so not full')
  assert.is((await pending).code, 5)
  const waiting = q.readMsg()
  const err = new Error('gone')
  q.close(err)
  await waiting.then(() => assert.unreachable('should reject'), (e: Error) => assert.is(e, err))
  await q.readMsg().then(() => assert.unreachable('should reject'), (e: Error) => assert.is(e, err))
})

test.run()
