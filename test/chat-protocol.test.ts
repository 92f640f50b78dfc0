// chat/1 in one process: the envelope codec and its signature checks as pure functions, and
// the Chat class over real loopback Servers — size and clock bounds at send and at
// receive, sealed direct messages (only the recipient reads them; relays stay silent),
// recipient resolution, and replays. Hostile input comes from an "injector": a Server whose
// hand-built chat/1 protocol writes flood messages of our choosing to one node.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RLP } from '@ethereumjs/rlp'
import { sign } from '../lib/crypto/index.js'
import {
  EciesError,
  generatePrivateKey,
  keccak256,
  MessageDecodeError,
  nodeId,
  publicKeyOf,
  Server,
  type MsgReadWriter,
  type Protocol,
} from '../lib/index.js'
import {
  Chat,
  ChatKind,
  encodeBroadcast,
  encodeDirect,
  MAX_TEXT,
  openEnvelope,
  unsealDirect,
  UnknownRecipientError,
  type ChatMessage,
} from '../protocols/chat/index.js'
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
}

/** A started Server running chat/1 alone (no floodnet: chat floods over every peer it has). */
async function chatNode(nick: string): Promise<ChatNode> {
  const key = generatePrivateKey()
  const chat = new Chat({ privateKey: key, nick })
  chats.push(chat)
  const server = await started([chat.protocol], key)
  chat.attach(server)
  const node: ChatNode = { server, chat, key, id: server.id, messages: [], directs: [] }
  chat.events.on('message', (m) => node.messages.push(m))
  chat.events.on('direct', (m) => node.directs.push(m))
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
  /** Writes one chat/1 message (code 0) with this exact flood wire form. */
  send(wire: Uint8Array): Promise<void>
}

/** A Server with a hand-built chat/1, linked to `target`; it sends only what a test tells it. */
async function injector(target: ChatNode): Promise<Injector> {
  let rw: MsgReadWriter | undefined
  const raw: Protocol = {
    name: 'chat',
    version: 1,
    length: 1,
    async run(_peer, pipe) {
      rw = pipe
      for await (const msg of pipe) void msg
    },
  }
  const key = generatePrivateKey()
  const server = await started([raw], key)
  await within(server.connect(target.server.enode), QUICK, 'injector connect')
  await waitFor(() => rw !== undefined && target.chat.engine.neighbours.includes(server.id), QUICK, 'injector linked')
  return { key, id: server.id, send: (wire) => rw!.writeMsg(0, wire) }
}

const idOf = (key: Uint8Array): string => nodeId(publicKeyOf(key))

/** The flood wire form `[id, origin, hopsLeft, payload]`, with chat's content-bound id by default. */
function flood(payload: Uint8Array, over: { id?: Uint8Array; origin?: string; hops?: number } = {}): Uint8Array {
  const origin = over.origin === undefined ? (RLP.decode(payload) as Uint8Array[])[1]! : Buffer.from(over.origin, 'hex')
  return RLP.encode([over.id ?? keccak256(payload).subarray(0, 16), origin, over.hops ?? 16, payload])
}

/** A broadcast signed by `key` with any fields at all — bypassing encodeBroadcast's checks. */
function handSigned(key: Uint8Array, fields: { origin?: string; nick?: string; text?: string; timestamp?: number } = {}): Uint8Array {
  const head = [ChatKind.Broadcast, Buffer.from(fields.origin ?? idOf(key), 'hex'), fields.nick ?? 'raw', fields.text ?? 'raw text', fields.timestamp ?? Date.now()]
  return RLP.encode([...head, sign(keccak256(RLP.encode(head)), key)])
}

/** The error `fn` throws; fails the test when it returns. */
function thrown(fn: () => unknown): Error {
  try {
    fn()
  } catch (err) {
    return err as Error
  }
  assert.unreachable('expected a throw')
  throw new Error('unreachable')
}

// ---------------------------------------------------------------------------------------
// The envelope

test('encodeBroadcast → openEnvelope round trip: origin, key, nick, text and timestamp survive', () => {
  const key = generatePrivateKey()
  const env = openEnvelope(encodeBroadcast(key, 'ann', 'héllo ☃ wörld', 1_700_000_000_123))
  assert.is(env.kind, ChatKind.Broadcast)
  assert.is(env.origin, idOf(key))
  assert.ok(env.originKey.equals(publicKeyOf(key)))
  assert.is(env.nick, 'ann')
  assert.is(env.text, 'héllo ☃ wörld')
  assert.is(env.timestamp, 1_700_000_000_123)
  // Exactly MAX_TEXT bytes is still fine.
  assert.is(openEnvelope(encodeBroadcast(key, 'ann', 'x'.repeat(MAX_TEXT))).text!.length, MAX_TEXT)
})

test('a tampered text, a foreign signature or a broken signature: openEnvelope throws MessageDecodeError', () => {
  const key = generatePrivateKey()
  const good = RLP.decode(encodeBroadcast(key, 'ann', 'pay bob 1')) as Uint8Array[]
  const tampered = RLP.encode([...good.slice(0, 3), Buffer.from('pay bob 100'), ...good.slice(4)])
  assert.instance(thrown(() => openEnvelope(tampered)), MessageDecodeError)

  // Claims ann's id as origin, but is signed by mallory: the recovered key is mallory's.
  const mallory = generatePrivateKey()
  const forged = handSigned(mallory, { origin: idOf(key), nick: 'ann', text: 'pay mallory' })
  const err = thrown(() => openEnvelope(forged))
  assert.instance(err, MessageDecodeError)
  assert.match(err.message, /not by the claimed origin/)

  const sig = Buffer.from(good[5]!)
  sig[10]! ^= 0xff
  assert.instance(thrown(() => openEnvelope(RLP.encode([...good.slice(0, 5), sig]))), MessageDecodeError)
  assert.instance(thrown(() => openEnvelope(RLP.encode([...good.slice(0, 5), sig.subarray(0, 64)]))), MessageDecodeError)
  assert.instance(thrown(() => openEnvelope(Uint8Array.of(0xc5, 0x01))), MessageDecodeError)
})

test('direct: only the recipient unseals; another key gets EciesError', () => {
  const ann = generatePrivateKey()
  const bob = generatePrivateKey()
  const eve = generatePrivateKey()
  const env = openEnvelope(encodeDirect(ann, publicKeyOf(bob), 'ann', 'for bob only'))
  assert.is(env.kind, ChatKind.Direct)
  assert.is(env.origin, idOf(ann))
  assert.is(env.recipient, idOf(bob))
  assert.not.ok(env.sealed!.includes(Buffer.from('for bob only')), 'the text is not in clear')
  assert.equal(unsealDirect(env, bob), { nick: 'ann', text: 'for bob only' })
  assert.instance(thrown(() => unsealDirect(env, eve)), EciesError)
  assert.instance(thrown(() => unsealDirect(env, ann)), EciesError)
})

// ---------------------------------------------------------------------------------------
// Bounds, at send and at receive

test('text over 2 KiB: send() throws RangeError; received, it is dropped and counted in chat.rejected', async () => {
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
  assert.is(ann.chat.rejected, 1)
  assert.is(ann.chat.engine.stats.dropped.invalid, 1)
  assert.match(rejected[0]!, /text must be at most 2048 bytes/)
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
  assert.is(ann.chat.rejected, 2)
})

// ---------------------------------------------------------------------------------------
// Delivery over real servers

test('broadcast over a line of three: delivered once each, verified origin, not back to the sender', async () => {
  const ann = await chatNode('ann')
  const bob = await chatNode('bob')
  const cat = await chatNode('cat')
  await link(ann, bob)
  await link(bob, cat)
  ann.chat.send('hello all')
  await waitFor(() => bob.messages.length === 1 && cat.messages.length === 1, QUICK, 'bob and cat to hear ann')
  for (const n of [bob, cat]) {
    assert.is(n.messages[0]!.origin, ann.id)
    assert.ok(n.messages[0]!.originKey.equals(publicKeyOf(ann.key)))
    assert.is(n.messages[0]!.nick, 'ann')
  }
  assert.is(bob.chat.engine.stats.relayed, 1)
  cat.chat.send('marker')
  await waitFor(() => ann.messages.length === 1, QUICK, 'cat → ann')
  assert.equal(
    ann.messages.map((m) => m.text),
    ['marker'],
    'ann never got her own message back',
  )
  assert.is(bob.messages.length, 2)
})

test('direct message: the recipient gets a direct event; the relaying node in between emits none', async () => {
  const ann = await chatNode('ann')
  const bob = await chatNode('bob')
  const cat = await chatNode('cat')
  await link(ann, bob)
  await link(bob, cat)
  cat.chat.send('hi, I am cat') // so ann learns cat's key
  await waitFor(() => ann.messages.length === 1, QUICK, 'ann to hear cat')
  const { to } = ann.chat.sendDirect('cat', 'psst, cat')
  assert.is(to.id, cat.id)
  await waitFor(() => cat.directs.length === 1, QUICK, 'cat to get the direct message')
  assert.is(cat.directs[0]!.origin, ann.id)
  assert.is(cat.directs[0]!.nick, 'ann')
  assert.is(cat.directs[0]!.text, 'psst, cat')
  assert.is(cat.directs[0]!.recipient, cat.id)
  // Something ann sends later reaches bob on the same connection, after the direct one.
  ann.chat.send('marker')
  await waitFor(() => bob.messages.some((m) => m.text === 'marker'), QUICK, 'bob to hear the marker')
  assert.is(bob.directs.length, 0, 'bob relayed it but has no direct event')
  assert.ok(bob.chat.engine.stats.relayed >= 2, 'bob relayed the direct message')
  assert.not.ok(
    bob.messages.some((m) => m.text.includes('psst')) || cat.messages.some((m) => m.text.includes('psst')),
    'the direct text is never a broadcast',
  )
  assert.is(ann.directs.length + bob.chat.rejected + cat.chat.rejected, 0)
})

test('resolve(): by nick, full id, id prefix; ambiguous or unknown → UnknownRecipientError', async () => {
  const hub = await chatNode('hub')
  const sam1 = await chatNode('sam')
  const sam2 = await chatNode('sam')
  const zoe = await chatNode('zoe')
  for (const n of [sam1, sam2, zoe]) await link(n, hub)
  for (const n of [sam1, sam2, zoe]) n.chat.send(`I am ${n.chat.nick}`)
  await waitFor(() => hub.messages.length === 3, QUICK, 'hub to hear all three')

  assert.is(hub.chat.resolve('zoe').id, zoe.id)
  assert.is(hub.chat.resolve(sam1.id).id, sam1.id)
  assert.is(hub.chat.resolve(`0x${sam2.id.toUpperCase()}`).id, sam2.id)
  // The shortest prefix (≥ 4 hex) that tells sam1 from the others.
  let n = 4
  while ([sam2, zoe].some((o) => o.id.startsWith(sam1.id.slice(0, n)))) n++
  assert.is(hub.chat.resolve(sam1.id.slice(0, n)).id, sam1.id)
  assert.ok(hub.chat.resolve('zoe').publicKey.equals(publicKeyOf(zoe.key)))

  const ambiguous = thrown(() => hub.chat.resolve('sam'))
  assert.instance(ambiguous, UnknownRecipientError)
  assert.match(ambiguous.message, /ambiguous/)
  assert.instance(thrown(() => hub.chat.resolve('nobody')), UnknownRecipientError)
  assert.instance(thrown(() => hub.chat.sendDirect('sam', 'which one?')), UnknownRecipientError)
  assert.is(hub.chat.engine.stats.published, 0, 'nothing was sent to an unresolved target')
})

// ---------------------------------------------------------------------------------------
// Replays and forged flood fields

test('a replayed message is delivered once: identical bytes, or re-wrapped under a fresh flood id', async () => {
  const ann = await chatNode('ann')
  const inj = await injector(ann)
  const payload = encodeBroadcast(inj.key, 'inj', 'say it once')
  const wire = flood(payload)
  await inj.send(wire)
  await inj.send(wire)
  // The same signed payload again, under another flood id: still the same message.
  await inj.send(flood(payload, { id: Buffer.alloc(16, 7) }))
  await inj.send(flood(encodeBroadcast(inj.key, 'inj', 'marker')))
  await waitFor(() => ann.messages.some((m) => m.text === 'marker'), QUICK, 'the marker')
  assert.equal(
    ann.messages.map((m) => m.text),
    ['say it once', 'marker'],
  )
  assert.ok(ann.chat.engine.stats.duplicates >= 1)
})

test('a flood origin that differs from the signed origin is refused (it would steer relays away from that node)', async () => {
  const ann = await chatNode('ann')
  const bob = await chatNode('bob')
  await link(ann, bob)
  const inj = await injector(ann)
  // Signed by inj, but the flood header names bob as origin: relays would skip bob.
  await inj.send(flood(encodeBroadcast(inj.key, 'inj', 'steered'), { origin: bob.id }))
  await inj.send(flood(encodeBroadcast(inj.key, 'inj', 'marker')))
  await waitFor(() => bob.messages.some((m) => m.text === 'marker'), QUICK, 'the marker at bob')
  assert.equal(
    ann.messages.map((m) => m.text),
    ['marker'],
  )
  assert.is(ann.chat.rejected, 1)
})

test('attach() refuses a server whose key is not the chat key', async () => {
  const chat = new Chat({ privateKey: generatePrivateKey() })
  const server = new Server({ privateKey: generatePrivateKey(), listenAddr: '127.0.0.1:0', discovery: false, protocols: [chat.protocol] })
  assert.throws(() => chat.attach(server), /key/)
})

test.run()
