// Interop with @ethereumjs/devp2p v10 over real loopback TCP: the RLPx handshake and Hello
// (p2p v5) in both dial directions, Ping/Pong with snappy on in both directions, shared
// sub-protocols with matching message-id offsets, and Disconnect reasons both ways.
//
// The ethereumjs side is driven through its public RLPx/Peer API plus a few of its
// underscore members (`_sendPing`, `_handleMessage`, `_protocols`, `_server`), the same
// ones its own protocol classes use. Line references are to
// node_modules/@ethereumjs/devp2p/src/rlpx/peer.ts (v10.0.0).
import { createRequire } from 'node:module'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Common, Mainnet } from '@ethereumjs/common'
import { DISCONNECT_REASON, RLPx, SNAP, type Capabilities, type Peer as EjsPeer, type ProtocolType, type SendMethod } from '@ethereumjs/devp2p'
import { RLP, type Input } from '@ethereumjs/rlp'
import {
  DiscReason,
  formatEnode,
  generatePrivateKey,
  nodeId,
  reasonText,
  Server,
  type Msg,
  type MsgReadWriter,
  type Peer,
  type PeerRemoved,
  type Protocol,
} from '../lib/index.js'
import { seededRandom } from '../lib/random.js'
import { snappyCompress } from '../lib/rlpx/snappy.js'
import { waitFor, within } from './support/net.js'

/** Deadline for a handshake, a Hello or a few small messages on loopback. */
const QUICK = 5000

// snappyjs is what @ethereumjs/devp2p itself compresses with (its SNAP/ETH classes call
// snappy.compress before _send); it ships no types.
const snappyjs = createRequire(import.meta.url)('snappyjs') as { compress(data: Uint8Array): Uint8Array }

const OUR_NAME = 'devp2p-ts/interop'
const EJS_NAME = 'ethereumjs-devp2p/interop'

// ---------------------------------------------------------------------------------------
// Helpers

type Tree = string | Tree[]

/** Decoded RLP as nested hex strings, so our items and theirs compare with deepEqual. */
function hexTree(item: unknown): Tree {
  if (Array.isArray(item)) return item.map(hexTree)
  if (item instanceof Uint8Array) return Buffer.from(item).toString('hex')
  throw new Error(`not an RLP item: ${String(item)}`)
}

/** Deterministic payload for message `code` of capability `name`: small, plus one big compressible item. */
function payloadItems(name: string, code: number, from: string): Input[] {
  const filler = Buffer.alloc(64 + code * 700, `${from}:${name}:${code};`)
  return [from, name, code, filler, [Buffer.from([code, 0xff - code]), []]]
}

function expectedTree(name: string, code: number, from: string): Tree {
  return hexTree(RLP.decode(RLP.encode(payloadItems(name, code, from))))
}

// ---------------------------------------------------------------------------------------
// Our side: sub-protocols whose `run` records what arrives and exposes the writer.

interface OurSession {
  peer: Peer
  rw: MsgReadWriter
  received: Msg[]
}

interface OurCapability {
  protocol: Protocol
  sessions: Map<string, OurSession>
}

function ourCapability(name: string, version: number, length: number): OurCapability {
  const sessions = new Map<string, OurSession>()
  const protocol: Protocol = {
    name,
    version,
    length,
    async run(peer, rw) {
      const session: OurSession = { peer, rw, received: [] }
      sessions.set(peer.id, session)
      for await (const msg of rw) session.received.push(msg)
    },
  }
  return { protocol, sessions }
}

// ---------------------------------------------------------------------------------------
// Their side: a minimal @ethereumjs/devp2p Protocol subclass, modelled on their SNAP class.
// Peer._handleBody hands a subprotocol the snappy-decompressed payload with its code made
// relative to the protocol's offset; sending goes through the `send` closure, which adds
// the offset, and compression is the protocol's job (as SNAP.sendMessage does it).

// v10 does not export its abstract base class `Protocol` (protocol/protocol.ts) from the
// package index, and its `exports` map forbids deep imports; SNAP extends it directly, so
// it is reached through SNAP's prototype chain. Its type is the instance type of
// `Capabilities['constructor']`.
type EjsProtocolInstance = InstanceType<Capabilities['constructor']>
const EjsProtocol = Object.getPrototypeOf(SNAP) as abstract new (
  peer: EjsPeer,
  send: SendMethod,
  protocol: ProtocolType,
  version: number,
  messageCodes: Record<string, number>,
) => EjsProtocolInstance

interface EjsReceived {
  code: number
  items: unknown
}

class EjsCapability extends EjsProtocol {
  readonly name: string
  readonly received: EjsReceived[] = []

  constructor(name: string, version: number, peer: EjsPeer, send: SendMethod) {
    super(peer, send, name as ProtocolType, version, {})
    this.name = name
    // The base constructor arms a 5 s "no STATUS" disconnect timer for every protocol type
    // but snap (protocol/protocol.ts:44-49); these test protocols have no status.
    clearTimeout(this._statusTimeoutId)
  }

  _handleMessage(code: number, data: Uint8Array): void {
    this.received.push({ code, items: RLP.decode(data) })
  }

  sendItems(code: number, items: Input[]): void {
    let payload = RLP.encode(items)
    const version = this._peer['_hello']?.protocolVersion
    if (version !== undefined && version >= 5) payload = snappyjs.compress(payload)
    this._send(code, payload)
  }
}

function ejsCapability(name: string, version: number, length: number): Capabilities {
  // ethereumjs instantiates `new constructor(version, peer, send)`. The class name must not
  // be 'Peer': Peer._handleBody RLP-decodes payloads of classes by that name.
  const Named = class NamedEjsCapability extends EjsCapability {
    constructor(v: number, peer: EjsPeer, send: SendMethod) {
      super(name, v, peer, send)
    }
  }
  return { name, version, length, constructor: Named }
}

function ejsCap(peer: EjsPeer, name: string): EjsCapability {
  const found = peer.getProtocols().find((p): p is EjsCapability => p instanceof EjsCapability && p.name === name)
  if (!found) throw new Error(`ethereumjs peer runs no ${name} protocol`)
  return found
}

// ---------------------------------------------------------------------------------------
// Nodes, with teardown after every test

interface EjsNode {
  rlpx: RLPx
  port: number
  added: EjsPeer[]
  removed: { peer: EjsPeer; reason: number; disconnectWe: boolean | null }[]
  errors: Error[]
}

const ourServers: Server[] = []
const ejsNodes: EjsNode[] = []

async function startOurs(protocols: Protocol[], extra: { pingInterval?: number; readTimeout?: number } = {}): Promise<{ server: Server; removed: PeerRemoved[] }> {
  const server = new Server({ privateKey: generatePrivateKey(), name: OUR_NAME, listenAddr: '127.0.0.1:0', discovery: false, protocols, ...extra })
  ourServers.push(server)
  const removed: PeerRemoved[] = []
  server.events.on('peer:removed', (e) => removed.push(e))
  await server.start()
  return { server, removed }
}

async function startEjs(capabilities: Capabilities[], timeout = 10_000): Promise<EjsNode> {
  const rlpx = new RLPx(generatePrivateKey(), {
    clientId: Buffer.from(EJS_NAME),
    capabilities,
    common: new Common({ chain: Mainnet }),
    timeout,
    maxPeers: 10,
    listenPort: null,
    dpt: null,
  })
  const node: EjsNode = { rlpx, port: 0, added: [], removed: [], errors: [] }
  ejsNodes.push(node)
  rlpx.events.on('peer:added', (peer) => node.added.push(peer))
  rlpx.events.on('peer:removed', (peer, reason, disconnectWe) => node.removed.push({ peer, reason, disconnectWe }))
  rlpx.events.on('peer:error', (_peer, err) => node.errors.push(err))
  // RLPx.listen passes its arguments to net.Server.listen, so port 0 works; the bound port
  // is read back from the underlying net.Server.
  const listening = new Promise<void>((resolve) => rlpx.events.once('listening', () => resolve()))
  rlpx.listen(0, '127.0.0.1')
  await within(listening, QUICK, 'the ethereumjs node to listen')
  node.port = (rlpx['_server']!.address() as { port: number }).port
  return node
}

function ejsEnode(node: EjsNode): string {
  return formatEnode({ publicKey: node.rlpx.id, host: '127.0.0.1', tcpPort: node.port })
}

test.after.each(async () => {
  await within(Promise.all(ourServers.splice(0).map((s) => s.stop())), 10_000, 'our servers to stop')
  for (const node of ejsNodes.splice(0)) {
    const { rlpx } = node
    if (rlpx._isAlive()) await within(new Promise<void>((resolve) => rlpx.destroy(() => resolve())), 10_000, 'the ethereumjs node to close')
    // Outbound sockets of theirs are not the listener's: wait for every one to be gone.
    await waitFor(() => rlpx['_peers'].size === 0, 10_000, 'ethereumjs sockets to close')
  }
})

// ---------------------------------------------------------------------------------------
// Connection helpers

const ALPHA = { name: 'alpha', version: 1, length: 5 }
const BETA = { name: 'beta', version: 2, length: 7 }

interface Session {
  server: Server
  ours: { alpha: OurCapability; beta: OurCapability }
  ourRemoved: PeerRemoved[]
  peer: Peer
  ejs: EjsNode
  ejsPeer: EjsPeer
}

/**
 * Our server with alpha/1 and beta/2 (plus ours-only `zeta`), an ethereumjs node with
 * alpha/1 and beta/2 (plus theirs-only `aardvark`, which sorts first), connected by
 * `dialer`. Resolves once both sides report the peer added.
 */
async function connectPair(dialer: 'ours' | 'ethereumjs', extra: { pingInterval?: number; readTimeout?: number; ejsTimeout?: number } = {}): Promise<Session> {
  const alpha = ourCapability(ALPHA.name, ALPHA.version, ALPHA.length)
  const beta = ourCapability(BETA.name, BETA.version, BETA.length)
  const zeta = ourCapability('zeta', 1, 3)
  const { ejsTimeout, ...ourExtra } = extra
  const { server, removed } = await startOurs([beta.protocol, zeta.protocol, alpha.protocol], ourExtra)
  const ejs = await startEjs(
    [ejsCapability('aardvark', 1, 4), ejsCapability(ALPHA.name, ALPHA.version, ALPHA.length), ejsCapability(BETA.name, BETA.version, BETA.length)],
    ejsTimeout,
  )
  let peer: Peer
  if (dialer === 'ours') {
    peer = await within(server.connect(ejsEnode(ejs)), QUICK, 'our dial to the ethereumjs node')
  } else {
    const added = new Promise<Peer>((resolve) => server.events.once('peer:added', resolve))
    await within(ejs.rlpx.connect({ id: server.publicKey, address: '127.0.0.1', tcpPort: Number(new URL(server.enode).port) }), QUICK, 'the ethereumjs dial')
    peer = await within(added, QUICK, 'our peer:added')
  }
  await waitFor(() => ejs.added.length === 1, QUICK, 'ethereumjs peer:added')
  // Both sides' protocol runs are started by now on our side; theirs are instances already.
  await waitFor(() => alpha.sessions.has(peer.id) && beta.sessions.has(peer.id), QUICK, 'our protocol runs to start')
  return { server, ours: { alpha, beta }, ourRemoved: removed, peer, ejs, ejsPeer: ejs.added[0]! }
}

function checkHellos(s: Session, weDialed: boolean): void {
  const { server, peer, ejs, ejsPeer } = s

  // Their view of our Hello.
  const hello = ejsPeer.getHelloMessage()
  assert.ok(hello, 'ethereumjs has our Hello')
  assert.is(hello!.protocolVersion, 5)
  assert.is(hello!.clientId, OUR_NAME)
  assert.equal(Buffer.from(hello!.id).toString('hex'), server.publicKey.toString('hex'))
  assert.equal(Buffer.from(ejsPeer.getId()!).toString('hex'), server.publicKey.toString('hex'))
  assert.is(hello!.port, 0, 'we advertise listenPort 0, as geth does')
  assert.equal(
    hello!.capabilities.map((c) => `${c.name}/${c.version}`),
    ['alpha/1', 'beta/2', 'zeta/1'],
    'our caps sorted by name, as geth sends them',
  )

  // Our view of their Hello.
  assert.is(peer.name, EJS_NAME)
  assert.is(peer.version, 5)
  assert.equal(peer.caps, [
    { name: 'aardvark', version: 1 },
    { name: 'alpha', version: 1 },
    { name: 'beta', version: 2 },
  ])
  assert.is(peer.publicKey.toString('hex'), Buffer.from(ejs.rlpx.id).toString('hex'))
  assert.is(peer.id, nodeId(ejs.rlpx.id))
  assert.is(peer.inbound, !weDialed)
  assert.is(peer.closed, false)
  assert.is(server.peerCount, 1)
  assert.equal(ejs.errors, [])
}

/** The offsets both sides computed: shared caps only, in name order, from 0x10. */
function checkOffsets(s: Session): void {
  const expected = [
    { name: 'alpha', version: 1, offset: 16 },
    { name: 'beta', version: 2, offset: 16 + ALPHA.length },
  ]
  assert.equal(s.peer.protocols, expected)
  const theirs = s.ejsPeer._protocols.map((d) => ({ name: (d.protocol as EjsCapability).name, offset: d.offset, length: d.length }))
  assert.equal(theirs, [
    { name: 'alpha', offset: 16, length: ALPHA.length },
    { name: 'beta', offset: 16 + ALPHA.length, length: BETA.length },
  ])
}

// ---------------------------------------------------------------------------------------
// 1, 2: handshake and Hello in both directions

test('our Server dials an ethereumjs RLPx node: handshake and p2p v5 Hello both ways', async () => {
  const s = await connectPair('ours')
  checkHellos(s, true)
  checkOffsets(s)
})

test('an ethereumjs RLPx node dials our Server: handshake and p2p v5 Hello both ways', async () => {
  const s = await connectPair('ethereumjs')
  checkHellos(s, false)
  checkOffsets(s)
})

// ---------------------------------------------------------------------------------------
// 3: Ping/Pong after Hello, snappy on, both ways

/** Records every base-protocol message (code < 16) their peer handles, payload RLP-decoded. */
function spyBase(ejsPeer: EjsPeer): { code: number; payload: unknown }[] {
  const seen: { code: number; payload: unknown }[] = []
  const original = ejsPeer._handleMessage.bind(ejsPeer)
  ejsPeer._handleMessage = (code, msg) => {
    seen.push({ code, payload: msg })
    original(code, msg)
  }
  return seen
}

for (const dialer of ['ours', 'ethereumjs'] as const) {
  test(`ethereumjs Ping -> our Pong clears its ping timeout (${dialer} dialled)`, async () => {
    const s = await connectPair(dialer, { ejsTimeout: 5000 })
    const seen = spyBase(s.ejsPeer)
    let pongsHandled = 0
    const handlePong = s.ejsPeer._handlePong.bind(s.ejsPeer)
    s.ejsPeer._handlePong = () => {
      pongsHandled++
      handlePong()
    }

    // Their _sendPing snappy-compresses [] (peer.ts:292-299) and arms a disconnect(TIMEOUT)
    // timer that only _handlePong clears (peer.ts:304-306, 495-497).
    s.ejsPeer._sendPing()
    const timer = s.ejsPeer['_pingTimeoutId'] as (NodeJS.Timeout & { _destroyed?: boolean }) | null
    assert.ok(timer, 'their ping armed a timeout')

    await waitFor(() => pongsHandled === 1, QUICK, 'their Pong handler to run')
    // Their _handleBody snappy-decompresses then RLP-decodes base messages (peer.ts:592-614):
    // the payload it saw is the empty list, so our compressed Pong decoded cleanly.
    assert.equal(seen, [{ code: 3, payload: [] }])
    assert.is(timer!._destroyed, true, 'their ping timeout was cleared')
    assert.equal(s.ejs.errors, [])
    assert.equal(s.ejs.removed, [])
    assert.is(s.peer.closed, false)
  })

  test(`our Pings (100 ms) are answered by ethereumjs: the session outlives several 600 ms read timeouts (${dialer} dialled)`, async () => {
    const s = await connectPair(dialer, { pingInterval: 100, readTimeout: 600 })
    const seen = spyBase(s.ejsPeer)
    let pongsSent = 0
    const sendPong = s.ejsPeer._sendPong.bind(s.ejsPeer)
    s.ejsPeer._sendPong = () => {
      pongsSent++
      sendPong()
    }

    // Their own pinger runs every 15 s (PING_INTERVAL, peer.ts:34) and the test protocols
    // are silent, so their Pongs are the only thing we read. 24 of our Pings, each at least
    // 100 ms apart, span more than three 600 ms read timeouts: a single undecoded Pong gap of
    // that length would have ended the session with "read timeout".
    await waitFor(
      () => {
        if (s.peer.closed) throw new Error(`our side dropped the peer: ${reasonText(s.peer.end!.reason)}`)
        return seen.filter((m) => m.code === 2).length >= 24
      },
      20_000,
      '24 of our Pings to reach ethereumjs',
    )
    await waitFor(() => pongsSent >= 24, QUICK, 'their Pongs')

    // Every Ping they read decompressed and RLP-decoded to the empty list.
    for (const m of seen) assert.equal(m, { code: 2, payload: [] })
    assert.is(s.peer.closed, false, 'our side kept the session')
    assert.equal(s.ourRemoved, [], 'no peer:removed on our side')
    assert.equal(s.ejs.removed, [], 'no peer:removed on their side')
    assert.equal(s.ejs.errors, [])
    assert.is(s.server.peerCount, 1)
  })
}

// ---------------------------------------------------------------------------------------
// 4: shared capabilities, message-id offsets, payloads both ways

const ALPHA_CODES = [0, 1, 2, 3, ALPHA.length - 1]
const BETA_CODES = [0, 3, BETA.length - 1]

for (const dialer of ['ours', 'ethereumjs'] as const) {
  test(`shared alpha/1 and beta/2: codes and payloads agree both ways (${dialer} dialled)`, async () => {
    const s = await connectPair(dialer)
    checkOffsets(s)
    const ourAlpha = s.ours.alpha.sessions.get(s.peer.id)!
    const ourBeta = s.ours.beta.sessions.get(s.peer.id)!
    const theirAlpha = ejsCap(s.ejsPeer, 'alpha')
    const theirBeta = ejsCap(s.ejsPeer, 'beta')

    // Ours -> theirs, interleaving the two protocols.
    for (let i = 0; i < Math.max(ALPHA_CODES.length, BETA_CODES.length); i++) {
      if (i < ALPHA_CODES.length) await ourAlpha.rw.writeMsg(ALPHA_CODES[i]!, RLP.encode(payloadItems('alpha', ALPHA_CODES[i]!, 'ours')))
      if (i < BETA_CODES.length) await ourBeta.rw.writeMsg(BETA_CODES[i]!, RLP.encode(payloadItems('beta', BETA_CODES[i]!, 'ours')))
    }
    // Theirs -> ours, in reverse code order.
    for (const code of [...ALPHA_CODES].reverse()) theirAlpha.sendItems(code, payloadItems('alpha', code, 'theirs'))
    for (const code of [...BETA_CODES].reverse()) theirBeta.sendItems(code, payloadItems('beta', code, 'theirs'))

    await waitFor(() => theirAlpha.received.length === ALPHA_CODES.length && theirBeta.received.length === BETA_CODES.length, QUICK, 'ethereumjs to receive our messages')
    await waitFor(() => ourAlpha.received.length === ALPHA_CODES.length && ourBeta.received.length === BETA_CODES.length, QUICK, 'us to receive theirs')

    assert.equal(
      theirAlpha.received.map((m) => ({ code: m.code, items: hexTree(m.items) })),
      ALPHA_CODES.map((code) => ({ code, items: expectedTree('alpha', code, 'ours') })),
    )
    assert.equal(
      theirBeta.received.map((m) => ({ code: m.code, items: hexTree(m.items) })),
      BETA_CODES.map((code) => ({ code, items: expectedTree('beta', code, 'ours') })),
    )
    assert.equal(
      ourAlpha.received.map((m) => ({ code: m.code, items: hexTree(m.decode()) })),
      [...ALPHA_CODES].reverse().map((code) => ({ code, items: expectedTree('alpha', code, 'theirs') })),
    )
    assert.equal(
      ourBeta.received.map((m) => ({ code: m.code, items: hexTree(m.decode()) })),
      [...BETA_CODES].reverse().map((code) => ({ code, items: expectedTree('beta', code, 'theirs') })),
    )
    assert.is(s.peer.closed, false)
    assert.equal(s.ejs.errors, [])
    assert.equal(s.ejs.removed, [])
  })
}

// ---------------------------------------------------------------------------------------
// 4b: a large incompressible payload, which we send as one snappy literal block

test('300 KB of incompressible bytes cross both ways; ours leave as one snappy literal that ethereumjs reads', async () => {
  const s = await connectPair('ours')
  const ourAlpha = s.ours.alpha.sessions.get(s.peer.id)!
  const theirAlpha = ejsCap(s.ejsPeer, 'alpha')
  const noise = (seed: number): Buffer => {
    const rng = seededRandom(seed)
    return Buffer.from(Array.from({ length: 300_000 }, () => Math.floor(rng() * 256)))
  }
  const [ours, theirs] = [noise(1), noise(2)]
  const payload = Buffer.from(RLP.encode([ours]))
  assert.is(snappyCompress(payload)[1], payload, 'our block is one literal: its head, then the payload itself')
  await ourAlpha.rw.writeMsg(2, payload)
  theirAlpha.sendItems(3, [theirs])
  await waitFor(() => theirAlpha.received.length === 1 && ourAlpha.received.length === 1, QUICK, 'both large messages')
  assert.is(theirAlpha.received[0]!.code, 2)
  assert.ok(Buffer.from((theirAlpha.received[0]!.items as Uint8Array[])[0]!).equals(ours), 'ethereumjs read our literal block')
  assert.is(ourAlpha.received[0]!.code, 3)
  assert.ok(Buffer.from((ourAlpha.received[0]!.decode() as Uint8Array[])[0]!).equals(theirs))
  assert.equal(s.ejs.errors, [])
})

// ---------------------------------------------------------------------------------------
// 5: Disconnect both ways

for (const dialer of ['ours', 'ethereumjs'] as const) {
  test(`our peer.disconnect(TooManyPeers) reaches ethereumjs with its reason (${dialer} dialled)`, async () => {
    const s = await connectPair(dialer)
    const ourEnd = new Promise<PeerRemoved>((resolve) => s.server.events.once('peer:removed', resolve))
    s.peer.disconnect(DiscReason.TooManyPeers)
    await waitFor(() => s.ejs.removed.length === 1, QUICK, 'ethereumjs peer:removed')
    const theirs = s.ejs.removed[0]!
    assert.is(theirs.peer, s.ejsPeer)
    assert.is(theirs.reason, DISCONNECT_REASON.TOO_MANY_PEERS)
    assert.is(theirs.disconnectWe, false, 'ethereumjs saw the remote end the session')
    const ours = await within(ourEnd, QUICK, 'our peer:removed')
    assert.is(ours.reason, DiscReason.TooManyPeers)
    assert.is(ours.remote, false)
    assert.equal(s.ejs.errors, [])
  })

  test(`our server.stop() reaches ethereumjs as "client quitting" (${dialer} dialled)`, async () => {
    const s = await connectPair(dialer)
    await within(s.server.stop(), QUICK, 'our server to stop')
    await waitFor(() => s.ejs.removed.length === 1, QUICK, 'ethereumjs peer:removed')
    assert.is(s.ejs.removed[0]!.reason, DISCONNECT_REASON.CLIENT_QUITTING)
    assert.is(s.ejs.removed[0]!.disconnectWe, false)
    assert.equal(s.ourRemoved.map((e) => [e.reason, e.remote]), [[DiscReason.Quitting, false]])
    assert.equal(s.ejs.errors, [])
  })

  // ethereumjs v10 writes Disconnect as a bare RLP integer and never snappy-compresses it
  // (peer.ts:280-281: `const data = RLP.encode(reason)` / `this._sendMessage(PREFIXES.DISCONNECT,
  // data)`), although it compresses Ping/Pong after a v5 Hello (peer.ts:297-298, 318-319) and
  // EIP-706 says every message after Hello is compressed. Our connection takes a Disconnect
  // that is not valid snappy as sent (as reth does), and decodeDisconnectReason accepts the
  // bare-integer form, so the reason they meant reaches our peer:removed event.
  for (const [label, reason, ours] of [
    ['TooManyPeers', DISCONNECT_REASON.TOO_MANY_PEERS, DiscReason.TooManyPeers],
    ['DisconnectRequested', DISCONNECT_REASON.DISCONNECT_REQUESTED, DiscReason.Requested],
  ] as const) {
    test(`ethereumjs peer.disconnect(${label}) reaches us with its reason, though uncompressed (${dialer} dialled)`, async () => {
      const s = await connectPair(dialer)
      const ourEnd = new Promise<PeerRemoved>((resolve) => s.server.events.once('peer:removed', resolve))
      s.ejsPeer.disconnect(reason)
      const removed = await within(ourEnd, QUICK, 'our peer:removed')
      assert.is(removed.peer, s.peer)
      assert.is(removed.remote, true, 'the remote side ended the session')
      assert.is(removed.reason, ours)
      assert.is(removed.error, undefined)
      await waitFor(() => s.ejs.removed.length === 1, QUICK, 'ethereumjs peer:removed')
      assert.is(s.ejs.removed[0]!.reason, reason)
      assert.is(s.ejs.removed[0]!.disconnectWe, true)
    })
  }

  test(`ethereumjs RLPx.destroy() reaches us as "client quitting" from the remote side (${dialer} dialled)`, async () => {
    const s = await connectPair(dialer)
    const ourEnd = new Promise<PeerRemoved>((resolve) => s.server.events.once('peer:removed', resolve))
    s.ejs.rlpx.destroy()
    const removed = await within(ourEnd, QUICK, 'our peer:removed')
    assert.is(removed.remote, true)
    assert.is(removed.reason, DiscReason.Quitting)
    assert.is(s.server.peerCount, 0)
  })
}

test.run()
