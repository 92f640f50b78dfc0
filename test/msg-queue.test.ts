// The per-protocol inbox that back-pressure rests on: full at `limit` messages or at 16 MiB
// of unread payload, and it says when a read makes room again.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Msg } from '../lib/message.js'
import { MsgQueue, READ_QUEUE_BYTES } from '../lib/msg-queue.js'

test('full at the message limit; one read below it reports the room once', async () => {
  let drains = 0
  const q = new MsgQueue(3, () => drains++)
  assert.ok(q.push(new Msg(0, new Uint8Array(1))))
  assert.ok(q.push(new Msg(0, new Uint8Array(1))))
  assert.not.ok(q.push(new Msg(0, new Uint8Array(1))), 'the third message fills it')
  assert.ok(q.full)
  await q.readMsg()
  assert.is(drains, 1)
  assert.not.ok(q.full)
  await q.readMsg()
  assert.is(drains, 1, 'no second report while not full')
})

test('full at 16 MiB of unread payload even far below the message limit', async () => {
  let drains = 0
  const q = new MsgQueue(64, () => drains++)
  const half = READ_QUEUE_BYTES / 2
  assert.ok(q.push(new Msg(0, new Uint8Array(half - 1))))
  assert.not.ok(q.push(new Msg(1, new Uint8Array(half + 1))), 'two messages reach the byte bound')
  assert.ok(q.full)
  assert.is((await q.readMsg()).code, 0)
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
