// MsgPipe and expectMsg, the in-memory helpers protocol authors test their run() with.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RLP } from '@ethereumjs/rlp'
import { DisconnectError } from '../lib/disconnect.js'
import { InvalidMessageCodeError } from '../lib/errors.js'
import { sendItems, utf8, type Msg } from '../lib/message.js'
import { expectMsg, MsgPipe, UnexpectedMsgError } from '../lib/msg-pipe.js'
import { within } from './support/net.js'
import { rejection } from './support/servers.js'

test('what one end writes the other reads, in order, both ways', async () => {
  const [a, b] = MsgPipe(4)
  await sendItems(a, 1, 'foo')
  await sendItems(a, 3, 'bar', 7)
  await sendItems(b, 0, 'back')
  const first = await b.readMsg()
  assert.is(first.code, 1)
  assert.is(utf8(first.decode()[0]), 'foo')
  const second = await b.readMsg()
  assert.is(second.code, 3)
  assert.equal(second.decode(), [Uint8Array.from(Buffer.from('bar')), Uint8Array.of(7)])
  const reply = await a.readMsg()
  assert.is(utf8(reply.decode()[0]), 'back')
})

test('a read waiting before the write gets the message', async () => {
  const [a, b] = MsgPipe()
  const pending = b.readMsg()
  await sendItems(a, 2, 'late')
  const msg = await within(pending, 1000, 'the waiting read')
  assert.is(msg.code, 2)
})

test('the written payload is copied: changing the buffer afterwards does not change the message', async () => {
  const [a, b] = MsgPipe()
  const payload = Uint8Array.from(RLP.encode(['x']))
  await a.writeMsg(0, payload)
  payload.fill(0)
  assert.is(utf8((await b.readMsg()).decode()[0]), 'x')
})

test('expectMsg returns a message whose code and items match', async () => {
  const [a, b] = MsgPipe()
  await sendItems(a, 1, 'foo', 42)
  const msg = await expectMsg(b, 1, ['foo', 42])
  assert.is(msg.code, 1)
  await sendItems(a, 5, 'any')
  assert.is((await expectMsg(b, 5)).code, 5, 'without items only the code is checked')
})

test('expectMsg throws UnexpectedMsgError on the wrong code, naming both codes', async () => {
  const [a, b] = MsgPipe()
  await sendItems(a, 2, 'foo')
  const err = await rejection(expectMsg(b, 1, ['foo']), 'expectMsg')
  assert.instance(err, UnexpectedMsgError)
  assert.is(err.message, 'expected message code 1, got 2 with ["foo"]')
})

test('expectMsg throws UnexpectedMsgError on the wrong payload, showing both as decoded items', async () => {
  const [a, b] = MsgPipe()
  await sendItems(a, 1, 'foo', 42, [Uint8Array.of(0, 255), 70_000, ''])
  const err = await rejection(expectMsg(b, 1, ['bar', 42]), 'expectMsg')
  assert.instance(err, UnexpectedMsgError)
  assert.is(err.message, 'message 1: expected ["bar", 42], got ["foo", 42, [0x00ff, 70000, ""]]')
  await a.writeMsg(1, Uint8Array.of(0xc5, 0x01))
  const raw = await rejection(expectMsg(b, 1, []), 'expectMsg')
  assert.match(raw.message, 'got 0xc501 (not RLP)')
})

test('writeMsg with a code outside 0 … length − 1 rejects with InvalidMessageCodeError', async () => {
  const [a] = MsgPipe(3, 'tiny')
  for (const code of [3, 100, -1, 1.5]) {
    const err = await rejection(a.writeMsg(code, RLP.encode([])), `writeMsg(${code})`)
    assert.instance(err, InvalidMessageCodeError)
  }
  await a.writeMsg(2, RLP.encode([]))
})

test('close rejects a pending read on either end with DisconnectError', async () => {
  const [a, b] = MsgPipe()
  const onA = a.readMsg()
  const onB = b.readMsg()
  b.close()
  assert.instance(await rejection(onA, 'read on a'), DisconnectError)
  assert.instance(await rejection(onB, 'read on b'), DisconnectError)
})

test('after close, reads and writes reject with DisconnectError', async () => {
  const [a, b] = MsgPipe()
  a.close()
  assert.instance(await rejection(a.readMsg(), 'read'), DisconnectError)
  assert.instance(await rejection(b.writeMsg(0, RLP.encode([])), 'write'), DisconnectError)
})

test('for await over an end reads every message, then stops quietly at close', async () => {
  const [a, b] = MsgPipe()
  const seen: number[] = []
  const loop = (async () => {
    for await (const msg of b as AsyncIterable<Msg>) seen.push(msg.code)
  })()
  await sendItems(a, 0)
  await sendItems(a, 1)
  await new Promise((resolve) => setImmediate(resolve))
  a.close()
  await within(loop, 1000, 'the for-await loop to end')
  assert.equal(seen, [0, 1])
})

test.run()
