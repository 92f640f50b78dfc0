// Chat as a whole, in one process on a virtual clock with nodes linked by in-memory pipes
// (test/support/chat-mesh.ts): replays under any seen-cache pressure, direct messages bound
// to sender and recipient, receipts that are never falsely "delivered", presence (joins,
// renames, goodbyes, timeouts, roster sync) and history for late joiners. Hostile input
// comes from hand-driven chat/2 peers.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RLP } from '@ethereumjs/rlp'
import { generatePrivateKey, MessageDecodeError, publicKeyOf, TypedEvents, type MsgPipeEnd } from '../lib/index.js'
import { sign } from '../lib/crypto/index.js'
import { keccak256 } from '../lib/index.js'
import {
  chatDefaults,
  ChatKind,
  ChatMsg,
  decodeEnvelope,
  decodeRequest,
  decodeResponse,
  DirectKind,
  encodeBroadcast,
  encodeDirect,
  encodeReceipt,
  encodeRequest,
  encodeResponse,
  openDirect,
  UnknownRecipientError,
  type DirectEnvelope,
} from '../protocols/chat/index.js'
import { Mesh, nicks, settle, type MeshNode } from './support/chat-mesh.js'
import { within } from './support/net.js'

const WINDOW = chatDefaults.CLOCK_WINDOW
let mesh: Mesh

test.before.each(() => {
  mesh = new Mesh()
})
test.after.each(() => {
  mesh.stop()
})

/** chat's flood frame around an envelope: `[id, origin, hopsLeft, envelope]`. */
function flood(envelope: Uint8Array, hops = 16): Uint8Array {
  const env = decodeEnvelope(envelope)
  return RLP.encode([Buffer.from(env.id, 'hex'), Buffer.from(env.origin, 'hex'), hops, envelope])
}

/** Every envelope a raw peer has been sent so far, by flood. */
async function floodsAt(end: MsgPipeEnd, count: number): Promise<Uint8Array[]> {
  const out: Uint8Array[] = []
  while (out.length < count) {
    const msg = await end.readMsg()
    if (msg.code === ChatMsg.Flood) out.push((RLP.decode(msg.payload) as Uint8Array[])[3]!)
  }
  return out
}

/** A line of nodes a – b – c …, joined and settled. */
async function line(...names: string[]): Promise<MeshNode[]> {
  const nodes = names.map((n) => mesh.node(n))
  for (let i = 1; i < nodes.length; i++) mesh.link(nodes[i - 1]!, nodes[i]!)
  await mesh.advance(0)
  return nodes
}

// ---------------------------------------------------------------------------------------
// Replays

test('a relay re-injecting a signed broadcast after the seen-cache forgot it (3 min later) is not delivered again', async () => {
  // A one-entry seen-cache: floodnet forgets an id as soon as another one arrives.
  const ann = mesh.node('ann', { seenCacheSize: 1 })
  const relay = mesh.raw(ann)
  const key = generatePrivateKey()
  const signed = encodeBroadcast(key, 'bob', 'say it once', mesh.clock.now())
  await relay.end.writeMsg(ChatMsg.Flood, flood(signed))
  await relay.end.writeMsg(ChatMsg.Flood, flood(encodeBroadcast(relay.key, 'rly', 'pushes it out of the seen-cache', mesh.clock.now())))
  await mesh.advance(3 * 60_000)
  await relay.end.writeMsg(ChatMsg.Flood, flood(signed))
  await relay.end.writeMsg(ChatMsg.Flood, flood(signed, 9)) // other hop count, same message
  await mesh.advance(0)
  assert.equal(ann.log.messages.map((m) => m.text), ['say it once', 'pushes it out of the seen-cache'])
  assert.is(ann.chat.stats.replays, 2)
  // Past its window the clock check refuses it for good.
  await mesh.advance(WINDOW)
  await relay.end.writeMsg(ChatMsg.Flood, flood(signed))
  await mesh.advance(0)
  assert.is(ann.log.messages.length, 2)
  assert.match(ann.log.rejected.at(-1)!, /outside the ±300000 ms window/)
})

test('a neighbour flushing the seen-cache and the replay guard with 800 fresh ids still gets no message delivered twice', async () => {
  // floodnet's per-neighbour relay limit is lifted: the test is about the caches.
  const ann = mesh.node('ann', { seenCacheSize: 16, replayGuardSize: 64, rateLimit: { rate: 1e6, burst: 1e6 } })
  const relay = mesh.raw(ann)
  const bobKey = generatePrivateKey()
  const t0 = mesh.clock.now()
  const real = [encodeBroadcast(bobKey, 'bob', 'first', t0), encodeBroadcast(bobKey, 'bob', 'second', t0 + 1)]
  for (const r of real) await relay.end.writeMsg(ChatMsg.Flood, flood(r))
  await mesh.advance(1000)
  // 20 throwaway keys × 40 messages, post-dated to the edge of the window so they outlive everything.
  const keys = Array.from({ length: 20 }, () => generatePrivateKey())
  for (let i = 0; i < 800; i++) {
    await relay.end.writeMsg(ChatMsg.Flood, flood(encodeBroadcast(keys[i % 20]!, 'spam', `fresh ${i}`, mesh.clock.now() + WINDOW - 10)))
    if (i % 50 === 49) await mesh.advance(1000)
  }
  await mesh.advance(0)
  assert.ok(ann.chat.guard.size <= 64)
  assert.ok(ann.chat.guard.watermark > t0, 'pressure raised the watermark')
  for (const r of real) await relay.end.writeMsg(ChatMsg.Flood, flood(r))
  const later = encodeBroadcast(bobKey, 'bob', 'third, sent after the flood', mesh.clock.now() + WINDOW)
  await relay.end.writeMsg(ChatMsg.Flood, flood(later))
  await mesh.advance(0)
  const bobs = ann.log.messages.filter((m) => m.nick === 'bob').map((m) => m.text)
  assert.equal(bobs, ['first', 'second', 'third, sent after the flood'], 'each once; a newer message still passes')
  assert.ok(ann.chat.stats.stale + ann.chat.stats.replays >= 2)
})

test('one author over its rate (10/s, burst 50) is throttled; others are not', async () => {
  const ann = mesh.node('ann')
  const relay = mesh.raw(ann)
  const loud = generatePrivateKey()
  for (let i = 0; i < 60; i++) await relay.end.writeMsg(ChatMsg.Flood, flood(encodeBroadcast(loud, 'loud', `#${i}`, mesh.clock.now())))
  await relay.end.writeMsg(ChatMsg.Flood, flood(encodeBroadcast(generatePrivateKey(), 'quiet', 'hi', mesh.clock.now())))
  await mesh.advance(0)
  assert.is(ann.log.messages.filter((m) => m.nick === 'loud').length, 50)
  assert.ok(ann.log.messages.some((m) => m.nick === 'quiet'))
  assert.match(ann.log.rejected[0]!, /over its rate/)
})

test('with an overlay, broadcasts flood over its links only: a chat peer outside it gets none until the overlay takes it in', async () => {
  const events = new TypedEvents<{ 'neighbour:added': (id: string) => void; 'neighbour:removed': (id: string) => void }>()
  const overlay = { neighbours: [] as string[], events }
  const ann = mesh.node('ann', { overlay })
  const bob = mesh.node('bob')
  const cat = mesh.node('cat')
  overlay.neighbours.push(bob.id)
  mesh.link(ann, bob)
  mesh.link(ann, cat)
  await mesh.advance(0)
  assert.equal(ann.chat.neighbours.map((n) => n.id), [bob.id], 'only the overlay link floods')
  ann.chat.send('to the overlay')
  await mesh.advance(0)
  assert.equal(bob.log.messages.map((m) => m.text), ['to the overlay'])
  assert.equal(cat.log.messages, [], 'cat speaks chat with ann but is not an overlay link')
  overlay.neighbours.push(cat.id)
  events.emit('neighbour:added', cat.id)
  overlay.neighbours.splice(0, 1)
  events.emit('neighbour:removed', bob.id)
  ann.chat.send('now to cat')
  await mesh.advance(0)
  assert.equal(cat.log.messages.map((m) => m.text), ['now to cat'])
  assert.equal(bob.log.messages.map((m) => m.text), ['to the overlay'], 'bob left the overlay')
})

// ---------------------------------------------------------------------------------------
// Direct messages and receipts

test('a DM to a member that never wrote arrives, and its signed receipt comes back as "delivered"', async () => {
  const [ann, , cat] = await line('ann', 'bob', 'cat')
  assert.equal(nicks(ann.chat.members), ['ann', 'bob', 'cat'], 'cat is on the roster without having written')
  const { id, to } = ann.chat.sendDirect('cat', 'psst, cat')
  assert.is(to.id, cat.id)
  await mesh.advance(0)
  assert.equal(cat.log.directs.map((m) => [m.id, m.origin, m.nick, m.text, m.recipient]), [[id, ann.id, 'ann', 'psst, cat', cat.id]])
  assert.equal(ann.log.receipts, [{ id, to: cat.id, nick: 'cat', status: 'delivered' }])
  assert.equal(mesh.nodes[1]!.log.directs, [], 'the relay read nothing')
  // The deadline passing later changes nothing.
  await mesh.advance(10_000)
  assert.is(ann.log.receipts.length, 1)
})

test('a DM to a direct neighbour uses the key from its handshake, before it ever announced itself', async () => {
  const ann = mesh.node('ann')
  const peer = mesh.raw(ann)
  await mesh.advance(0)
  assert.ok(ann.chat.neighbours.some((n) => n.id === peer.id && n.publicKey.equals(publicKeyOf(peer.key))))
  const { id } = ann.chat.sendDirect(peer.id.slice(0, 10), 'hello neighbour')
  const got = (await floodsAt(peer.end, 2)).map(decodeEnvelope).find((e) => e.kind === ChatKind.Direct) as DirectEnvelope
  assert.is(got.id, id)
  assert.equal(openDirect(got, peer.key), { kind: DirectKind.Message, nick: 'ann', text: 'hello neighbour' })
})

test('no receipt in time: "not-confirmed" at the deadline exactly; a forged or misdirected receipt never says "delivered"', async () => {
  const [ann, bob] = await line('ann', 'bob')
  const mallory = mesh.raw(ann)
  await mesh.advance(0)
  mesh.cut(ann, bob) // bob stays on the roster, but the DM cannot reach him
  await settle()
  const { id } = ann.chat.sendDirect('bob', 'are you there?')
  // mallory confirms it in her own name, and also replays a receipt bob signed for another message.
  await mallory.end.writeMsg(ChatMsg.Flood, flood(encodeReceipt(mallory.key, ann.publicKey, id, mesh.clock.now())))
  await mallory.end.writeMsg(ChatMsg.Flood, flood(encodeReceipt(bob.key, ann.publicKey, 'ab'.repeat(16), mesh.clock.now())))
  await mesh.advance(4999)
  assert.equal(ann.log.receipts, [], 'nothing before the deadline')
  await mesh.advance(1)
  assert.equal(ann.log.receipts, [{ id, to: bob.id, nick: 'bob', status: 'not-confirmed' }])
})

test('a relay re-signing someone else\'s sealed DM as its own: the recipient shows nothing and counts a rejection', async () => {
  const bob = mesh.node('bob')
  const mallory = mesh.raw(bob)
  const annKey = generatePrivateKey()
  const original = decodeEnvelope(encodeDirect(annKey, bob.publicKey, 'ann', 'meet at 5', mesh.clock.now())) as DirectEnvelope
  const body = [Buffer.from(bob.id, 'hex'), original.sealed]
  const origin = Buffer.from(mallory.id, 'hex')
  const ts = mesh.clock.now()
  const sig = sign(keccak256(RLP.encode([Buffer.from('devp2p-chat/2'), ChatKind.Direct, origin, ts, body])), mallory.key)
  await mallory.end.writeMsg(ChatMsg.Flood, flood(RLP.encode([ChatKind.Direct, origin, ts, body, sig])))
  await mallory.end.writeMsg(ChatMsg.Flood, flood(original.payload)) // the real one, as relayed
  await mesh.advance(0)
  assert.equal(bob.log.directs.map((m) => [m.origin, m.text]), [[original.origin, 'meet at 5']])
  assert.is(bob.log.rejected.length, 1)
  assert.match(bob.log.rejected[0]!, /re-signed/)
})

test('resolve(): nick, id, prefix; ambiguous, unknown and ourselves are UnknownRecipientError', async () => {
  const hub = mesh.node('hub')
  const sams = [mesh.node('sam'), mesh.node('sam')]
  const zoe = mesh.node('zoe')
  for (const n of [...sams, zoe]) mesh.link(hub, n)
  await mesh.advance(0)
  assert.is(hub.chat.resolve('zoe').id, zoe.id)
  assert.is(hub.chat.resolve(`0x${sams[1]!.id.toUpperCase()}`).id, sams[1]!.id)
  let n = 4
  while ([sams[1]!, zoe].some((o) => o.id.startsWith(sams[0]!.id.slice(0, n)))) n++
  assert.is(hub.chat.resolve(sams[0]!.id.slice(0, n)).id, sams[0]!.id)
  for (const [target, message] of [['sam', /ambiguous/], ['nobody', /\/who lists/], ['hub', /that is you/]] as const) {
    let err: unknown
    try {
      hub.chat.resolve(target)
    } catch (e) {
      err = e
    }
    assert.instance(err, UnknownRecipientError, target)
    assert.match((err as Error).message, message)
  }
})

// ---------------------------------------------------------------------------------------
// Presence

test('joins are told with nicks at every node; renames and goodbyes too; /who is the roster', async () => {
  const [ann, bob, cat] = await line('ann', 'bob', 'cat')
  for (const n of [ann, bob, cat]) assert.equal(nicks(n.chat.members), ['ann', 'bob', 'cat'], `${n.chat.nick}'s roster`)
  // All three started at the same instant, so each tells the other two as joining, whether
  // it learnt of them from an announcement or from a neighbour's roster first.
  assert.equal([ann, bob, cat].map((n) => n.log.joins.map((j) => j.nick).sort()), [['bob', 'cat'], ['ann', 'cat'], ['ann', 'bob']])
  cat.chat.nick = 'kitty'
  await mesh.advance(0)
  for (const n of [ann, bob]) assert.equal(n.log.renames, [{ from: 'cat', to: 'kitty' }])
  assert.is(ann.chat.resolve('kitty').id, cat.id)
  bob.chat.stop()
  await mesh.advance(0)
  for (const n of [ann, cat]) assert.equal(n.log.leaves, [{ nick: 'bob', reason: 'quit' }])
  assert.equal(nicks(ann.chat.members), ['ann', 'kitty'])
})

test('stop() resolves once each neighbour has taken the goodbye, so the Disconnect that follows cannot drop it', async () => {
  const [ann, bob, cat] = await line('ann', 'bob', 'cat')
  await within(bob.chat.stop(), 5000, 'stop() to be answered by both neighbours')
  mesh.cut(bob, ann) // what server.stop() does next: queued, unread messages are dropped
  mesh.cut(bob, cat)
  await mesh.advance(0)
  for (const n of [ann, cat]) assert.equal(n.log.leaves, [{ nick: 'bob', reason: 'quit' }])
})

test('a silent member is shown gone after GONE_AFTER of its declared periods; live ones stay through many periods', async () => {
  const [ann, bob, cat] = await line('ann', 'bob', 'cat')
  await mesh.advance(10 * 12_500)
  assert.equal(ann.log.leaves, [], 'refreshes keep everyone present')
  assert.equal(nicks(ann.chat.members), ['ann', 'bob', 'cat'])
  mesh.cut(bob, cat) // cat is cut off and falls silent for the others
  await settle()
  const declared = bob.chat.roster.get(cat.id)!.interval
  assert.is(declared, 12_500, 'a 10 s period, declared with its jitter')
  const lastSeen = bob.chat.roster.get(cat.id)!.lastSeen
  await mesh.advance(lastSeen + chatDefaults.GONE_AFTER * declared - mesh.clock.now())
  assert.equal(bob.log.leaves, [], 'not before the deadline')
  await mesh.advance(1)
  for (const n of [ann, bob]) assert.equal(n.log.leaves, [{ nick: 'cat', reason: 'timeout' }])
  assert.equal(nicks(ann.chat.members), ['ann', 'bob'])
  assert.equal(cat.log.leaves.map((l) => l.reason), ['timeout', 'timeout'], 'and cat sees both go')
})

test('a late joiner learns the whole roster from its neighbour, without join lines for people already there', async () => {
  const [ann, bob] = await line('ann', 'bob')
  await mesh.advance(2000)
  const dan = mesh.node('dan')
  const synced: number[] = []
  dan.chat.events.on('synced', (e) => e.kind === 'roster' && synced.push(e.count))
  mesh.link(bob, dan)
  await mesh.advance(0)
  assert.equal(nicks(dan.chat.members), ['ann', 'bob', 'dan'])
  assert.equal(dan.log.joins, [], 'ann and bob were already here')
  assert.equal(synced, [2])
  assert.equal(ann.log.joins.map((j) => j.nick), ['bob', 'dan'])
})

// ---------------------------------------------------------------------------------------
// History

test('history: a late joiner is shown the earlier broadcasts once, in order, marked as history and never re-flooded', async () => {
  const [ann, bob] = await line('ann', 'bob')
  for (const [n, text] of [[ann, 'one'], [bob, 'two'], [ann, 'three']] as const) {
    n.chat.send(text)
    await mesh.advance(1000)
  }
  const cat = mesh.node('cat')
  const eve = mesh.node('eve')
  mesh.link(cat, eve) // eve will see anything cat floods
  mesh.link(bob, cat)
  mesh.link(ann, cat) // a second neighbour with the same history
  await mesh.advance(0)
  assert.equal(cat.log.history.map((m) => [m.nick, m.text]), [['ann', 'one'], ['bob', 'two'], ['ann', 'three']])
  assert.equal(cat.log.messages, [], 'none of it as a live message')
  assert.equal(eve.log.messages, [], 'history is not flooded on')
  // Replayed live by a hostile neighbour within the window: a replay, not a new message.
  const mallory = mesh.raw(cat)
  const entry = ann.chat.history.payloads(mesh.clock.now())[0]!
  await mallory.end.writeMsg(ChatMsg.Flood, flood(entry))
  await mesh.advance(0)
  assert.equal(cat.log.messages, [])
  assert.is(cat.chat.stats.replays, 1)
  ann.chat.send('four')
  await mesh.advance(0)
  assert.equal(cat.log.messages.map((m) => m.text), ['four'])
})

test('history entries are checked by signature, not by the clock window; a bad one is dropped, an unasked response ignored', async () => {
  const ann = mesh.node('ann')
  const peer = mesh.raw(ann)
  let requestId: number | undefined
  while (requestId === undefined) {
    const msg = await peer.end.readMsg()
    if (msg.code === ChatMsg.GetHistory) requestId = decodeRequest(msg.payload).requestId
  }
  const old = mesh.clock.now() - 50 * 60_000 // 50 minutes: far outside the live window
  const bobKey = generatePrivateKey()
  const good = encodeBroadcast(bobKey, 'bob', 'from long ago', old)
  const forged = RLP.encode([...(RLP.decode(encodeBroadcast(bobKey, 'bob', 'x', old)) as Uint8Array[]).slice(0, 4), Buffer.alloc(65, 1)])
  await peer.end.writeMsg(ChatMsg.History, encodeResponse(requestId + 99, [good])) // nobody asked with that id
  await mesh.advance(0)
  assert.equal(ann.log.history, [])
  await peer.end.writeMsg(ChatMsg.History, encodeResponse(requestId, [forged, good, encodeBroadcast(bobKey, 'bob', 'from the future', mesh.clock.now() + 2 * WINDOW)]))
  await mesh.advance(0)
  assert.equal(ann.log.history.map((m) => m.text), ['from long ago'])
  assert.is(ann.chat.stats.rejected, 2)
})

test('history and roster requests are answered, rate-limited per neighbour; an oversized response ends that link only', async () => {
  const ann = mesh.node('ann')
  ann.chat.send('kept')
  const peer = mesh.raw(ann)
  const answers: number[] = []
  for (let i = 0; i < 4; i++) await peer.end.writeMsg(ChatMsg.GetHistory, encodeRequest(100 + i))
  await mesh.advance(0)
  for (;;) {
    const msg = await Promise.race([peer.end.readMsg(), settle(5).then(() => undefined)])
    if (!msg) break
    if (msg.code === ChatMsg.History) {
      const { requestId, envelopes } = decodeResponse(ChatMsg.History, msg.payload)
      answers.push(requestId)
      assert.equal(envelopes.map((e) => decodeEnvelope(e).kind === ChatKind.Broadcast), [true])
    }
  }
  assert.equal(answers, [100, 101], 'a burst of two, then nothing until the bucket refills')
  const other = mesh.raw(ann)
  await other.end.writeMsg(ChatMsg.Roster, RLP.encode([1, Array.from({ length: 1025 }, () => Uint8Array.of(0xc0))]))
  await mesh.advance(0)
  assert.instance(ann.runErrors[0], MessageDecodeError)
  assert.is(ann.runErrors.length, 1, 'only that link failed')
})

test.run()
