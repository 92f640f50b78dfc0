// chat/2 over real loopback Servers: delivery across relays, sealed direct messages with
// receipts, and the receive-side checks (size, clock window, forged flood fields) against
// an "injector" — a Server whose hand-built chat/2 writes flood messages of our choosing to
// one node. The codecs, replays and presence on a virtual clock are in chat-message and
// chat-behaviour.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RLP } from '@ethereumjs/rlp'
import { sign } from '../lib/crypto/index.js'
import { generatePrivateKey, keccak256, nodeId, publicKeyOf, Server, type MsgReadWriter, type Protocol } from '../lib/index.js'
import { Chat, ChatKind, ChatMsg, CHAT_CODES, decodeEnvelope, encodeBroadcast, MAX_TEXT, type ChatMessage, type Receipt } from '../protocols/chat/index.js'
import { within, waitFor } from './support/net.js'

/** Deadline for anything that takes a few loopback round trips. */
const QUICK = 5000

// ---------------------------------------------------------------------------------------
// Helpers

const servers: Server[] = []
const chats: Chat[] = []

test.after.each(async () => {
  for (const chat of chats.splice(0)) chat.stop()
  await within(Promise.all(servers.splice(0).map((s) => s.stop())), QUICK, 'every server to stop')
})

async function started(protocols: Protocol[], privateKey = generatePrivateKey()): Promise<Server> {
  const server = new Server({ privateKey, listenAddr: '127.0.0.1:0', discovery: false, protocols })
  servers.push(server)
  await within(server.start(), QUICK, 'server.start()')
  return server
}

interface ChatNode {
  server: Server
  chat: Chat
  key: Buffer
  id: string
  messages: ChatMessage[]
  directs: ChatMessage[]
  receipts: Receipt[]
}

/** A started Server running chat/2 alone (no floodnet: chat floods over every peer it has). */
async function chatNode(nick: string): Promise<ChatNode> {
  const key = generatePrivateKey()
  const chat = new Chat({ privateKey: key, nick })
  chats.push(chat)
  const server = await started([chat.protocol], key)
  chat.attach(server)
  const node: ChatNode = { server, chat, key, id: server.id, messages: [], directs: [], receipts: [] }
  chat.events.on('message', (m) => node.messages.push(m))
  chat.events.on('direct', (m) => node.directs.push(m))
  chat.events.on('receipt', (r) => node.receipts.push(r))
  return node
}

/** Connects `a` to `b` and waits until each chat engine floods to the other. */
async function link(a: ChatNode, b: ChatNode): Promise<void> {
  await within(a.server.connect(b.server.enode), QUICK, 'connect')
  await waitFor(() => a.chat.engine.neighbours.includes(b.id) && b.chat.engine.neighbours.includes(a.id), QUICK, 'chat neighbours on both sides')
}

interface Injector {
  key: Buffer
  id: string
  /** Writes one chat/2 flood message with this exact wire form. */
  send(wire: Uint8Array): Promise<void>
}

/** A Server with a hand-built chat/2, linked to `target`; it sends only what a test tells it. */
async function injector(target: ChatNode): Promise<Injector> {
  let rw: MsgReadWriter | undefined
  const raw: Protocol = {
    name: 'chat',
    version: 2,
    length: CHAT_CODES,
    async run(_peer, pipe) {
      rw = pipe
      for await (const msg of pipe) void msg
    },
  }
  const key = generatePrivateKey()
  const server = await started([raw], key)
  await within(server.connect(target.server.enode), QUICK, 'injector connect')
  await waitFor(() => rw !== undefined && target.chat.engine.neighbours.includes(server.id), QUICK, 'injector linked')
  return { key, id: server.id, send: (wire) => rw!.writeMsg(ChatMsg.Flood, wire) }
}

const idOf = (key: Uint8Array): string => nodeId(publicKeyOf(key))

/** The flood wire form `[id, origin, hopsLeft, envelope]`, with the envelope's own id and origin unless overridden. */
function flood(envelope: Uint8Array, over: { origin?: string } = {}): Uint8Array {
  const items = RLP.decode(envelope) as Uint8Array[]
  const id = keccak256(RLP.encode([Buffer.from('devp2p-chat/2'), ...items.slice(0, 4)])).subarray(0, 16)
  return RLP.encode([id, over.origin === undefined ? items[1]! : Buffer.from(over.origin, 'hex'), 16, envelope])
}

/** A broadcast signed by `key` with any fields at all — bypassing encodeBroadcast's checks. */
function handSigned(key: Uint8Array, fields: { nick?: string; text?: string; timestamp?: number } = {}): Uint8Array {
  const head = [ChatKind.Broadcast, Buffer.from(idOf(key), 'hex'), fields.timestamp ?? Date.now(), [fields.nick ?? 'raw', fields.text ?? 'raw text']]
  const signature = sign(keccak256(RLP.encode([Buffer.from('devp2p-chat/2'), ...head] as Uint8Array[])), key)
  return RLP.encode([...head, signature] as Uint8Array[])
}

// ---------------------------------------------------------------------------------------
// Bounds, at send and at receive

test('text over 2 KiB: send() throws RangeError; received, it is dropped and counted as rejected', async () => {
  const ann = await chatNode('ann')
  assert.throws(() => ann.chat.send('x'.repeat(MAX_TEXT + 1)), (err: unknown) => err instanceof RangeError)
  assert.throws(() => ann.chat.send('é'.repeat(MAX_TEXT / 2 + 1)), (err: unknown) => err instanceof RangeError, 'bytes of UTF-8 count, not characters')
  assert.is(ann.chat.engine.stats.published, 0)

  const inj = await injector(ann)
  const rejected: string[] = []
  ann.chat.events.on('rejected', (e) => rejected.push(e.reason))
  await inj.send(flood(handSigned(inj.key, { text: 'y'.repeat(MAX_TEXT + 1) })))
  await inj.send(flood(handSigned(inj.key, { text: 'after the big one' })))
  await waitFor(() => ann.messages.length === 1, QUICK, 'the valid message after the oversized one')
  assert.is(ann.messages[0]!.text, 'after the big one')
  assert.is(ann.chat.stats.rejected, 1)
  assert.is(ann.chat.engine.stats.dropped.invalid, 1)
  assert.match(rejected[0]!, /text must be 0 to 2048 bytes/)
})

test('a timestamp outside the clock window is rejected, past or future', async () => {
  const ann = await chatNode('ann')
  const inj = await injector(ann)
  const now = Date.now()
  await inj.send(flood(encodeBroadcast(inj.key, 'old', 'from ten minutes ago', now - 10 * 60_000)))
  await inj.send(flood(encodeBroadcast(inj.key, 'new', 'from ten minutes ahead', now + 10 * 60_000)))
  await inj.send(flood(encodeBroadcast(inj.key, 'ok', 'one minute ago is fine', now - 60_000)))
  await waitFor(() => ann.messages.length === 1, QUICK, 'the in-window message')
  assert.is(ann.messages[0]!.text, 'one minute ago is fine')
  assert.is(ann.chat.stats.rejected, 2)
})

// ---------------------------------------------------------------------------------------
// Delivery over real servers

test('broadcast over a line of three: delivered once each, verified origin, not back to the sender', async () => {
  const ann = await chatNode('ann')
  const bob = await chatNode('bob')
  const cat = await chatNode('cat')
  await link(ann, bob)
  await link(bob, cat)
  const id = ann.chat.send('hello all')
  await waitFor(() => bob.messages.length === 1 && cat.messages.length === 1, QUICK, 'bob and cat to hear ann')
  for (const n of [bob, cat]) {
    assert.is(n.messages[0]!.id, id)
    assert.is(n.messages[0]!.origin, ann.id)
    assert.ok(n.messages[0]!.originKey.equals(publicKeyOf(ann.key)))
    assert.is(n.messages[0]!.nick, 'ann')
  }
  cat.chat.send('marker')
  await waitFor(() => ann.messages.length === 1, QUICK, 'cat → ann')
  assert.equal(
    ann.messages.map((m) => m.text),
    ['marker'],
    'ann never got her own message back',
  )
  assert.is(bob.messages.length, 2)
})

test('direct message across a relay to a node that never wrote: delivered, receipt back, the relay reads nothing', async () => {
  const ann = await chatNode('ann')
  const bob = await chatNode('bob')
  const cat = await chatNode('cat')
  await link(ann, bob)
  await link(bob, cat)
  await waitFor(() => ann.chat.members.some((m) => m.nick === 'cat'), QUICK, 'ann to know cat from its announcement')
  const { id, to } = ann.chat.sendDirect('cat', 'psst, cat')
  assert.is(to.id, cat.id)
  await waitFor(() => cat.directs.length === 1 && ann.receipts.length === 1, QUICK, 'the direct message and its receipt')
  assert.equal([cat.directs[0]!.origin, cat.directs[0]!.nick, cat.directs[0]!.text, cat.directs[0]!.recipient], [ann.id, 'ann', 'psst, cat', cat.id])
  assert.equal(ann.receipts, [{ id, to: cat.id, nick: 'cat', status: 'delivered' }])
  assert.is(bob.directs.length, 0, 'bob relayed it but has no direct event')
  assert.ok(bob.chat.engine.stats.relayed >= 2, 'bob relayed the message and the receipt')
  assert.is(ann.chat.stats.rejected + bob.chat.stats.rejected + cat.chat.stats.rejected, 0)
})

test('a replayed message is delivered once: identical bytes, or re-wrapped under a fresh flood id', async () => {
  const ann = await chatNode('ann')
  const inj = await injector(ann)
  const payload = encodeBroadcast(inj.key, 'inj', 'say it once', Date.now())
  const wire = flood(payload)
  await inj.send(wire)
  await inj.send(wire)
  // The same signed payload again, under another flood id: refused (ids must name the content).
  await inj.send(RLP.encode([Buffer.alloc(16, 7), Buffer.from(inj.id, 'hex'), 16, payload]))
  await inj.send(flood(encodeBroadcast(inj.key, 'inj', 'marker', Date.now())))
  await waitFor(() => ann.messages.some((m) => m.text === 'marker'), QUICK, 'the marker')
  assert.equal(
    ann.messages.map((m) => m.text),
    ['say it once', 'marker'],
  )
  assert.ok(ann.chat.engine.stats.duplicates >= 1)
  assert.is(decodeEnvelope(payload).id, ann.messages[0]!.id)
})

test('a flood origin that differs from the signed origin is refused (it would steer relays away from that node)', async () => {
  const ann = await chatNode('ann')
  const bob = await chatNode('bob')
  await link(ann, bob)
  const inj = await injector(ann)
  // Signed by inj, but the flood header names bob as origin: relays would skip bob.
  await inj.send(flood(encodeBroadcast(inj.key, 'inj', 'steered', Date.now()), { origin: bob.id }))
  await inj.send(flood(encodeBroadcast(inj.key, 'inj', 'marker', Date.now())))
  await waitFor(() => bob.messages.some((m) => m.text === 'marker'), QUICK, 'the marker at bob')
  assert.equal(
    ann.messages.map((m) => m.text),
    ['marker'],
  )
  assert.is(ann.chat.stats.rejected, 1)
})

test('a broadcast claiming another node as author (signed with the sender\'s own key) is delivered nowhere and relayed to nobody', async () => {
  const ann = await chatNode('ann')
  const bob = await chatNode('bob')
  await link(ann, bob)
  const inj = await injector(ann)
  const head = [ChatKind.Broadcast, Buffer.from(bob.id, 'hex'), Date.now(), ['bob', 'bob owes mallory']]
  const forged = RLP.encode([...head, sign(keccak256(RLP.encode([Buffer.from('devp2p-chat/2'), ...head] as Uint8Array[])), inj.key)] as Uint8Array[])
  await inj.send(flood(forged))
  await inj.send(flood(encodeBroadcast(inj.key, 'mallory', 'marker', Date.now())))
  await waitFor(() => bob.messages.some((m) => m.text === 'marker'), QUICK, 'the marker at bob')
  assert.equal(ann.messages.map((m) => m.text), ['marker'])
  assert.equal(bob.messages.map((m) => m.text), ['marker'])
  assert.is(ann.chat.stats.rejected, 1)
  assert.is(ann.chat.engine.stats.relayed, 1, 'only the marker went on to bob')
})

test('attach() refuses a server whose key is not the chat key', async () => {
  const chat = new Chat({ privateKey: generatePrivateKey() })
  const server = new Server({ privateKey: generatePrivateKey(), listenAddr: '127.0.0.1:0', discovery: false, protocols: [chat.protocol] })
  assert.throws(() => chat.attach(server), /key/)
})

test.run()
