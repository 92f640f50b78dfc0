// floodnet's parts without sockets: the seen-cache and the token bucket on an injected
// clock, the JOIN_REQ codec, and the flooding engine driven through fake neighbours.
import { RLP } from '@ethereumjs/rlp'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { generatePrivateKey, publicKeyOf } from '../lib/crypto/index.js'
import { nodeId, type Enode } from '../lib/enode.js'
import { Netlist } from '../lib/netutil.js'
import { MessageDecodeError } from '../lib/errors.js'
import { decodeFlood, decodeSpares, encodeSpares, FloodEngine, floodnetDefaults, MAX_SPARES_PER_MESSAGE, SeenCache, SpareSet, TokenBucket, type DropReason, type FloodEngineOptions } from '../protocols/floodnet/index.js'
import { decideJoin, decodeAck, decodeJoin, decodeOffer, dialProblem, encodeAck, encodeJoin, encodeOffer, joinPolicies, MAX_ACCEPTS_PER_NEIGHBOUR, newToken, TOKEN_SIZE, type JoinPolicy, type JoinState } from '../protocols/floodnet/join.js'
import { encodeFlood } from './support/floodnet-cluster.js'

/** A clock the test moves by hand. */
function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start
  return { now: () => t, advance: (ms) => (t += ms) }
}

// ---------------------------------------------------------------------------------------
// SeenCache

test('SeenCache: seen() is false the first time and true after; has() looks without recording', () => {
  const cache = new SeenCache(10, 1000)
  assert.not.ok(cache.has('a'))
  assert.is(cache.size, 0, 'has() records nothing')
  assert.not.ok(cache.seen('a'))
  assert.ok(cache.seen('a'))
  assert.ok(cache.has('a'))
  assert.is(cache.size, 1)
})

test('SeenCache: bounded by entries, the oldest evicted first', () => {
  const cache = new SeenCache(3, 60_000)
  for (const id of ['a', 'b', 'c', 'd', 'e']) {
    cache.seen(id)
    assert.ok(cache.size <= 3, `size ${cache.size} after ${id}`)
  }
  assert.is(cache.size, 3)
  assert.not.ok(cache.has('a'))
  assert.not.ok(cache.has('b'))
  for (const id of ['c', 'd', 'e']) assert.ok(cache.has(id), id)
  // An evicted id counts as new again.
  assert.not.ok(cache.seen('a'))
})

test('SeenCache: a re-sighting makes an entry the youngest, so the entry bound evicts others first', () => {
  const cache = new SeenCache(2, 60_000)
  cache.seen('a')
  cache.seen('b')
  assert.ok(cache.seen('a'), 'a re-sighted')
  cache.seen('c')
  assert.ok(cache.has('a'), 'a survived: it was refreshed after b')
  assert.not.ok(cache.has('b'))
  assert.ok(cache.has('c'))
})

test('SeenCache: entries expire after the TTL (injected clock)', () => {
  const t = clock()
  const cache = new SeenCache(100, 1000, t.now)
  cache.seen('a')
  t.advance(999)
  assert.ok(cache.has('a'), 'alive 1 ms before the TTL')
  t.advance(1)
  assert.not.ok(cache.has('a'), 'expired at the TTL')
  assert.not.ok(cache.seen('a'), 'an expired id counts as new')
  assert.ok(cache.has('a'), 'and is recorded afresh')
})

test('SeenCache: expired entries are pruned on the next insertion', () => {
  const t = clock()
  const cache = new SeenCache(100, 1000, t.now)
  for (let i = 0; i < 50; i++) cache.seen(`old${i}`)
  t.advance(1000)
  cache.seen('new')
  assert.is(cache.size, 1)
})

test('SeenCache: each re-sighting refreshes the age, keeping an entry alive past its first TTL', () => {
  const t = clock()
  const cache = new SeenCache(100, 1000, t.now)
  cache.seen('a')
  // Re-sighted every 800 ms for 4 s: four TTLs after it was first seen, it is still known.
  for (let i = 0; i < 5; i++) {
    t.advance(800)
    assert.ok(cache.seen('a'), `re-sighting ${i + 1} at +${(i + 1) * 800} ms is recognised`)
  }
  t.advance(999)
  assert.ok(cache.has('a'), 'alive up to a TTL after the last sighting')
  t.advance(1)
  assert.not.ok(cache.has('a'), 'gone a TTL after the last sighting')
})

test('SeenCache: has() does not refresh', () => {
  const t = clock()
  const cache = new SeenCache(100, 1000, t.now)
  cache.seen('a')
  t.advance(600)
  assert.ok(cache.has('a'))
  t.advance(400)
  assert.not.ok(cache.has('a'), 'expired a TTL after seen(), has() notwithstanding')
})

// ---------------------------------------------------------------------------------------
// TokenBucket

test('TokenBucket: starts full — burst tokens, then refusal', () => {
  const t = clock()
  const bucket = new TokenBucket(10, 5, t.now)
  for (let i = 0; i < 5; i++) assert.ok(bucket.take(), `token ${i + 1}`)
  assert.not.ok(bucket.take(), 'empty after the burst')
})

test('TokenBucket: refills at `rate` per second (injected clock)', () => {
  const t = clock()
  const bucket = new TokenBucket(10, 5, t.now)
  for (let i = 0; i < 5; i++) bucket.take()
  t.advance(99)
  assert.not.ok(bucket.take(), '0.99 of a token is not one')
  t.advance(1)
  assert.ok(bucket.take(), 'one token after 100 ms at 10/s')
  assert.not.ok(bucket.take())
  t.advance(250)
  assert.ok(bucket.take())
  assert.ok(bucket.take())
  assert.not.ok(bucket.take(), 'two and a half tokens make two')
  t.advance(50)
  assert.ok(bucket.take(), 'the half token left over counts toward the next')
})

test('TokenBucket: never holds more than `burst`, however long it idles', () => {
  const t = clock()
  const bucket = new TokenBucket(100, 3, t.now)
  t.advance(3_600_000)
  let taken = 0
  while (bucket.take()) taken++
  assert.is(taken, 3)
})

test('TokenBucket: over a long run, accepts at most burst + rate × elapsed', () => {
  const t = clock()
  const bucket = new TokenBucket(20, 10, t.now)
  let taken = 0
  for (let ms = 0; ms < 5000; ms++) {
    for (let k = 0; k < 3; k++) if (bucket.take()) taken++
    t.advance(1)
  }
  assert.ok(taken <= 10 + 20 * 5, `${taken} taken`)
  assert.ok(taken >= 10 + 20 * 5 - 1, `${taken} taken: the rate is given in full to a demanding caller`)
})

// ---------------------------------------------------------------------------------------
// JOIN_REQ codec

const key = publicKeyOf(generatePrivateKey())
const requester = { publicKey: key, id: nodeId(key), host: '127.0.0.1', tcpPort: 30303 }

test('JOIN_REQ: encode then decode gives the token, the requester enode and the hops back', () => {
  const token = newToken()
  const req = decodeJoin(encodeJoin({ token, requester, hopsLeft: 5 }))
  assert.is(req.token, token)
  assert.is(token.length, 2 * TOKEN_SIZE)
  assert.ok(req.requester.publicKey.equals(key))
  assert.is(req.requester.id, requester.id)
  assert.is(req.requester.host, '127.0.0.1')
  assert.is(req.requester.tcpPort, 30303)
  assert.is(req.hopsLeft, 5)
  assert.is(decodeJoin(encodeJoin({ token, requester, hopsLeft: 0 })).hopsLeft, 0)
  assert.is(decodeJoin(encodeJoin({ token, requester: { ...requester, tcpPort: 65535 }, hopsLeft: 255 })).requester.tcpPort, 65535)
  const silent = decodeJoin(encodeJoin({ token, requester: { publicKey: key, id: requester.id }, hopsLeft: 3 })).requester
  assert.is(silent.host, undefined, 'a requester that does not listen sends no address')
  assert.is(silent.tcpPort, undefined)
})

test('JOIN_REQ: decodeJoin rejects malformed input with MessageDecodeError', () => {
  const id = Buffer.alloc(8, 1)
  const host = Buffer.from('127.0.0.1')
  const cases: [string, Uint8Array][] = [
    ['empty input', new Uint8Array(0)],
    ['truncated RLP', RLP.encode([id, key, host, 30303, 5]).subarray(0, 20)],
    ['trailing bytes', Buffer.concat([RLP.encode([id, key, host, 30303, 5]), Buffer.from([0x01])])],
    ['a byte string, not a list', RLP.encode(Buffer.from('join'))],
    ['a list of four', RLP.encode([id, key, host, 30303])],
    ['a 7-byte token', RLP.encode([id.subarray(0, 7), key, host, 30303, 5])],
    ['a list as token', RLP.encode([[id], key, host, 30303, 5])],
    ['a 63-byte key', RLP.encode([id, key.subarray(1), host, 30303, 5])],
    ['a 65-byte key', RLP.encode([id, Buffer.concat([Buffer.from([4]), key]), host, 30303, 5])],
    ['an empty host with a port', RLP.encode([id, key, '', 30303, 5])],
    ['a host with port 0', RLP.encode([id, key, host, 0, 5])],
    ['a 65-byte host', RLP.encode([id, key, Buffer.alloc(65, 0x61), 30303, 5])],
    ['a list as host', RLP.encode([id, key, [host], 30303, 5])],
    ['a 3-byte port', RLP.encode([id, key, host, 70000, 5])],
    ['port 0 written as one zero byte', RLP.encode([id, key, host, Uint8Array.of(0), 5])],
    ['a 2-byte hop count', RLP.encode([id, key, host, 30303, 256])],
    ['a list as hop count', RLP.encode([id, key, host, 30303, [5]])],
  ]
  for (const [what, wire] of cases) {
    assert.throws(() => decodeJoin(wire), (err: unknown) => err instanceof MessageDecodeError, what)
  }
})

test('JOIN_ACK and JOIN_OFFER: round trips; an offer without an address and a short token are MessageDecodeErrors', () => {
  const token = newToken()
  assert.is(decodeAck(encodeAck(token)), token)
  const offer = decodeOffer(encodeOffer({ token, acceptor: requester }))
  assert.is(offer.token, token)
  assert.is(offer.acceptor.id, requester.id)
  assert.is(offer.acceptor.host, '127.0.0.1')
  assert.throws(() => decodeOffer(encodeOffer({ token, acceptor: { publicKey: key, id: requester.id } })), (e: unknown) => e instanceof MessageDecodeError)
  assert.throws(() => decodeAck(RLP.encode([Buffer.alloc(7)])), (e: unknown) => e instanceof MessageDecodeError)
})

test('dialProblem: only a curve point at a unicast IP literal inside netrestrict is dialled on a remote\'s word', () => {
  const net = new Netlist(['10.0.0.0/8'])
  const table: [string, Partial<Enode>, Netlist | undefined, RegExp | undefined][] = [
    ['loopback IPv4', { host: '127.0.0.1' }, undefined, undefined],
    ['IPv6', { host: '2001:db8::1' }, undefined, undefined],
    ['a host name', { host: 'example.com' }, undefined, /not a unicast IP/],
    ['0.0.0.0', { host: '0.0.0.0' }, undefined, /not a unicast IP/],
    ['::', { host: '::' }, undefined, /not a unicast IP/],
    ['broadcast', { host: '255.255.255.255' }, undefined, /not a unicast IP/],
    ['multicast', { host: '224.0.0.1' }, undefined, /not a unicast IP/],
    ['IPv6 multicast', { host: 'ff02::1' }, undefined, /not a unicast IP/],
    ['inside netrestrict', { host: '10.1.2.3' }, net, undefined],
    ['outside netrestrict', { host: '192.168.1.1' }, net, /outside netrestrict/],
    ['no address', { host: undefined, tcpPort: undefined }, undefined, /no address/],
    ['a key off the curve', { publicKey: Buffer.alloc(64, 1) }, undefined, /not a point/],
  ]
  for (const [what, change, netrestrict, want] of table) {
    const problem = dialProblem({ ...requester, ...change } as Enode, netrestrict)
    if (want) assert.match(problem ?? '', want, what)
    else assert.is(problem, undefined, what)
  }
})

test('decideJoin: every branch', () => {
  const base: JoinState = { degree: 5, committed: 5, desired: 5, maxDegree: 10, acceptsViaSender: 0, requester: 'new', hopsLeft: 3, joinHops: 5, mixHops: 0, lastStop: false }
  const table: [string, Partial<JoinState>, number, 'accept' | 'forward'][] = [
    ['our own walk came back', { requester: 'self', degree: 0, committed: 0 }, 0, 'forward'],
    ['already a neighbour', { requester: 'neighbour', degree: 0, committed: 1 }, 0, 'forward'],
    ['already dialling it', { requester: 'dialing', degree: 0, committed: 1 }, 0, 'forward'],
    ['a contact (connected, not an overlay link): its link can become one', { requester: 'contact', degree: 0, committed: 0 }, 0, 'accept'],
    ['links and dials in flight at maxDegree', { degree: 2, committed: 10 }, 0, 'forward'],
    ['this neighbour already has MAX_ACCEPTS_PER_NEIGHBOUR of our dials in flight', { degree: 1, committed: 3, acceptsViaSender: MAX_ACCEPTS_PER_NEIGHBOUR }, 0, 'forward'],
    ['below desired, however many dials are in flight below maxDegree', { degree: 2, committed: 9, acceptsViaSender: 1 }, 0.99, 'accept'],
    ['at desired, the coin says yes (r < 1/(d+1))', { degree: 5, committed: 5 }, 0.16, 'accept'],
    ['at desired, the coin says no', { degree: 5, committed: 5 }, 1 / 6, 'forward'],
    ['above desired: 1/((d+1)(d+1−desired)) shrinks fast', { degree: 8, committed: 8 }, 0.03, 'forward'],
    ['above desired: still accepts sometimes', { degree: 8, committed: 8 }, 0.027, 'accept'],
  ]
  for (const [what, change, random, want] of table) assert.is(decideJoin({ ...base, ...change }, random), want, what)
})

test('join policies: the guards hold for every policy; each policy decides only what is left', () => {
  const base: JoinState = { degree: 5, committed: 5, desired: 5, maxDegree: 10, acceptsViaSender: 0, requester: 'new', hopsLeft: 3, joinHops: 5, mixHops: 0, lastStop: false }
  const always = (): boolean => true
  for (const [what, change] of [
    ['own walk', { requester: 'self' }],
    ['neighbour', { requester: 'neighbour' }],
    ['dialling', { requester: 'dialing' }],
    ['full', { committed: 10 }],
    ['sender has its dials', { acceptsViaSender: MAX_ACCEPTS_PER_NEIGHBOUR }],
  ] as [string, Partial<JoinState>][]) {
    assert.is(decideJoin({ ...base, ...change }, 0, always), 'forward', `${what}: a policy that always accepts is not asked`)
  }
  const table: [string, JoinPolicy, Partial<JoinState>, number, 'accept' | 'forward'][] = [
    ['walk: mid-walk, whatever the degree', joinPolicies.walk, { degree: 0, hopsLeft: 2 }, 0, 'forward'],
    ['walk: its last node accepts, whatever the degree', joinPolicies.walk, { degree: 9, committed: 9, hopsLeft: 1, lastStop: true }, 0.99, 'accept'],
    ['walk: a dead end before the last hop accepts', joinPolicies.walk, { degree: 1, committed: 1, hopsLeft: 4, lastStop: true }, 0.99, 'accept'],
    ['fixed 0.5: heads', joinPolicies.fixed(0.5), { degree: 9, committed: 9 }, 0.49, 'accept'],
    ['fixed 0.5: tails, even below desired', joinPolicies.fixed(0.5), { degree: 0, committed: 0 }, 0.5, 'forward'],
    ['exact: below desired', joinPolicies.exact, { degree: 4, committed: 4 }, 0.99, 'accept'],
    ['exact: at desired, never', joinPolicies.exact, { degree: 5, committed: 5 }, 0, 'forward'],
    ['degree: a walk that has not mixed is passed on, even below desired', joinPolicies.degree, { degree: 0, committed: 0, mixHops: 3, hopsLeft: 3 }, 0, 'forward'],
    ['degree: mixed once it has travelled mixHops', joinPolicies.degree, { degree: 0, committed: 0, mixHops: 2, hopsLeft: 3 }, 0.99, 'accept'],
    ['degree: mixed or not, a walk that ends here may be taken', joinPolicies.degree, { degree: 0, committed: 0, mixHops: 4, hopsLeft: 4, lastStop: true }, 0.99, 'accept'],
    ['degree: mixed, the coin still decides above desired', joinPolicies.degree, { degree: 6, committed: 6, mixHops: 2, hopsLeft: 1 }, 1 / 14, 'forward'],
    ['degree: mixed, and the coin says yes', joinPolicies.degree, { degree: 6, committed: 6, mixHops: 2, hopsLeft: 1 }, 0.07, 'accept'],
    ['seed: the tutorial rule ignores mixing and takes 1/(d+1) above desired', joinPolicies.seed, { degree: 6, committed: 6, mixHops: 4, hopsLeft: 5 }, 0.14, 'accept'],
    ['seed: below desired, at once', joinPolicies.seed, { degree: 2, committed: 2, mixHops: 4, hopsLeft: 5 }, 0.99, 'accept'],
  ]
  for (const [what, policy, change, random, want] of table) assert.is(decideJoin({ ...base, ...change }, random, policy), want, what)
})

// ---------------------------------------------------------------------------------------
// Spares

/** A node with a dialable address, from a fresh key. */
function someNode(host = '10.0.0.9', tcpPort = 30303): Enode {
  const publicKey = publicKeyOf(generatePrivateKey())
  return { publicKey, id: nodeId(publicKey), host, tcpPort }
}

test('SpareSet: bounded; a known id updates its address; when full a random entry makes room; pick filters; sample is distinct', () => {
  const set = new SpareSet(3)
  const [a, b, c, d] = [someNode('10.0.0.1'), someNode('10.0.0.2'), someNode('10.0.0.3'), someNode('10.0.0.4')]
  for (const n of [a, b, c]) set.add(n, () => 0)
  assert.is(set.size, 3)
  set.add({ ...a, host: '10.0.0.11' }, () => 0)
  assert.is(set.size, 3, 'the same id again is an update')
  assert.is(set.pick(() => 0, (n) => n.id === a.id)!.host, '10.0.0.11')
  set.add(d, () => 0.5)
  assert.is(set.size, 3, 'never beyond capacity')
  assert.ok(set.has(d.id), 'the newcomer is in')
  assert.not.ok(set.has(b.id), 'in place of the entry the random number chose (index 1)')
  assert.is(set.pick(() => 0, () => false), undefined, 'nothing usable, nothing picked')
  const sample = set.sample(5, () => 0.3)
  assert.is(sample.length, 3)
  assert.is(new Set(sample.map((n) => n.id)).size, 3)
  set.remove(d.id)
  assert.not.ok(set.has(d.id))
  assert.is(set.size, 2)
})

test('SPARES: encode then decode gives the entries back; at most 8, each with an address', () => {
  const nodes = Array.from({ length: MAX_SPARES_PER_MESSAGE }, (_, i) => someNode(`10.0.1.${i + 1}`, 30000 + i))
  const back = decodeSpares(encodeSpares(nodes))
  assert.equal(
    back.map((n) => [n.id, n.host, n.tcpPort]),
    nodes.map((n) => [n.id, n.host, n.tcpPort]),
  )
  assert.equal(decodeSpares(encodeSpares([])), [])
  assert.throws(() => encodeSpares([...nodes, someNode()]), RangeError)
  assert.throws(() => encodeSpares([{ publicKey: nodes[0]!.publicKey, id: nodes[0]!.id }]), RangeError)
})

test('SPARES: malformed messages are typed decode errors', () => {
  const key = publicKeyOf(generatePrivateKey())
  const cases: [string, Uint8Array][] = [
    ['not RLP', Uint8Array.of(0xc5, 0x01)],
    ['not a list', RLP.encode(Uint8Array.of(1, 2, 3))],
    ['9 entries', RLP.encode(Array.from({ length: 9 }, () => [key, '10.0.0.1', 30303]))],
    ['an entry that is not a list', RLP.encode([key])],
    ['an entry of 2 items', RLP.encode([[key, '10.0.0.1']])],
    ['a 63-byte key', RLP.encode([[key.subarray(1), '10.0.0.1', 30303]])],
    ['an empty host', RLP.encode([[key, '', 30303]])],
    ['a 65-byte host', RLP.encode([[key, 'x'.repeat(65), 30303]])],
    ['port 0', RLP.encode([[key, '10.0.0.1', 0]])],
    ['a 3-byte port', RLP.encode([[key, '10.0.0.1', 70000]])],
  ]
  for (const [what, payload] of cases) assert.throws(() => decodeSpares(payload), (err: Error) => err instanceof MessageDecodeError, what)
})

// ---------------------------------------------------------------------------------------
// FloodEngine with fake neighbours

const SELF = nodeId(publicKeyOf(generatePrivateKey()))
const ORIGIN = Buffer.from(nodeId(publicKeyOf(generatePrivateKey())), 'hex')

/** An engine with neighbours `ids`, each recording the wire messages sent to it. */
function engineWith(ids: string[], options: Partial<FloodEngineOptions> = {}) {
  const engine = new FloodEngine({ selfId: SELF, ...options })
  const sent = new Map<string, Uint8Array[]>()
  for (const id of ids) {
    sent.set(id, [])
    engine.addNeighbour(id, async (payload) => void sent.get(id)!.push(payload))
  }
  const drops: { reason: DropReason; id?: string; from?: string }[] = []
  engine.events.on('drop', (e) => drops.push(e))
  return { engine, sent, drops }
}

let counter = 0
/** A fresh 16-byte message id. */
const newId = (): Buffer => {
  const id = Buffer.alloc(16)
  id.writeUInt32BE(++counter)
  return id
}

test('engine: publish floods to every neighbour with our origin, a fresh id and the full hop count', () => {
  const { engine, sent } = engineWith(['a', 'b', 'c'])
  const id = engine.publish(Buffer.from('hi'))
  for (const [n, msgs] of sent) {
    assert.is(msgs.length, 1, n)
    const m = decodeFlood(msgs[0]!, floodnetDefaults.MAX_PAYLOAD)
    assert.is(m.id.toString('hex'), id)
    assert.is(m.origin.toString('hex'), SELF)
    assert.is(m.hopsLeft, floodnetDefaults.MAX_HOPS)
    assert.is(Buffer.from(m.payload).toString(), 'hi')
  }
  assert.is(engine.stats.published, 1)
  assert.is(engine.stats.sent, 3)
  assert.is(engine.buffered, 0, 'own messages are not delivered to ourselves')
})

test('engine: a new message is delivered once and relayed to every neighbour but the sender and the origin, one hop fewer', async () => {
  const origin = ORIGIN.toString('hex')
  const { engine, sent } = engineWith(['a', 'b', 'c', origin])
  const id = newId()
  engine.handle('a', encodeFlood(id, ORIGIN, 7, Buffer.from('x')))
  const d = await engine.read()
  assert.is(d!.id, id.toString('hex'))
  assert.is(d!.origin, ORIGIN.toString('hex'))
  assert.is(d!.from, 'a')
  assert.is(d!.hops, floodnetDefaults.MAX_HOPS - 7 + 1)
  assert.is(sent.get('a')!.length, 0, 'not back to the sender')
  assert.is(sent.get(origin)!.length, 0, 'not back to the origin, a neighbour too')
  for (const n of ['b', 'c']) {
    assert.is(sent.get(n)!.length, 1)
    assert.is(decodeFlood(sent.get(n)![0]!, 1024).hopsLeft, 6)
  }
  // The same message again, from another neighbour: neither delivered nor relayed.
  engine.handle('b', encodeFlood(id, ORIGIN, 7, Buffer.from('x')))
  engine.handle('c', encodeFlood(id, ORIGIN, 3, Buffer.from('x')))
  assert.is(engine.buffered, 0)
  assert.is(engine.stats.delivered, 1)
  assert.is(engine.stats.duplicates, 2)
  assert.is(engine.stats.relayed, 2)
})

test('engine: a validator that refuses (or throws) stops delivery and relay, with a drop event', () => {
  let calls = 0
  const { engine, sent, drops } = engineWith(['a', 'b'], {
    validate: ({ payload }) => {
      calls++
      if (Buffer.from(payload).toString() === 'throw') throw new Error('boom')
      return Buffer.from(payload).toString() === 'ok'
    },
  })
  const bad = newId()
  engine.handle('a', encodeFlood(bad, ORIGIN, 5, Buffer.from('bad')))
  engine.handle('a', encodeFlood(newId(), ORIGIN, 5, Buffer.from('throw')))
  assert.is(engine.buffered, 0)
  assert.is(sent.get('b')!.length, 0, 'refused messages are not relayed')
  assert.equal(
    drops.map((d) => d.reason),
    ['invalid', 'invalid'],
  )
  assert.is(drops[0]!.id, bad.toString('hex'))
  assert.is(drops[0]!.from, 'a')
  // A refused copy does not claim its id: the genuine message under that id, arriving
  // after a forgery, is still validated, delivered and relayed.
  assert.not.ok(engine.seen.has(bad.toString('hex')))
  engine.handle('b', encodeFlood(bad, ORIGIN, 5, Buffer.from('ok')))
  assert.is(calls, 3)
  assert.is(engine.buffered, 1)
  assert.is(sent.get('a')!.length, 1)
  assert.is(sent.get('b')!.length, 0, 'not back to the sender')
  engine.handle('a', encodeFlood(bad, ORIGIN, 5, Buffer.from('ok')))
  assert.is(calls, 3, 'once accepted, a copy is a duplicate and not validated again')
  assert.is(engine.stats.duplicates, 1)
})

test('engine: hop limit — the last hop is delivered but not relayed, and that counted (last-hop); zero or above maxHops is dropped (hop-limit)', () => {
  const { engine, sent, drops } = engineWith(['a', 'b'], { maxHops: 8 })
  const last = newId()
  engine.handle('a', encodeFlood(last, ORIGIN, 1, Buffer.from('last hop')))
  assert.is(engine.buffered, 1, 'delivered with 1 hop left')
  assert.is(sent.get('b')!.length, 0, 'but not relayed')
  assert.equal(drops[0], { reason: 'last-hop', id: last.toString('hex'), origin: ORIGIN.toString('hex'), from: 'a' }, 'the relay it could not make is reported')
  engine.handle('a', encodeFlood(newId(), ORIGIN, 0, Buffer.from('spent')))
  engine.handle('a', encodeFlood(newId(), ORIGIN, 9, Buffer.from('too many')))
  assert.is(engine.buffered, 1)
  assert.is(sent.get('b')!.length, 0)
  assert.equal(
    drops.map((d) => d.reason),
    ['last-hop', 'hop-limit', 'hop-limit'],
  )
  assert.is(engine.stats.dropped['last-hop'], 1)
  assert.is(engine.stats.dropped['hop-limit'], 2)
  // A last hop with nobody beyond the sender to relay to loses nothing: not counted.
  const alone = engineWith(['a'], { maxHops: 8 })
  alone.engine.handle('a', encodeFlood(newId(), ORIGIN, 1, Buffer.from('last hop, leaf')))
  assert.is(alone.engine.buffered, 1)
  assert.is(alone.drops.length, 0)
  engine.handle('a', encodeFlood(newId(), ORIGIN, 8, Buffer.from('max')))
  assert.is(engine.buffered, 2)
  assert.is(decodeFlood(sent.get('b')![0]!, 1024).hopsLeft, 7)
})

test('engine: own messages are never delivered back — neither echoes of a publish nor unseen ids with our origin', () => {
  const { engine, sent } = engineWith(['a', 'b'])
  const id = engine.publish(Buffer.from('mine'))
  const echo = sent.get('a')![0]!
  engine.handle('a', echo)
  engine.handle('b', echo)
  const forged = newId()
  engine.handle('a', encodeFlood(forged, Buffer.from(SELF, 'hex'), 5, Buffer.from('claims to be mine')))
  assert.is(engine.buffered, 0)
  assert.is(engine.stats.delivered, 0)
  assert.is(sent.get('b')!.length, 1, 'only the original publish went to b: nothing relayed')
  assert.ok(engine.seen.has(id))
})

test('engine: malformed wire messages throw MessageDecodeError and change nothing', () => {
  const { engine, sent } = engineWith(['a', 'b'], { maxPayload: 64 })
  const id = newId()
  const cases: [string, Uint8Array][] = [
    ['empty input', new Uint8Array(0)],
    ['not RLP', Buffer.from([0xf8, 0xff, 0x01])],
    ['a byte string', RLP.encode(Buffer.from('x'))],
    ['three items', RLP.encode([id, ORIGIN, 5])],
    ['a 7-byte id', RLP.encode([id.subarray(0, 7), ORIGIN, 5, 'x'])],
    ['a 33-byte id', RLP.encode([Buffer.alloc(33, 1), ORIGIN, 5, 'x'])],
    ['a 31-byte origin', RLP.encode([id, ORIGIN.subarray(1), 5, 'x'])],
    ['a list as origin', RLP.encode([id, [ORIGIN], 5, 'x'])],
    ['a 2-byte hop count', RLP.encode([id, ORIGIN, 300, 'x'])],
    ['a list as payload', RLP.encode([id, ORIGIN, 5, ['x']])],
    ['a payload above maxPayload', RLP.encode([id, ORIGIN, 5, Buffer.alloc(65)])],
  ]
  for (const [what, wire] of cases) {
    assert.throws(() => engine.handle('a', wire), (err: unknown) => err instanceof MessageDecodeError, what)
    assert.throws(() => decodeFlood(wire, 64), (err: unknown) => err instanceof MessageDecodeError, `decodeFlood: ${what}`)
  }
  assert.is(engine.buffered, 0)
  assert.is(engine.seen.size, 0)
  assert.is(sent.get('b')!.length, 0)
})

test('engine: publish refuses a payload above maxPayload with RangeError', () => {
  const { engine, sent } = engineWith(['a'], { maxPayload: 16 })
  assert.throws(() => engine.publish(Buffer.alloc(17)), (err: unknown) => err instanceof RangeError)
  assert.is(sent.get('a')!.length, 0)
  engine.publish(Buffer.alloc(16))
  assert.is(sent.get('a')!.length, 1)
})

test('engine: the receive buffer keeps the newest `receiveBuffer` messages, dropping the oldest with an event', async () => {
  const { engine, drops } = engineWith(['a'], { receiveBuffer: 3 })
  const ids = Array.from({ length: 5 }, () => newId())
  for (const id of ids) {
    engine.handle('a', encodeFlood(id, ORIGIN, 5, Buffer.from('m')))
    assert.ok(engine.buffered <= 3)
  }
  assert.equal(
    drops.map((d) => [d.reason, d.id]),
    ids.slice(0, 2).map((id) => ['receive-buffer-full', id.toString('hex')]),
  )
  const read: string[] = []
  for (let i = 0; i < 3; i++) read.push((await engine.read())!.id)
  assert.equal(
    read,
    ids.slice(2).map((id) => id.toString('hex')),
  )
})

test('engine: the receive buffer is bounded in bytes too: 16 MiB of unread payload, oldest dropped first', () => {
  const { engine, drops } = engineWith(['a'], { receiveBuffer: 1000, rateLimit: { rate: 1e6, burst: 1e6 } })
  const size = floodnetDefaults.MAX_PAYLOAD
  const fits = floodnetDefaults.RECEIVE_BUFFER_BYTES / size
  for (let i = 0; i < fits + 3; i++) engine.handle('a', encodeFlood(newId(), ORIGIN, 5, Buffer.alloc(size)))
  assert.is(engine.buffered, fits)
  assert.is(drops.filter((d) => d.reason === 'receive-buffer-full').length, 3)
})

test('engine: a waiting reader takes a message directly; close() ends reads', async () => {
  const { engine } = engineWith(['a'])
  const pending = engine.read()
  const id = newId()
  engine.handle('a', encodeFlood(id, ORIGIN, 5, Buffer.from('m')))
  assert.is((await pending)!.id, id.toString('hex'))
  assert.is(engine.buffered, 0)
  const later = engine.read()
  engine.close()
  assert.is(await later, undefined)
  assert.is(await engine.read(), undefined)
})

test('engine: each neighbour has its own rate limit; an exhausted one does not slow the others', () => {
  // Almost no refill during the test: the burst is all a neighbour gets.
  const { engine, drops } = engineWith(['a', 'b'], { rateLimit: { rate: 0.001, burst: 3 } })
  for (let i = 0; i < 10; i++) engine.handle('a', encodeFlood(newId(), ORIGIN, 5, Buffer.from('a')))
  for (let i = 0; i < 3; i++) engine.handle('b', encodeFlood(newId(), ORIGIN, 5, Buffer.from('b')))
  assert.is(engine.stats.delivered, 6)
  assert.is(engine.stats.dropped['rate-limited'], 7)
  assert.ok(drops.every((d) => d.reason === 'rate-limited' && d.from === 'a'))
  // Rate-limited messages are not decoded, so not remembered: the id may come again later.
  assert.is(engine.seen.size, 6)
})

test('engine: relays queued towards one neighbour are capped; beyond the cap they are dropped (send-backlog)', async () => {
  const engine = new FloodEngine({ selfId: SELF })
  let stuck = 0
  engine.addNeighbour('slow', () => {
    stuck++
    return new Promise<void>(() => {})
  })
  const fast: Uint8Array[] = []
  engine.addNeighbour('fast', async (p) => void fast.push(p))
  for (let i = 0; i < floodnetDefaults.MAX_OUTSTANDING_SENDS + 10; i++) {
    engine.publish(Buffer.from(`m${i}`))
    // Lets the fast neighbour's completed sends be counted off, as they would between messages.
    await new Promise((r) => setImmediate(r))
  }
  assert.is(stuck, floodnetDefaults.MAX_OUTSTANDING_SENDS)
  assert.is(engine.stats.dropped['send-backlog'], 10)
  assert.is(fast.length, floodnetDefaults.MAX_OUTSTANDING_SENDS + 10, 'the fast neighbour got every one')
})

test('engine: the remover returned by addNeighbour removes only that registration', () => {
  const engine = new FloodEngine({ selfId: SELF })
  const first: Uint8Array[] = []
  const second: Uint8Array[] = []
  const removeFirst = engine.addNeighbour('a', async (p) => void first.push(p))
  const removeSecond = engine.addNeighbour('a', async (p) => void second.push(p))
  removeFirst()
  assert.equal(engine.neighbours, ['a'], 'the newer registration stays')
  engine.publish(Buffer.from('x'))
  assert.is(first.length, 0)
  assert.is(second.length, 1)
  removeSecond()
  assert.equal(engine.neighbours, [])
})

test.run()
