// chat/2's codecs as pure functions: every envelope kind round-trips and is signed by its
// origin; a direct message's sealed body is bound to its sender and recipient; nicks are
// checked on the wire; every decoder meets hostile bytes with a typed error only.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RLP } from '@ethereumjs/rlp'
import { sign } from '../lib/crypto/index.js'
import { EciesError, eciesEncrypt, generatePrivateKey, keccak256, MessageDecodeError, nodeId, publicKeyOf } from '../lib/index.js'
import { seededRandom } from '../lib/random.js'
import {
  chatDefaults,
  ChatKind,
  ChatMsg,
  checkNick,
  decodeEnvelope,
  decodeRequest,
  decodeResponse,
  DirectKind,
  encodeBroadcast,
  encodeDirect,
  encodeGoodbye,
  encodePresence,
  encodeReceipt,
  encodeRequest,
  encodeResponse,
  InvalidNickError,
  MAX_ENVELOPE,
  MAX_PRESENCE,
  MAX_TEXT,
  nickProblem,
  openDirect,
  refreshPeriod,
  type DirectEnvelope,
} from '../protocols/chat/index.js'

const T = Date.UTC(2026, 0, 1, 12)
const ann = generatePrivateKey()
const bob = generatePrivateKey()
const mallory = generatePrivateKey()
const idOf = (key: Uint8Array): string => nodeId(publicKeyOf(key))
const DOMAIN = Buffer.from('devp2p-chat/2')

/** An envelope signed by `key` with any fields at all, bypassing the encoders' checks. */
function handSigned(key: Uint8Array, kind: number, body: unknown, over: { origin?: string; timestamp?: number } = {}): Uint8Array {
  const origin = Buffer.from(over.origin ?? idOf(key), 'hex')
  const timestamp = over.timestamp ?? T
  const signature = sign(keccak256(RLP.encode([DOMAIN, kind, origin, timestamp, body as Uint8Array])), key)
  return RLP.encode([kind, origin, timestamp, body as Uint8Array, signature])
}

function thrown(fn: () => unknown): Error {
  try {
    fn()
  } catch (err) {
    return err as Error
  }
  assert.unreachable('expected a throw')
  throw new Error('unreachable')
}

test('broadcast, presence and goodbye round-trip with origin, key, timestamp and a content-bound id', () => {
  const b = decodeEnvelope(encodeBroadcast(ann, 'ann', 'héllo ☃', T))
  assert.is(b.kind, ChatKind.Broadcast)
  assert.is(b.origin, idOf(ann))
  assert.ok(b.originKey.equals(publicKeyOf(ann)))
  assert.equal(b.kind === ChatKind.Broadcast && [b.nick, b.text, b.timestamp], ['ann', 'héllo ☃', T])
  assert.match(b.id, /^[0-9a-f]{32}$/)
  assert.is(decodeEnvelope(encodeBroadcast(ann, 'ann', 'héllo ☃', T)).id, b.id, 'same content, same id')
  assert.is.not(decodeEnvelope(encodeBroadcast(ann, 'ann', 'héllo ☃', T + 1)).id, b.id)

  const p = decodeEnvelope(encodePresence(ann, { nick: 'ann', host: '10.1.2.3', port: 30303, interval: 375_000, since: T - 5000 }, T))
  assert.equal(p.kind === ChatKind.Presence && [p.nick, p.host, p.port, p.interval, p.since], ['ann', '10.1.2.3', 30303, 375_000, T - 5000])
  const p6 = decodeEnvelope(encodePresence(ann, { nick: 'ann', host: '::1', port: 1, interval: 1, since: 0 }, T))
  assert.equal(p6.kind === ChatKind.Presence && [p6.host, p6.port, p6.since], ['::1', 1, 0])
  const none = decodeEnvelope(encodePresence(ann, { nick: 'ann', interval: 5, since: 0 }, T))
  assert.equal(none.kind === ChatKind.Presence && [none.host, none.port], [undefined, undefined])
  assert.instance(thrown(() => encodePresence(ann, { nick: 'ann', host: 'example.com', port: 1, interval: 5, since: 0 }, T)), RangeError)

  const g = decodeEnvelope(encodeGoodbye(ann, T))
  assert.equal([g.kind, g.origin], [ChatKind.Goodbye, idOf(ann)])
})

test('the id names the signed content: a malleated signature (s → n − s) is the same message', () => {
  const payload = encodeBroadcast(ann, 'ann', 'once', T)
  const items = RLP.decode(payload) as Uint8Array[]
  const sig = Buffer.from(items[4]!)
  const n = BigInt('0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141')
  const s = BigInt(`0x${sig.subarray(32, 64).toString('hex')}`)
  const flipped = Buffer.concat([sig.subarray(0, 32), Buffer.from((n - s).toString(16).padStart(64, '0'), 'hex'), Buffer.of(sig[64]! ^ 1)])
  const other = RLP.encode([...items.slice(0, 4), flipped])
  assert.not.ok(Buffer.from(other).equals(Buffer.from(payload)), 'different bytes')
  // secp256k1 recovery accepts the high-s twin, so the bytes differ but the message is one.
  const env = decodeEnvelope(other)
  assert.is(env.id, decodeEnvelope(payload).id)
  assert.is(env.origin, idOf(ann))
})

test('direct message: only the recipient opens it, and sees sender, nick and text', () => {
  const env = decodeEnvelope(encodeDirect(ann, publicKeyOf(bob), 'ann', 'for bob only', T)) as DirectEnvelope
  assert.is(env.kind, ChatKind.Direct)
  assert.is(env.recipient, idOf(bob))
  assert.not.ok(env.sealed.includes(Buffer.from('for bob only')), 'not in clear')
  assert.equal(openDirect(env, bob), { kind: DirectKind.Message, nick: 'ann', text: 'for bob only' })
  assert.match(thrown(() => openDirect(env, mallory)).message, /addressed to/)
  const receipt = decodeEnvelope(encodeReceipt(bob, publicKeyOf(ann), env.id, T + 5)) as DirectEnvelope
  assert.equal(openDirect(receipt, ann), { kind: DirectKind.Receipt, messageId: env.id })
  assert.is(receipt.origin, idOf(bob))
})

test('a relay that re-signs someone else\'s sealed direct message as its own is refused by the recipient', () => {
  const original = decodeEnvelope(encodeDirect(ann, publicKeyOf(bob), 'ann', 'meet at 5', T)) as DirectEnvelope
  // mallory takes ann's sealed body and signs an envelope of her own around it.
  const stolen = decodeEnvelope(handSigned(mallory, ChatKind.Direct, [Buffer.from(idOf(bob), 'hex'), original.sealed])) as DirectEnvelope
  assert.is(stolen.origin, idOf(mallory), 'the outer signature is valid: it is mallory\'s')
  const err = thrown(() => openDirect(stolen, bob))
  assert.instance(err, MessageDecodeError)
  assert.match(err.message, /sealed by .* but signed by .*re-signed/)
  // A body sealed for someone else and sent to bob under a valid envelope is refused too.
  const forCarol = eciesEncrypt(publicKeyOf(bob), RLP.encode([Buffer.from(idOf(mallory), 'hex'), Buffer.alloc(32, 1), T, [0, 'mal', 'x']]))
  const readdressed = decodeEnvelope(handSigned(mallory, ChatKind.Direct, [Buffer.from(idOf(bob), 'hex'), forCarol])) as DirectEnvelope
  assert.match(thrown(() => openDirect(readdressed, bob)).message, /sealed for .*not for us/)
  const badTime = eciesEncrypt(publicKeyOf(bob), RLP.encode([Buffer.from(idOf(mallory), 'hex'), Buffer.from(idOf(bob), 'hex'), T - 1, [0, 'mal', 'x']]))
  assert.match(thrown(() => openDirect(decodeEnvelope(handSigned(mallory, ChatKind.Direct, [Buffer.from(idOf(bob), 'hex'), badTime])) as DirectEnvelope, bob)).message, /timestamps differ/)
  const garbage = decodeEnvelope(handSigned(mallory, ChatKind.Direct, [Buffer.from(idOf(bob), 'hex'), Buffer.alloc(200, 7)])) as DirectEnvelope
  assert.instance(thrown(() => openDirect(garbage, bob)), EciesError)
})

test('forgeries: a tampered field, a foreign signer, a broken signature', () => {
  const items = RLP.decode(encodeBroadcast(ann, 'ann', 'pay bob 1', T)) as (Uint8Array | Uint8Array[])[]
  const tampered = RLP.encode([items[0]!, items[1]!, items[2]!, [Buffer.from('ann'), Buffer.from('pay bob 100')], items[4]!] as Uint8Array[])
  assert.instance(thrown(() => decodeEnvelope(tampered)), MessageDecodeError)
  const forged = handSigned(mallory, ChatKind.Broadcast, ['ann', 'pay mallory'], { origin: idOf(ann) })
  assert.match(thrown(() => decodeEnvelope(forged)).message, /not by the claimed origin/)
  const sig = Buffer.from(items[4] as Uint8Array)
  sig[64] = 7
  assert.match(thrown(() => decodeEnvelope(RLP.encode([...items.slice(0, 4), sig] as Uint8Array[]))).message, /recover/)
})

test('bounds on the wire: text, nick bytes and characters, sizes, kinds, UTF-8', () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ['text over 2 KiB', handSigned(ann, 0, ['ann', 'x'.repeat(MAX_TEXT + 1)]), /text must be 0 to 2048 bytes/],
    ['nick over 32 bytes', handSigned(ann, 0, ['n'.repeat(33), 'hi']), /nick must be 0 to 32 bytes/],
    ['empty nick', handSigned(ann, 0, ['', 'hi']), /nick is empty/],
    ['ESC in a nick', handSigned(ann, 0, ['\x1b[2Jann', 'hi']), /nick contains U\+001B/],
    ['bidi override in a nick', handSigned(ann, 2, ['ann\u202e', '', 0, 5, 0]), /nick contains U\+202E/],
    ['space in a nick', handSigned(ann, 0, ['a b', 'hi']), /nick contains U\+0020/],
    ['invalid UTF-8', handSigned(ann, 0, [Buffer.from([0x61, 0xff]), 'hi']), /not valid UTF-8/],
    ['unknown kind', handSigned(ann, 9, []), /unknown chat message kind 9/],
    ['host not an IP', handSigned(ann, 2, ['ann', 'evil.example', 80, 5, 0]), /IP literal/],
    ['port over 65535', handSigned(ann, 2, ['ann', '1.2.3.4', 70000, 5, 0]), /port must be at most 2 bytes/],
    ['zero interval', handSigned(ann, 2, ['ann', '', 0, 0, 0]), /interval must be positive/],
    ['goodbye with a body', handSigned(ann, 3, ['x']), /goodbye body must have 0 elements/],
    ['six elements', RLP.encode([0, Buffer.alloc(32), T, [], Buffer.alloc(65), 1]), /must have 5 elements/],
    ['not a list', RLP.encode(Buffer.from('hello')), /must be an RLP list/],
    ['not RLP', Uint8Array.of(0xc5, 0x01), /not valid RLP/],
    ['over the envelope size', new Uint8Array(MAX_ENVELOPE + 1), /over the 4096-byte limit/],
  ]
  for (const [what, bytes, message] of cases) {
    const err = thrown(() => decodeEnvelope(bytes))
    assert.instance(err, MessageDecodeError, what)
    assert.match(err.message, message, what)
  }
})

test('nick rules: printable, no spaces, 1 to 32 bytes; InvalidNickError says what to do', () => {
  for (const ok of ['ann', 'Ännchen', '李小龙', 'a'.repeat(32), 'x_y-z.1', '🦊fox']) assert.is(nickProblem(ok), undefined, ok)
  for (const bad of ['', 'a'.repeat(33), 'é'.repeat(17), 'a b', 'tab\there', 'cr\r', '\x1b]0;pwned\x07', 'rtl\u202eevil', 'zw\u200bj', 'bell\x07', 'c1\u009b', 'nbsp\u00a0', 'lone\ud800']) {
    assert.type(nickProblem(bad), 'string', JSON.stringify(bad))
  }
  const err = thrown(() => checkNick('bad nick'))
  assert.instance(err, InvalidNickError)
  assert.match(err.message, /use 1 to 32 bytes of visible characters without spaces/)
  assert.instance(thrown(() => encodeBroadcast(ann, '\x1b', 'x', T)), InvalidNickError)
  assert.instance(thrown(() => encodeBroadcast(ann, 'ann', 'é'.repeat(MAX_TEXT / 2 + 1), T)), RangeError)
})

test('sync codec: requests and responses round-trip; limits are checked before decoding entries', () => {
  assert.equal(decodeRequest(encodeRequest(77)), { requestId: 77 })
  assert.equal(decodeRequest(encodeRequest(78, 0)), { requestId: 78, limit: 0 })
  const entries = [encodeBroadcast(ann, 'ann', 'one', T), encodeBroadcast(ann, 'ann', 'two', T + 1)]
  const back = decodeResponse(ChatMsg.History, encodeResponse(5, entries))
  assert.is(back.requestId, 5)
  assert.equal(back.envelopes.map((e) => Buffer.from(e).toString('hex')), entries.map((e) => Buffer.from(e).toString('hex')))
  const bad: [string, () => unknown, RegExp][] = [
    ['101 history entries', () => decodeResponse(ChatMsg.History, encodeResponse(1, Array.from({ length: 101 }, () => Uint8Array.of(0xc0)))), /101 entries, more than 100/],
    ['a history entry over the envelope size', () => decodeResponse(ChatMsg.History, encodeResponse(1, [new Uint8Array(MAX_ENVELOPE + 1)])), /at most 4096/],
    ['a roster entry over the presence size', () => decodeResponse(ChatMsg.Roster, encodeResponse(1, [new Uint8Array(MAX_PRESENCE + 1)])), /at most 256/],
    ['a list entry', () => decodeResponse(ChatMsg.Roster, RLP.encode([1, [[]]])), /envelope's bytes/],
    ['no entries list', () => decodeResponse(ChatMsg.History, RLP.encode([1, 'x'])), /entries must be a list/],
    ['request with three items', () => decodeRequest(RLP.encode([1, 2, 3])), /\[requestId\] or \[requestId, limit\]/],
    ['a huge response', () => decodeResponse(ChatMsg.History, new Uint8Array(100 * 4099 + 17)), /larger than 100 full entries/],
  ]
  for (const [what, fn, message] of bad) {
    const err = thrown(fn)
    assert.instance(err, MessageDecodeError, what)
    assert.match(err.message, message, what)
  }
})

test('hostile bytes: 3000 seeded mutations of valid messages raise only MessageDecodeError or EciesError', () => {
  const random = seededRandom(2026)
  const seeds = [
    encodeBroadcast(ann, 'ann', 'hello there', T),
    encodeDirect(ann, publicKeyOf(bob), 'ann', 'psst', T),
    encodeReceipt(bob, publicKeyOf(ann), 'ab'.repeat(16), T),
    encodePresence(ann, { nick: 'ann', host: '127.0.0.1', port: 5, interval: 9, since: T }, T),
    encodeGoodbye(ann, T),
    encodeResponse(3, [encodeBroadcast(ann, 'ann', 'x', T)]),
  ]
  let opened = 0
  for (let i = 0; i < 3000; i++) {
    const bytes = Buffer.from(seeds[i % seeds.length]!)
    const flips = 1 + Math.floor(random() * 4)
    for (let f = 0; f < flips; f++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256)
    const cut = random() < 0.2 ? bytes.subarray(0, Math.floor(random() * bytes.length)) : bytes
    for (const decode of [
      () => {
        const env = decodeEnvelope(cut)
        if (env.kind === ChatKind.Direct) openDirect(env, bob)
        opened++
      },
      () => decodeResponse(ChatMsg.History, cut),
      () => decodeRequest(cut),
    ]) {
      try {
        decode()
      } catch (err) {
        if (!(err instanceof MessageDecodeError) && !(err instanceof EciesError)) throw err
      }
    }
  }
  assert.ok(opened < 3000)
})

test('the README\'s sizes and presence figure: announcements cost about 3% of a 1,000-member room writing ten lines an hour each', () => {
  const frame = (envelope: Uint8Array): number => RLP.encode([Buffer.alloc(16), Buffer.alloc(32), 16, envelope]).length
  const typical = frame(encodePresence(ann, { nick: 'annabel', host: '203.0.113.7', port: 30303, interval: 375_000, since: T }, T))
  const largest = encodePresence(ann, { nick: 'x'.repeat(32), host: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', port: 65535, interval: 86_400_000, since: T }, T)
  const line = frame(encodeBroadcast(ann, 'annabel', 'x'.repeat(60), T))
  assert.equal([typical, largest.length, frame(largest), line], [200, 200, 255, 237], 'the sizes the README states')
  assert.ok(largest.length <= MAX_PRESENCE)
  const base = chatDefaults.PRESENCE_INTERVAL
  assert.is(refreshPeriod(30, base), base, '5 minutes up to 30 members')
  assert.is(refreshPeriod(1000, base), 10_000_000, 'about 2.8 hours at 1,000')
  const presence = (1000 / (refreshPeriod(1000, base) / 1000)) * typical // bytes/s, the whole room
  const messages = ((1000 * 10) / 3600) * line
  assert.is(Math.round(presence), 20)
  assert.is(Math.round(messages), 658)
  assert.ok(presence / messages < 0.035, `${((100 * presence) / messages).toFixed(1)}%`)
})

test.run()
