// RLPxConnection over real loopback TCP: handshake, framing under arbitrary chunking,
// MAC failures, typed handshake errors, size limits and back-pressure.
import { once } from 'node:events'
import { createRequire } from 'node:module'
import type { Socket } from 'node:net'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RLP } from '@ethereumjs/rlp'
import { ecdh, generatePrivateKey, publicKeyOf, sign, xor } from '../lib/crypto/index.js'
import {
  EciesError,
  FrameMacError,
  HandshakeClosedError,
  HandshakePacketSizeError,
  HandshakeSignatureError,
  HandshakeTimeoutError,
  MessageDecodeError,
  MessageTooLargeError,
} from '../lib/errors.js'
import { RLPxConnection, type RLPxConnectionInit } from '../lib/rlpx/connection.js'
import { ECIES_OVERHEAD, eciesEncrypt } from '../lib/rlpx/ecies.js'
import { socketPair, within } from './support/net.js'
import { seededRandom as mulberry32 } from '../lib/random.js'

const MiB = 1024 * 1024
/** Generous deadline for one handshake or a few small messages on loopback. */
const QUICK = 5000
/** Deadline for the multi-megabyte round trips. */
const BULK = 60_000

// ---------------------------------------------------------------------------------------
// Deterministic randomness

/** Integer in [lo, hi]. */
function randInt(rng: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1))
}

function randomBytesFrom(rng: () => number, n: number): Buffer {
  const out = Buffer.allocUnsafe(n)
  let i = 0
  for (; i + 4 <= n; i += 4) out.writeUInt32LE((rng() * 2 ** 32) >>> 0, i)
  for (; i < n; i++) out[i] = (rng() * 256) | 0
  return out
}

// ---------------------------------------------------------------------------------------
// Socket bookkeeping: every socket a test opens is destroyed after it, pass or fail, so a
// failing test cannot keep the process alive or leak traffic into the next test.

const openSockets: Socket[] = []

function track<T extends Socket[]>(...sockets: T): T {
  openSockets.push(...sockets)
  return sockets
}

/** For sockets no RLPxConnection listens on: resets during teardown are expected there. */
function quiet(...sockets: Socket[]): void {
  for (const s of sockets) s.on('error', () => {})
}

async function pair(): Promise<[Socket, Socket]> {
  const [dialer, accepted] = await socketPair()
  track(dialer, accepted)
  return [dialer, accepted]
}

test.after.each(() => {
  for (const s of openSockets.splice(0)) s.destroy()
})

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

// ---------------------------------------------------------------------------------------
// A TCP relay between the two ends, so tests control how bytes reach the receiver.

interface PumpOptions {
  /**
   * Re-split the stream into pieces of random size, one socket write and one event-loop
   * turn each, so the receiver's reads land at arbitrary offsets. Pieces may span the
   * sender's own chunks, which coalesces them.
   */
  rng?: () => number
  /** Sees, and may alter in place, every byte in order; `at` is the stream offset of chunk[0]. */
  tamper?: (chunk: Buffer, at: number) => void
  /** Holds all bytes back until `ready(everythingSoFar)`, then releases them as one write. */
  holdUntil?: (buffered: Buffer) => boolean
}

function pieceSize(rng: () => number): number {
  const r = rng()
  if (r < 0.35) return randInt(rng, 1, 16)
  if (r < 0.7) return randInt(rng, 17, 1500)
  if (r < 0.9) return randInt(rng, 1501, 64 * 1024)
  return 256 * 1024
}

/** Forwards `from` → `to` according to `opts`, propagating end and resets. */
function pump(from: Socket, to: Socket, opts: PumpOptions = {}): void {
  const queue: Buffer[] = []
  let queued = 0
  let offset = 0
  let busy = false
  let ended = false
  let held: Buffer | undefined = opts.holdUntil ? Buffer.alloc(0) : undefined

  const endIfDone = (): void => {
    if (ended && !busy && queued === 0 && !to.writableEnded) to.end()
  }
  const take = (n: number): Buffer => {
    const parts: Buffer[] = []
    let got = 0
    while (got < n && queue.length > 0) {
      const head = queue[0]!
      const want = n - got
      if (head.length <= want) {
        parts.push(head)
        got += head.length
        queue.shift()
      } else {
        parts.push(head.subarray(0, want))
        queue[0] = head.subarray(want)
        got = n
      }
    }
    queued -= got
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, got)
  }
  const run = async (rng: () => number): Promise<void> => {
    busy = true
    while (queued > 0 && !to.destroyed) {
      if (!to.write(take(pieceSize(rng)))) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            to.off('drain', done)
            to.off('close', done)
            resolve()
          }
          to.on('drain', done)
          to.on('close', done)
        })
      }
      await nextTurn()
    }
    busy = false
    endIfDone()
  }
  const forward = (chunk: Buffer): void => {
    if (!opts.rng) {
      to.write(chunk)
      return
    }
    queue.push(chunk)
    queued += chunk.length
    if (!busy) void run(opts.rng)
  }

  from.on('data', (data: Buffer) => {
    const chunk = Buffer.from(data)
    opts.tamper?.(chunk, offset)
    offset += chunk.length
    if (held) {
      held = Buffer.concat([held, chunk])
      if (!opts.holdUntil!(held)) return
      const release = held
      held = undefined
      forward(release)
      return
    }
    forward(chunk)
  })
  from.on('end', () => {
    if (held) forward(held)
    held = undefined
    ended = true
    endIfDone()
  })
  from.on('close', (hadError: boolean) => {
    if (hadError) to.destroy()
  })
}

/**
 * A dialer socket and an accepted socket joined through a relay:
 * dialer ⇄ relayIn ‖ relayOut ⇄ accepted, with `up` applied dialer→accepted and `down`
 * accepted→dialer.
 */
async function relayedPair(up: PumpOptions = {}, down: PumpOptions = {}): Promise<[Socket, Socket]> {
  const [dialer, relayIn] = await pair()
  const [relayOut, accepted] = await pair()
  quiet(relayIn, relayOut)
  pump(relayIn, relayOut, up)
  pump(relayOut, relayIn, down)
  return [dialer, accepted]
}

/** Size of the EIP-8 packet at the start of `stream` (prefix included), once known. */
function eip8PacketSize(stream: Buffer): number | undefined {
  return stream.length >= 2 ? 2 + stream.readUInt16BE(0) : undefined
}

/**
 * A tamper hook flipping bit `bit` of the byte `frameOffset` bytes after the end of the
 * auth packet, i.e. inside the dialer's frame stream. `done` reports whether it fired.
 */
function flipAfterAuth(frameOffset: number, bit = 0): { tamper: NonNullable<PumpOptions['tamper']>; done: () => boolean } {
  const prefix: number[] = []
  let flipped = false
  return {
    done: () => flipped,
    tamper(chunk, at) {
      for (let i = 0; at + i < 2 && i < chunk.length; i++) prefix[at + i] = chunk[i]!
      if (prefix.length < 2) return
      const target = 2 + ((prefix[0]! << 8) | prefix[1]!) + frameOffset
      if (target >= at && target < at + chunk.length) {
        chunk[target - at]! ^= 1 << bit
        flipped = true
      }
    },
  }
}

// ---------------------------------------------------------------------------------------
// Connections and what they deliver

interface Message {
  code: number
  payload: Buffer
}

/** Collects what one started connection delivers. */
class Inbox {
  readonly messages: Message[] = []
  closeCount = 0
  closeError: Error | undefined
  readonly closed: Promise<Error | undefined>
  #waiters: Array<() => boolean> = []

  constructor(conn: RLPxConnection, onMessage?: (code: number, payload: Buffer) => void) {
    let settle!: (err: Error | undefined) => void
    this.closed = new Promise((resolve) => (settle = resolve))
    conn.start({
      onMessage: (code, payload) => {
        this.messages.push({ code, payload })
        onMessage?.(code, payload)
        this.#notify()
      },
      onClose: (err) => {
        this.closeCount++
        this.closeError = err
        settle(err)
        this.#notify()
      },
    })
  }

  /** Resolves once `n` messages are in; rejects, with the reason, if the connection closes first. */
  count(n: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        if (this.messages.length >= n) resolve()
        else if (this.closeCount > 0) {
          const why = this.closeError ? `${this.closeError.name}: ${this.closeError.message}` : 'clean close'
          reject(new Error(`connection closed after ${this.messages.length}/${n} messages (${why})`))
        } else return false
        return true
      }
      if (!check()) this.#waiters.push(check)
    })
  }

  #notify(): void {
    this.#waiters = this.#waiters.filter((check) => !check())
  }
}

interface Connected {
  dialer: RLPxConnection
  recipient: RLPxConnection
  dialerKey: Buffer
  recipientKey: Buffer
  /** What each side's handshake resolved with. */
  dialerSaw: Buffer
  recipientSaw: Buffer
}

type Extra = Partial<Omit<RLPxConnectionInit, 'socket' | 'privateKey' | 'remotePublicKey'>>

/** Runs both handshakes on `[dialerSocket, acceptedSocket]`. */
async function connect([dialSocket, acceptSocket]: [Socket, Socket], extra: { dialer?: Extra; recipient?: Extra } = {}): Promise<Connected> {
  const dialerKey = generatePrivateKey()
  const recipientKey = generatePrivateKey()
  const dialer = new RLPxConnection({ socket: dialSocket, privateKey: dialerKey, remotePublicKey: publicKeyOf(recipientKey), ...extra.dialer })
  const recipient = new RLPxConnection({ socket: acceptSocket, privateKey: recipientKey, ...extra.recipient })
  const [dialerSaw, recipientSaw] = await within(Promise.all([dialer.handshake(), recipient.handshake()]), QUICK, 'both handshakes')
  return { dialer, recipient, dialerKey, recipientKey, dialerSaw, recipientSaw }
}

/** The rejection of `promise`, failing the test if it resolves or does not settle in time. */
async function rejection(promise: Promise<unknown>, what: string, ms = QUICK): Promise<Error> {
  try {
    await within(promise, ms, what)
  } catch (err) {
    return err as Error
  }
  assert.unreachable(`${what} succeeded but should have failed`)
  throw new Error('unreachable')
}

function assertInstance(err: Error | undefined, type: abstract new (...args: never[]) => Error, what: string): void {
  assert.ok(err instanceof type, `${what}: want ${type.name}, got ${err ? `${err.name}: ${err.message}` : 'no error'}`)
}

/** Compares deliveries one by one, naming the first difference instead of diffing megabytes. */
function assertDelivered(got: readonly Message[], want: readonly Message[], label: string): void {
  assert.is(got.length, want.length, `${label}: number of messages`)
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!
    const w = want[i]!
    const same = g.code === w.code && g.payload.equals(w.payload)
    assert.ok(same, `${label}: message ${i} differs: want code ${w.code} with ${w.payload.length} bytes, got code ${g.code} with ${g.payload.length} bytes`)
  }
}

/** An EIP-8 auth sealed to `recipientPublicKey`, with whatever signature the test wants. */
function eip8Auth(recipientPublicKey: Buffer, initiatorKey: Buffer, nonce: Buffer, signature: Buffer): Buffer {
  const body = RLP.encode([signature, publicKeyOf(initiatorKey), nonce, 4])
  const plaintext = Buffer.concat([body, Buffer.alloc(100)])
  const prefix = Buffer.alloc(2)
  prefix.writeUInt16BE(plaintext.length + ECIES_OVERHEAD)
  return Buffer.concat([prefix, eciesEncrypt(recipientPublicKey, plaintext, prefix)])
}

/** Snappy's block header: the decompressed length as a little-endian base-128 varint. */
function snappyLengthHeader(n: number): Buffer {
  const out: number[] = []
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80)
    n = Math.floor(n / 0x80)
  }
  out.push(n)
  return Buffer.from(out)
}

// The same module instance lib/rlpx/snappy.ts loaded, so a test can watch its decoder.
const snappyModule: { uncompressSync: (...args: unknown[]) => unknown } = createRequire(import.meta.url)('snappy')

// ---------------------------------------------------------------------------------------
// 1. Handshake and basic traffic

test('handshake over TCP: each side learns the other key, then messages flow both ways', async () => {
  const c = await connect(await pair())
  assert.equal(c.dialerSaw, publicKeyOf(c.recipientKey))
  assert.equal(c.recipientSaw, publicKeyOf(c.dialerKey))
  assert.equal(c.recipient.remotePublicKey, publicKeyOf(c.dialerKey))
  assert.ok(c.dialer.initiator)
  assert.not.ok(c.recipient.initiator)

  // The recipient answers each message with code + 1 and the payload reversed, so a reply
  // proves both directions and that the recipient saw the right bytes.
  const recipient: RLPxConnection = c.recipient
  const atRecipient = new Inbox(recipient, (code, payload) => recipient.send(code + 1, Buffer.from(payload).reverse()))
  const atDialer = new Inbox(c.dialer)
  const sent = [
    { code: 0, payload: Buffer.from('hello') },
    { code: 16, payload: Buffer.alloc(0) },
    { code: 150, payload: Buffer.from('multi-byte msg-id') },
  ]
  for (const m of sent) c.dialer.send(m.code, m.payload)
  await within(atDialer.count(sent.length), QUICK, 'replies at the dialer')
  assertDelivered(atRecipient.messages, sent, 'at recipient')
  assertDelivered(atDialer.messages, sent.map((m) => ({ code: m.code + 1, payload: Buffer.from(m.payload).reverse() })), 'at dialer')
})

test('frames that arrive in the same read as the ack are delivered', async () => {
  // Hold the recipient's ack until its first frame is queued behind it, then release both
  // in one write: the initiator has to carry the bytes after the ack into its frame reader.
  const sockets = await relayedPair({}, { holdUntil: (b) => b.length > (eip8PacketSize(b) ?? Infinity) })
  const dialerKey = generatePrivateKey()
  const recipientKey = generatePrivateKey()
  const dialer = new RLPxConnection({ socket: sockets[0], privateKey: dialerKey, remotePublicKey: publicKeyOf(recipientKey) })
  const recipient = new RLPxConnection({ socket: sockets[1], privateKey: recipientKey })
  const recipientReady = recipient.handshake().then(() => {
    new Inbox(recipient)
    recipient.send(7, Buffer.from('sent before the dialer finished its handshake'))
  })
  await within(Promise.all([dialer.handshake(), recipientReady]), QUICK, 'both handshakes')
  const atDialer = new Inbox(dialer)
  await within(atDialer.count(1), QUICK, 'the frame that rode with the ack')
  assertDelivered(atDialer.messages, [{ code: 7, payload: Buffer.from('sent before the dialer finished its handshake') }], 'at dialer')
})

test('close() flushes queued messages; the remote gets them all, then a clean onClose', async () => {
  const c = await connect(await pair())
  const atRecipient = new Inbox(c.recipient)
  const atDialer = new Inbox(c.dialer)
  const sent = Array.from({ length: 50 }, (_, i) => ({ code: i % 3, payload: Buffer.from(`message ${i}`) }))
  for (const m of sent) c.dialer.send(m.code, m.payload)
  await within(c.dialer.close(), QUICK, 'dialer close')
  const err = await within(atRecipient.closed, QUICK, 'recipient onClose')
  assert.is(err, undefined, `clean close reported ${err?.message}`)
  assertDelivered(atRecipient.messages, sent, 'at recipient')
  await within(atDialer.closed, QUICK, 'dialer onClose')
  assert.is(atDialer.closeCount, 1)
  assert.is(atRecipient.closeCount, 1)
})

test('destroy(err) hands err to the local onClose and closes the remote', async () => {
  const c = await connect(await pair())
  const atRecipient = new Inbox(c.recipient)
  const atDialer = new Inbox(c.dialer)
  const reason = new Error('test teardown')
  c.dialer.destroy(reason)
  assert.is(await within(atDialer.closed, QUICK, 'dialer onClose'), reason)
  await within(atRecipient.closed, QUICK, 'recipient onClose')
})

// ---------------------------------------------------------------------------------------
// 2. Round trips under random chunking

/** Sizes every phase carries: empty, one byte, around one AES block, and the 2 MiB top. */
const EDGE_SIZES = [0, 1, 15, 16, 17, 2 * MiB]
/** Codes every phase carries: single-byte RLP at both ends, and two-byte RLP. */
const EDGE_CODES = [0, 127, 128, 200]

function randomSize(rng: () => number): number {
  const r = rng()
  if (r < 0.5) return randInt(rng, 0, 1024)
  if (r < 0.8) return randInt(rng, 0, 64 * 1024)
  return randInt(rng, 0, 2 * MiB)
}

/** `count` messages with the edge sizes and codes plus random ones, in shuffled order. */
function makePlan(rng: () => number, count: number): Message[] {
  const sizes = [...EDGE_SIZES]
  while (sizes.length < count) sizes.push(randomSize(rng))
  for (let i = sizes.length - 1; i > 0; i--) {
    const j = randInt(rng, 0, i)
    ;[sizes[i], sizes[j]] = [sizes[j]!, sizes[i]!]
  }
  return sizes.map((size, i) => ({
    code: EDGE_CODES[i] ?? randInt(rng, 0, 200),
    // Half the payloads repeat a short pattern so snappy really compresses them; the rest
    // are incompressible and grow slightly when compressed.
    payload: rng() < 0.5 ? randomBytesFrom(rng, size) : Buffer.alloc(size, randomBytesFrom(rng, randInt(rng, 1, 64))),
  }))
}

/** Sends `messages`, sometimes yielding so they leave in batches of varying size. */
async function sendAll(conn: RLPxConnection, messages: readonly Message[], rng: () => number): Promise<void> {
  for (const m of messages) {
    conn.send(m.code, m.payload)
    if (rng() < 0.25) await nextTurn()
  }
}

test('40 messages each way, 0 B to 2 MiB, survive random TCP chunking with snappy off then on', async () => {
  const rng = mulberry32(0x5eed1)
  const c = await connect(await relayedPair({ rng: mulberry32(11) }, { rng: mulberry32(12) }))
  // Counted from here on (the socket is paused between handshake and start, so no read is missed).
  let recipientReads = 0
  c.recipient.socket.on('data', () => recipientReads++)
  const atRecipient = new Inbox(c.recipient)
  const atDialer = new Inbox(c.dialer)
  const up = [makePlan(rng, 20), makePlan(rng, 20)]
  const down = [makePlan(rng, 20), makePlan(rng, 20)]

  await Promise.all([sendAll(c.dialer, up[0]!, rng), sendAll(c.recipient, down[0]!, rng)])
  await within(Promise.all([atRecipient.count(20), atDialer.count(20)]), BULK, 'uncompressed phase')
  // Switch only once both directions are idle: frames already in flight must not be read
  // with the other setting.
  c.dialer.enableSnappy()
  c.recipient.enableSnappy()
  await Promise.all([sendAll(c.dialer, up[1]!, rng), sendAll(c.recipient, down[1]!, rng)])
  await within(Promise.all([atRecipient.count(40), atDialer.count(40)]), BULK, 'snappy phase')

  // Compared only now, so a payload buffer reused by a later frame would show up too.
  assertDelivered(atRecipient.messages, up.flat(), 'dialer → recipient')
  assertDelivered(atDialer.messages, down.flat(), 'recipient → dialer')
  // At most 40 reads can end exactly on one of the 40 frame ends, so more than 40 proves
  // some frame was split across reads.
  assert.ok(recipientReads > 40, `the relay should split frames across reads, saw only ${recipientReads} reads`)
  assert.is(atRecipient.closeCount + atDialer.closeCount, 0, 'nothing closed')
})

// ---------------------------------------------------------------------------------------
// 3. Corruption: one flipped bit anywhere in a frame ends the connection

// The dialer sends three 100-byte messages with code 7: frame-data is 101 bytes, so each
// frame is 16 header + 16 header-MAC + 112 body (11 padding) + 16 body-MAC = 160 bytes.
const FRAME = 160
const flips: Array<{ where: string; offset: number; part: 'header' | 'body'; delivered: number }> = [
  { where: 'first header ciphertext', offset: 0, part: 'header', delivered: 0 },
  { where: 'second frame-size field', offset: FRAME + 1, part: 'header', delivered: 1 },
  { where: 'second header MAC', offset: FRAME + 16 + 15, part: 'header', delivered: 1 },
  { where: 'second body ciphertext', offset: FRAME + 32 + 40, part: 'body', delivered: 1 },
  { where: 'second body padding', offset: FRAME + 32 + 105, part: 'body', delivered: 1 },
  { where: 'second body MAC', offset: FRAME + 32 + 112, part: 'body', delivered: 1 },
  { where: 'last byte of third body MAC', offset: 3 * FRAME - 1, part: 'body', delivered: 2 },
]

for (const flip of flips) {
  test(`a flipped bit in the ${flip.where} closes with FrameMacError (${flip.part}) and delivers nothing corrupt`, async () => {
    const flipper = flipAfterAuth(flip.offset, flip.offset % 8)
    const c = await connect(await relayedPair({ rng: mulberry32(flip.offset), tamper: flipper.tamper }))
    const atRecipient = new Inbox(c.recipient)
    const atDialer = new Inbox(c.dialer)
    const sent = [0, 1, 2].map((i) => ({ code: 7, payload: Buffer.alloc(100, i + 1) }))
    for (const m of sent) c.dialer.send(m.code, m.payload)
    const err = await within(atRecipient.closed, QUICK, 'recipient onClose')
    assert.ok(flipper.done(), 'the relay flipped the bit')
    assertInstance(err, FrameMacError, 'recipient close reason')
    assert.is((err as FrameMacError).code, 'ERR_FRAME_MAC')
    assert.match(err!.message, flip.part)
    assertDelivered(atRecipient.messages, sent.slice(0, flip.delivered), 'before the corruption')
    // The tear-down reaches the dialer too.
    await within(atDialer.closed, QUICK, 'dialer onClose')
  })
}

// ---------------------------------------------------------------------------------------
// 4. Handshake failures are typed

/** A recipient on `accepted`, plus the raw socket at the other end for hand-written bytes. */
async function recipientWithRawDialer(extra: Extra = {}): Promise<{ raw: Socket; recipient: RLPxConnection; key: Buffer; result: Promise<Buffer> }> {
  const [raw, accepted] = await pair()
  quiet(raw)
  const key = generatePrivateKey()
  const recipient = new RLPxConnection({ socket: accepted, privateKey: key, ...extra })
  const result = recipient.handshake()
  result.catch(() => {}) // inspected later; keep Node from flagging it as unhandled meanwhile
  return { raw, recipient, key, result }
}

test('a silent peer: HandshakeTimeoutError for the recipient and for the initiator', async () => {
  const r = await recipientWithRawDialer({ handshakeTimeout: 200 })
  assertInstance(await rejection(r.result, 'recipient handshake'), HandshakeTimeoutError, 'recipient')
  assert.ok((r.recipient.socket as Socket).destroyed, 'the recipient drops the socket')
  await within(once(r.raw, 'close'), QUICK, 'raw dialer sees the close')

  const [dial, silent] = await pair()
  quiet(silent)
  silent.resume() // swallow the auth, never answer
  const initiator = new RLPxConnection({ socket: dial, privateKey: generatePrivateKey(), remotePublicKey: publicKeyOf(generatePrivateKey()), handshakeTimeout: 200 })
  assertInstance(await rejection(initiator.handshake(), 'initiator handshake'), HandshakeTimeoutError, 'initiator')
})

test('HandshakePacketSizeError for a size prefix above 2048 or too small for ECIES', async () => {
  for (const size of [2049, 0xffff, ECIES_OVERHEAD, 0]) {
    const r = await recipientWithRawDialer()
    const prefix = Buffer.alloc(2)
    prefix.writeUInt16BE(size)
    r.raw.write(prefix)
    const err = await rejection(r.result, `handshake after a ${size}-byte prefix`)
    assertInstance(err, HandshakePacketSizeError, `prefix ${size}`)
  }
})

test('a 2048-byte prefix is within the limit: the packet is read and fails only as ECIES', async () => {
  const r = await recipientWithRawDialer()
  const prefix = Buffer.from([0x08, 0x00])
  r.raw.write(Buffer.concat([prefix, randomBytesFrom(mulberry32(2048), 2048)]))
  assertInstance(await rejection(r.result, 'handshake'), EciesError, '2048-byte packet')
})

test('HandshakePacketSizeError when the socket closes in the middle of the auth packet', async () => {
  const r = await recipientWithRawDialer()
  r.raw.end(Buffer.concat([Buffer.from([0x01, 0x00]), Buffer.alloc(10)]))
  const err = await rejection(r.result, 'handshake')
  assertInstance(err, HandshakePacketSizeError, 'truncated auth')
  assert.match(err.message, '12 bytes')
})

test('HandshakeClosedError when the socket closes before any auth byte', async () => {
  const r = await recipientWithRawDialer()
  r.raw.end()
  assertInstance(await rejection(r.result, 'handshake'), HandshakeClosedError, 'no auth')
})

test('EciesError for garbage of a valid EIP-8 size', async () => {
  const r = await recipientWithRawDialer()
  r.raw.write(Buffer.concat([Buffer.from([0x01, 0x00]), randomBytesFrom(mulberry32(256), 256)]))
  assertInstance(await rejection(r.result, 'handshake'), EciesError, 'garbage auth')
})

test('dialling with the wrong remote key: EciesError at the recipient, HandshakeClosedError at the dialer', async () => {
  const [dialSocket, acceptSocket] = await pair()
  const dialer = new RLPxConnection({ socket: dialSocket, privateKey: generatePrivateKey(), remotePublicKey: publicKeyOf(generatePrivateKey()) })
  const recipient = new RLPxConnection({ socket: acceptSocket, privateKey: generatePrivateKey() })
  const [atDialer, atRecipient] = await within(Promise.allSettled([dialer.handshake(), recipient.handshake()]), QUICK, 'both handshakes')
  assert.is(atRecipient.status, 'rejected')
  assert.is(atDialer.status, 'rejected')
  assertInstance((atRecipient as PromiseRejectedResult).reason, EciesError, 'recipient')
  assertInstance((atDialer as PromiseRejectedResult).reason, HandshakeClosedError, 'dialer')
})

test('HandshakeSignatureError for an auth whose signature recovers no key', async () => {
  const rng = mulberry32(65)
  const initiatorKey = generatePrivateKey()
  const nonce = randomBytesFrom(rng, 32)
  const rs = randomBytesFrom(rng, 64)
  const bad: Array<[string, Buffer]> = [
    ['r = 0', Buffer.concat([Buffer.alloc(32), rs.subarray(32), Buffer.from([0])])],
    ['s = 0', Buffer.concat([rs.subarray(0, 32), Buffer.alloc(32), Buffer.from([1])])],
    ['recovery id 3 with r ≥ p − n', Buffer.concat([Buffer.alloc(32, 0xff).fill(0x7f, 0, 1), rs.subarray(32), Buffer.from([3])])],
    ['recovery id 4', Buffer.concat([rs, Buffer.from([4])])],
  ]
  for (const [what, signature] of bad) {
    const r = await recipientWithRawDialer()
    r.raw.write(eip8Auth(publicKeyOf(r.key), initiatorKey, nonce, signature))
    assertInstance(await rejection(r.result, `handshake with ${what}`), HandshakeSignatureError, what)
  }

  // Control: the same hand-built packet with a real signature is accepted, so the failures
  // above come from the signatures alone.
  const r = await recipientWithRawDialer()
  const ephemeral = generatePrivateKey()
  const good = sign(xor(ecdh(publicKeyOf(r.key), initiatorKey), nonce), ephemeral)
  r.raw.write(eip8Auth(publicKeyOf(r.key), initiatorKey, nonce, good))
  assert.equal(await within(r.result, QUICK, 'handshake with a valid signature'), publicKeyOf(initiatorKey))
  new Inbox(r.recipient)
})

// ---------------------------------------------------------------------------------------
// 5. Size limits

test('a snappy header declaring more than 16 MiB closes with MessageTooLargeError, unallocated', async () => {
  const realUncompress = snappyModule.uncompressSync
  let inflations = 0
  snappyModule.uncompressSync = (...args: unknown[]) => {
    inflations++
    return realUncompress(...args)
  }
  try {
    for (const declared of [2 ** 24, 2 ** 32 - 1]) {
      const c = await connect(await pair())
      // Only the receiver decompresses; the sender ships the forged header verbatim.
      c.recipient.enableSnappy()
      const atRecipient = new Inbox(c.recipient)
      new Inbox(c.dialer)
      c.dialer.send(3, Buffer.concat([snappyLengthHeader(declared), Buffer.from([0x00, 0x01, 0x02, 0x03])]))
      const err = await within(atRecipient.closed, QUICK, `recipient onClose for ${declared}`)
      assertInstance(err, MessageTooLargeError, `declared ${declared}`)
      assert.is(atRecipient.messages.length, 0)
    }
    assert.is(inflations, 0, 'the decoder must not run for an oversized declaration')

    // Control: a declaration within the limit does reach the decoder, which rejects the
    // bogus body as undecodable rather than too large.
    const c = await connect(await pair())
    c.recipient.enableSnappy()
    const atRecipient = new Inbox(c.recipient)
    new Inbox(c.dialer)
    c.dialer.send(3, Buffer.concat([snappyLengthHeader(64), Buffer.from([0xff, 0xff, 0xff])]))
    assertInstance(await within(atRecipient.closed, QUICK, 'recipient onClose'), MessageDecodeError, 'declared 64')
    assert.is(inflations, 1)
  } finally {
    snappyModule.uncompressSync = realUncompress
  }
})

test('maxMessageSize bounds frames: frame-data of exactly the limit passes, larger closes', async () => {
  const c = await connect(await pair(), { recipient: { maxMessageSize: 1024 } })
  const atRecipient = new Inbox(c.recipient)
  new Inbox(c.dialer)
  // The limit counts the frame-data, msg-id included: 1 + 1023 = 1024 bytes.
  const fits = { code: 1, payload: Buffer.alloc(1023, 1) }
  c.dialer.send(fits.code, fits.payload)
  c.dialer.send(2, Buffer.alloc(4096, 2))
  const err = await within(atRecipient.closed, QUICK, 'recipient onClose')
  assertInstance(err, MessageTooLargeError, '4096-byte frame')
  assertDelivered(atRecipient.messages, [fits], 'before the oversized frame')
})

test('maxMessageSize bounds decompressed size: a small frame inflating past it closes', async () => {
  const c = await connect(await pair(), { recipient: { maxMessageSize: 1024 } })
  c.dialer.enableSnappy()
  c.recipient.enableSnappy()
  const atRecipient = new Inbox(c.recipient)
  new Inbox(c.dialer)
  // 4096 zero bytes compress to a few dozen, well under the frame limit.
  c.dialer.send(2, Buffer.alloc(4096))
  assertInstance(await within(atRecipient.closed, QUICK, 'recipient onClose'), MessageTooLargeError, 'inflated 4096')
  assert.is(atRecipient.messages.length, 0)
})

// ---------------------------------------------------------------------------------------
// 6. Back-pressure

test('pause() in onMessage holds every later message, and the close, until resume()', async () => {
  const [dialSocket, acceptSocket] = await pair()
  const c = await connect([dialSocket, acceptSocket])
  const recipient = c.recipient
  let paused = false
  const atRecipient = new Inbox(recipient, () => {
    if (!paused) {
      paused = true
      recipient.pause()
    }
  })
  new Inbox(c.dialer)
  const sent = Array.from({ length: 30 }, (_, i) => ({ code: i, payload: Buffer.alloc(i * 20, i) }))
  for (const m of sent) c.dialer.send(m.code, m.payload)
  // The close sits behind the messages and must wait for them too.
  await within(c.dialer.close(), QUICK, 'dialer close')
  await within(atRecipient.count(1), QUICK, 'first message')

  // Wait until every byte the dialer wrote has been read off the wire, so nothing but the
  // pause stands between the remaining messages and onMessage.
  await within(
    (async () => {
      while (acceptSocket.bytesRead < dialSocket.bytesWritten) await new Promise((r) => setTimeout(r, 5))
    })(),
    QUICK,
    'all bytes at the recipient',
  )
  for (let i = 0; i < 20; i++) await nextTurn()
  assert.is(atRecipient.messages.length, 1, 'no delivery while paused')
  assert.is(atRecipient.closeCount, 0, 'no close while paused')
  assert.ok(acceptSocket.isPaused(), 'the socket itself stops reading')

  recipient.resume()
  const err = await within(atRecipient.closed, QUICK, 'recipient onClose after resume')
  assert.is(err, undefined)
  assertDelivered(atRecipient.messages, sent, 'after resume')
})

test.run()
