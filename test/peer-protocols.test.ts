// Sub-protocols on a live session, over real loopback sockets: capability negotiation and
// offsets, routing by code range, writeMsg errors, read back-pressure, and the run()
// lifecycle (return, throw, peer gone) with what each side sees.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RLP } from '@ethereumjs/rlp'
import { VirtualClock } from '../lib/clock.js'
import { DisconnectError, DiscReason } from '../lib/disconnect.js'
import { InvalidMessageCodeError } from '../lib/errors.js'
import { sendItems, utf8, type Msg, type MsgReadWriter } from '../lib/message.js'
import type { Peer } from '../lib/peer.js'
import type { Protocol } from '../lib/protocol.js'
import type { Server } from '../lib/server.js'
import { waitFor, within } from './support/net.js'
import { cleanup, idleProtocol, nextAdded, nextRemoved, QUICK, rawDial, recordEvents, rejection, sleep, startServer } from './support/servers.js'

test.after.each(cleanup)

/** One call of a recorded protocol's run. */
interface Run {
  peer: Peer
  rw: MsgReadWriter
  read: Msg[]
  /** Set once run has returned or thrown. */
  ended: boolean
}

/** A protocol that records each run and every message it reads, until its peer goes. */
function recorder(name: string, length = 1, version = 1): { protocol: Protocol; runs: Run[] } {
  const runs: Run[] = []
  const protocol: Protocol = {
    name,
    version,
    length,
    async run(peer, rw) {
      const run: Run = { peer, rw, read: [], ended: false }
      runs.push(run)
      try {
        for await (const msg of rw) run.read.push(msg)
      } finally {
        run.ended = true
      }
    },
  }
  return { protocol, runs }
}

/** `from` dials `to`; resolves once both sides have added the peer, with both Peers. */
async function link(from: Server, to: Server): Promise<{ out: Peer; in: Peer }> {
  const added = nextAdded(to, from.id)
  const [out, inbound] = await within(Promise.all([from.connect(to.enode), added]), QUICK, 'both sides to add the peer')
  return { out, in: inbound }
}

const text = (msg: Msg): string => utf8(msg.decode()[0])

/** Writes `[item]` as message `code` on `rw`. */
const send = (rw: MsgReadWriter, code: number, item: string): Promise<void> => within(sendItems(rw, code, item), QUICK, `writeMsg(${code})`)

// ---------------------------------------------------------------------------------------
// Negotiation and routing

test('two protocols get offsets 16 and 16 + the length of the first by name, on both sides; each runs once', async () => {
  const [alphaA, zetaA, onlyA] = [recorder('alpha', 5), recorder('zeta', 3), recorder('onlyA', 2)]
  const [alphaB, zetaB] = [recorder('alpha', 5), recorder('zeta', 3)]
  const a = await startServer({ protocols: [zetaA.protocol, onlyA.protocol, alphaA.protocol] })
  const b = await startServer({ protocols: [zetaB.protocol, alphaB.protocol] })
  const { out, in: inbound } = await link(a, b)
  const want = [
    { name: 'alpha', version: 1, offset: 16 },
    { name: 'zeta', version: 1, offset: 21 },
  ]
  assert.equal(out.protocols, want)
  assert.equal(inbound.protocols, want)
  await waitFor(() => alphaA.runs.length + zetaA.runs.length + alphaB.runs.length + zetaB.runs.length === 4, QUICK, 'every run to start')
  await sleep(20) // a second start would come right after the first
  for (const r of [alphaA, zetaA, alphaB, zetaB]) assert.is(r.runs.length, 1, `${r.protocol.name} runs once per peer`)
  assert.is(onlyA.runs.length, 0, 'a protocol the remote lacks does not run')
  assert.is(alphaA.runs[0]!.peer, out, 'run gets the peer')
  assert.is(alphaB.runs[0]!.peer, inbound)
})

test('one name at versions 1 and 2 here, 2 and 3 there: only version 2 runs, on both sides', async () => {
  const here = [recorder('foo', 1, 1), recorder('foo', 2, 2)]
  const there = [recorder('foo', 2, 2), recorder('foo', 3, 3)]
  const a = await startServer({ protocols: here.map((r) => r.protocol) })
  const b = await startServer({ protocols: there.map((r) => r.protocol) })
  const { out, in: inbound } = await link(a, b)
  assert.equal(out.protocols, [{ name: 'foo', version: 2, offset: 16 }])
  assert.equal(inbound.protocols, [{ name: 'foo', version: 2, offset: 16 }])
  await waitFor(() => here[1]!.runs.length === 1 && there[0]!.runs.length === 1, QUICK, 'the version 2 runs to start')
  assert.is(here[0]!.runs.length, 0)
  assert.is(there[1]!.runs.length, 0)
})

test('messages reach the protocol they were written on, with protocol-relative codes', async () => {
  const [alphaA, zetaA, alphaB, zetaB] = [recorder('alpha', 5), recorder('zeta', 3), recorder('alpha', 5), recorder('zeta', 3)]
  const a = await startServer({ protocols: [alphaA.protocol, zetaA.protocol] })
  const b = await startServer({ protocols: [alphaB.protocol, zetaB.protocol] })
  await link(a, b)
  await waitFor(() => alphaA.runs.length === 1 && zetaA.runs.length === 1, QUICK, 'the runs on a')
  await send(alphaA.runs[0]!.rw, 4, 'alpha 4')
  await send(zetaA.runs[0]!.rw, 2, 'zeta 2')
  await send(alphaA.runs[0]!.rw, 0, 'alpha 0')
  await send(zetaA.runs[0]!.rw, 0, 'zeta 0')
  await waitFor(() => alphaB.runs[0]?.read.length === 2 && zetaB.runs[0]?.read.length === 2, QUICK, 'the messages on b')
  assert.equal(alphaB.runs[0]!.read.map((m) => [m.code, text(m)]), [[4, 'alpha 4'], [0, 'alpha 0']])
  assert.equal(zetaB.runs[0]!.read.map((m) => [m.code, text(m)]), [[2, 'zeta 2'], [0, 'zeta 0']])
})

test('wire codes map to the protocol owning the range; a code outside every range ends the session with "breach of protocol"', async () => {
  const [alpha, zeta] = [recorder('alpha', 5), recorder('zeta', 3)]
  const server = await startServer({ protocols: [alpha.protocol, zeta.protocol] })
  const removed = nextRemoved(server)
  const raw = await rawDial(server, { hello: { caps: [{ name: 'alpha', version: 1 }, { name: 'zeta', version: 1 }] } })
  await within(raw.hello, QUICK, "the server's Hello")
  raw.conn.send(16 + 4, RLP.encode(['last alpha code']))
  raw.conn.send(21 + 0, RLP.encode(['first zeta code']))
  raw.conn.send(21 + 2, RLP.encode(['last zeta code']))
  await waitFor(() => alpha.runs[0]?.read.length === 1 && zeta.runs[0]?.read.length === 2, QUICK, 'the routed messages')
  assert.equal(alpha.runs[0]!.read.map((m) => [m.code, text(m)]), [[4, 'last alpha code']])
  assert.equal(zeta.runs[0]!.read.map((m) => [m.code, text(m)]), [[0, 'first zeta code'], [2, 'last zeta code']])
  raw.conn.send(24, RLP.encode(['past the end']))
  assert.is(await within(raw.disconnect, QUICK, 'Disconnect'), DiscReason.ProtocolError)
  assert.is((await within(removed, QUICK, 'peer:removed')).reason, DiscReason.ProtocolError)
})

// ---------------------------------------------------------------------------------------
// Writing

test('writeMsg with a code outside 0 … length − 1 rejects with InvalidMessageCodeError; the session goes on', async () => {
  const [here, there] = [recorder('three', 3), recorder('three', 3)]
  const a = await startServer({ protocols: [here.protocol] })
  const b = await startServer({ protocols: [there.protocol] })
  await link(a, b)
  await waitFor(() => here.runs.length === 1, QUICK, 'the run')
  const rw = here.runs[0]!.rw
  for (const code of [3, 17, -1, 0.5]) {
    assert.instance(await rejection(rw.writeMsg(code, RLP.encode([])), `writeMsg(${code})`), InvalidMessageCodeError)
  }
  await send(rw, 2, 'still fine')
  await waitFor(() => there.runs[0]?.read.length === 1, QUICK, 'the valid message')
  assert.is(there.runs[0]!.read[0]!.code, 2)
  assert.is(a.peerCount, 1)
})

test('writeMsg after the peer is gone rejects with DisconnectError carrying the reason', async () => {
  const here = recorder('p')
  const a = await startServer({ protocols: [here.protocol] })
  const b = await startServer({ protocols: [idleProtocol('p')] })
  await link(a, b)
  await waitFor(() => here.runs.length === 1, QUICK, 'the run')
  const removed = nextRemoved(a)
  b.peer(a.id)!.disconnect(DiscReason.TooManyPeers)
  await within(removed, QUICK, 'peer:removed')
  const err = await rejection(here.runs[0]!.rw.writeMsg(0, RLP.encode([])), 'writeMsg after the disconnect')
  assert.instance(err, DisconnectError)
  assert.is((err as DisconnectError).reason, DiscReason.TooManyPeers)
  assert.is((err as DisconnectError).remote, true)
})

test('back-pressure: a protocol that does not read holds at most readQueueSize messages; the socket waits for it', async () => {
  const COUNT = 50
  const QUEUE = 4
  let release!: () => void
  const released = new Promise<void>((resolve) => (release = resolve))
  let slowRead = 0
  let slowReadWhenMarkerArrived: number | undefined
  let flooded!: () => void
  const floodDone = new Promise<void>((resolve) => (flooded = resolve))
  // Receiver: "slow" reads nothing until released; "fast" notes how far slow had got when
  // the marker, written after the whole flood, reached it. The marker can only be read off
  // the socket after every slow message before it, so with at most QUEUE unread messages
  // slow must already have read COUNT − QUEUE of them.
  const slowIn: Protocol = {
    name: 'slow',
    version: 1,
    length: 1,
    async run(_peer, rw) {
      await released
      for (let i = 0; i < COUNT; i++) {
        const msg = await rw.readMsg()
        assert.is(text(msg), `#${i}`, 'in order, none lost')
        slowRead++
      }
      for await (const msg of rw) void msg
    },
  }
  const fastIn: Protocol = {
    name: 'fast',
    version: 1,
    length: 1,
    async run(_peer, rw) {
      await rw.readMsg()
      slowReadWhenMarkerArrived = slowRead
      for await (const msg of rw) void msg
    },
  }
  const slowOut: Protocol = {
    ...slowIn,
    async run(_peer, rw) {
      for (let i = 0; i < COUNT; i++) await sendItems(rw, 0, `#${i}`)
      flooded()
      for await (const msg of rw) void msg
    },
  }
  const fastOut: Protocol = {
    ...fastIn,
    async run(_peer, rw) {
      await floodDone
      await send(rw, 0, 'marker')
      for await (const msg of rw) void msg
    },
  }
  // Keep-alive on a virtual clock: a session stalled by a full queue must not count as
  // silent. With random() at 0.5, both sides ping at 7.5 s and every 10 s after.
  const clock = new VirtualClock()
  const timing = { pingInterval: 10_000, readTimeout: 30_000, random: () => 0.5, clock }
  const a = await startServer({ ...timing, protocols: [slowOut, fastOut] })
  const b = await startServer({ ...timing, protocols: [slowIn, fastIn], readQueueSize: QUEUE })
  const removed = [recordEvents(a).removed, recordEvents(b).removed]
  try {
    const { out } = await link(a, b)
    await within(floodDone, QUICK, 'the sender to write the flood')
    // Three read timeouts of virtual time. B reads nothing, so A hears only B's Pings; B
    // hears nothing at all, but its input waits unread, so that is not silence.
    await clock.advance(7500)
    for (let i = 0; i < 9; i++) {
      await waitFor(() => out.lastReceivedAt === clock.now(), QUICK, `B's Ping ${i + 1} at A`)
      await clock.advance(10_000)
    }
    assert.is(slowReadWhenMarkerArrived, undefined, 'the marker is stuck behind the unread messages')
  } finally {
    release() // also on failure, so that stop() can end the run
  }
  await waitFor(() => slowReadWhenMarkerArrived !== undefined, QUICK, 'the marker')
  assert.ok(slowReadWhenMarkerArrived! >= COUNT - QUEUE, `slow had read ${slowReadWhenMarkerArrived} of ${COUNT} when the marker arrived`)
  await waitFor(() => slowRead === COUNT, QUICK, 'every slow message')
  assert.equal(removed, [[], []], 'a stall on a full queue is not a read timeout, on either side')
})

// ---------------------------------------------------------------------------------------
// run() lifecycle

test('when run returns, the peer is disconnected: "client quitting" here, and remote true there', async () => {
  const quick: Protocol = { name: 'p', version: 1, length: 1, run: () => sleep(10) }
  const a = await startServer({ protocols: [quick] })
  const b = await startServer({ protocols: [idleProtocol('p')] })
  const onA = nextRemoved(a)
  const onB = nextRemoved(b)
  await link(b, a)
  const [here, there] = await within(Promise.all([onA, onB]), QUICK, 'peer:removed on both sides')
  assert.is(here.reason, DiscReason.Quitting)
  assert.is(here.remote, false)
  assert.is(here.error, undefined)
  assert.is(there.reason, DiscReason.Quitting)
  assert.is(there.remote, true)
})

test('when run throws, the remote sees "subprotocol error" and the local peer:removed carries the error', async () => {
  const boom = new Error('boom')
  const failing: Protocol = {
    name: 'p',
    version: 1,
    length: 1,
    async run() {
      await sleep(10)
      throw boom
    },
  }
  const a = await startServer({ protocols: [failing] })
  const b = await startServer({ protocols: [idleProtocol('p')] })
  const onA = nextRemoved(a)
  const onB = nextRemoved(b)
  await link(b, a)
  const [here, there] = await within(Promise.all([onA, onB]), QUICK, 'peer:removed on both sides')
  assert.is(here.reason, DiscReason.SubprotocolError)
  assert.is(here.reasonText, 'subprotocol error')
  assert.is(here.remote, false)
  assert.is(here.error, boom)
  assert.is(there.reason, DiscReason.SubprotocolError)
  assert.is(there.remote, true)
})

test('a run that lets InvalidMessageCodeError escape ends the peer with "breach of protocol"', async () => {
  const careless: Protocol = { name: 'p', version: 1, length: 1, run: (_peer, rw) => sendItems(rw, 1, 'no such code') }
  const a = await startServer({ protocols: [careless] })
  const b = await startServer({ protocols: [idleProtocol('p')] })
  const onA = nextRemoved(a)
  await link(b, a)
  const here = await within(onA, QUICK, 'peer:removed')
  assert.is(here.reason, DiscReason.ProtocolError)
  assert.instance(here.error, InvalidMessageCodeError)
})

test('a pending readMsg rejects with DisconnectError when the peer goes, so run ends', async () => {
  let readError: unknown
  let runEnded = false
  const waiting: Protocol = {
    name: 'p',
    version: 1,
    length: 1,
    async run(_peer, rw) {
      try {
        await rw.readMsg()
      } catch (err) {
        readError = err
      }
      runEnded = true
    },
  }
  const a = await startServer({ protocols: [waiting] })
  const b = await startServer({ protocols: [idleProtocol('p')] })
  const { in: bSide } = await link(a, b)
  const removed = nextRemoved(a)
  bSide.disconnect(DiscReason.UselessPeer)
  await within(removed, QUICK, 'peer:removed')
  assert.ok(runEnded, 'run had ended when peer:removed fired')
  assert.instance(readError, DisconnectError)
  assert.is((readError as DisconnectError).reason, DiscReason.UselessPeer)
  assert.is((readError as DisconnectError).remote, true)
})

test('when one protocol of a peer returns, the other protocols on that peer end too', async () => {
  const other = recorder('other')
  const short: Protocol = { name: 'short', version: 1, length: 1, run: () => sleep(10) }
  const a = await startServer({ protocols: [short, other.protocol] })
  const b = await startServer({ protocols: [idleProtocol('short'), idleProtocol('other')] })
  const removed = nextRemoved(a)
  await link(a, b)
  await within(removed, QUICK, 'peer:removed')
  assert.is(other.runs.length, 1)
  assert.ok(other.runs[0]!.ended, "the other protocol's run had ended")
})

test("a protocol that throws for one peer leaves the server's other peers alone", async () => {
  // a echoes on "echo" but fails at once for the peer named "victim"
  const echo: Protocol = {
    name: 'echo',
    version: 1,
    length: 1,
    async run(peer, rw) {
      if (peer.name === 'victim') throw new Error('only this peer')
      for await (const msg of rw) await rw.writeMsg(0, msg.payload)
    },
  }
  const asker = recorder('echo')
  const a = await startServer({ protocols: [echo] })
  const victim = await startServer({ name: 'victim', protocols: [idleProtocol('echo')] })
  const bystander = await startServer({ name: 'bystander', protocols: [asker.protocol] })
  await link(bystander, a)
  const gone = nextRemoved(a, victim.id)
  await within(victim.connect(a.enode).catch(() => {}), QUICK, 'victim.connect(a)') // may resolve, or lose the race with the failure
  assert.is((await within(gone, QUICK, 'the victim to be removed')).reason, DiscReason.SubprotocolError)
  await waitFor(() => asker.runs.length === 1, QUICK, "the bystander's run")
  await send(asker.runs[0]!.rw, 0, 'still there?')
  await waitFor(() => asker.runs[0]!.read.length === 1, QUICK, 'the echo')
  assert.is(text(asker.runs[0]!.read[0]!), 'still there?')
  assert.is(a.peerCount, 1)
  assert.not.ok(a.peer(bystander.id)!.closed)
})

test.run()
