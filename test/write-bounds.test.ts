// Nothing a peer does grows our memory without bound, over real loopback sockets: a peer
// that pings but never reads is cut off at maxWriteBuffer; a peer whose socket takes
// nothing for writeTimeout (virtual clock) is cut off then, not before; many writers
// waiting on one slow peer wait in one list (no listener per writer) and all get through
// once it reads; maxMessageSize means the same on both sides.
import { randomBytes } from 'node:crypto'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { VirtualClock } from '../lib/clock.js'
import { DiscReason } from '../lib/disconnect.js'
import { WriteBufferFullError, WriteTimeoutError } from '../lib/errors.js'
import type { Msg, MsgReadWriter } from '../lib/message.js'
import type { Protocol } from '../lib/protocol.js'
import { waitFor, within } from './support/net.js'
import { cleanup, nextAdded, nextRemoved, QUICK, rawDial, startServer } from './support/servers.js'

test.after.each(cleanup)

const EMPTY_LIST = Uint8Array.of(0xc0)

test('a peer that sends Pings and never reads is disconnected once the Pongs queued for it pass maxWriteBuffer', async () => {
  const limit = (1 << 20) + 1024
  // The virtual clock holds the write deadline back, so it is the byte bound that acts.
  const server = await startServer({ protocols: [{ name: 'idle', version: 1, length: 1, run: async (_p, rw) => void (await rw.readMsg().catch(() => {})) }], clock: new VirtualClock(), maxMessageSize: 1024, maxWriteBuffer: limit })
  const added = nextAdded(server)
  const raw = await rawDial(server, { hello: { caps: [{ name: 'idle', version: 1 }] }, answerPings: false })
  const peer = await within(added, QUICK, 'the peer to be added')
  const removed = nextRemoved(server, peer.id)
  raw.socket.pause()
  // Pings until the server gives up; each costs it a 64-byte Pong frame it cannot deliver.
  let sent = 0
  while (!peer.closed && sent < 2_000_000) {
    for (let i = 0; i < 2000; i++) raw.conn.send(2, EMPTY_LIST)
    raw.conn.flush()
    sent += 2000
    await new Promise((resolve) => setImmediate(resolve))
  }
  const end = await within(removed, QUICK, 'peer:removed')
  assert.is(end.reason, DiscReason.NetworkError)
  assert.is(end.remote, false, 'our decision, not the remote\'s')
  assert.instance(end.error, WriteBufferFullError)
})

/** A protocol that writes `count` messages of `size` bytes to every peer as fast as writeMsg lets it. */
function firehose(count: number, size: number): { protocol: Protocol; written: () => number } {
  let written = 0
  return {
    written: () => written,
    protocol: {
      name: 'hose',
      version: 1,
      length: 1,
      async run(_peer, rw) {
        const payload = randomBytes(size)
        for (let i = 0; i < count; i++) {
          await rw.writeMsg(0, payload)
          written++
        }
        await rw.readMsg()
      },
    },
  }
}

test('a peer whose socket takes nothing is disconnected writeTimeout after the socket filled up, not before', async () => {
  const clock = new VirtualClock()
  const hose = firehose(100_000, 64 * 1024)
  const server = await startServer({ protocols: [hose.protocol], clock, writeTimeout: 20_000 })
  const added = nextAdded(server)
  const raw = await rawDial(server, { hello: { caps: [{ name: 'hose', version: 1 }] } })
  raw.socket.pause()
  const peer = await within(added, QUICK, 'the peer to be added')
  const removed = nextRemoved(server, peer.id)
  // The writer stops making progress once the kernel buffers are full.
  let last = -1
  while (hose.written() !== last) {
    last = hose.written()
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  await clock.advance(19_999)
  assert.not.ok(peer.closed, 'still connected 1 ms before the write deadline')
  await clock.advance(1)
  const end = await within(removed, QUICK, 'peer:removed')
  assert.is(end.reason, DiscReason.NetworkError)
  assert.is(end.remote, false)
  assert.instance(end.error, WriteTimeoutError)
})

/** A protocol that hands its read-writer out, for the test to drive. */
function handle(name: string): { protocol: Protocol; rw: Promise<MsgReadWriter> } {
  let give!: (rw: MsgReadWriter) => void
  const rw = new Promise<MsgReadWriter>((resolve) => (give = resolve))
  const protocol: Protocol = {
    name,
    version: 1,
    length: 1,
    async run(_peer, r) {
      give(r)
      for await (const msg of r) void msg
    },
  }
  return { protocol, rw }
}

test('many writers waiting on a peer that does not read wait in one list — no listener per writer — and all get through, in order, once it reads', async () => {
  const warnings: string[] = []
  const onWarning = (w: Error): void => void warnings.push(w.name)
  process.on('warning', onWarning)
  try {
    const many = handle('many')
    const server = await startServer({ protocols: [many.protocol] })
    const raw = await rawDial(server, { hello: { caps: [{ name: 'many', version: 1 }] } })
    raw.socket.pause()
    const rw = await within(many.rw, QUICK, 'the protocol to run')
    const writes = Array.from({ length: 100 }, (_, i) => {
      const payload = Buffer.alloc(256 * 1024, 7)
      payload.writeUInt32BE(i)
      return rw.writeMsg(0, payload)
    })
    raw.socket.resume()
    await within(Promise.all(writes), 4 * QUICK, '100 writes of 256 KiB to complete once the peer reads')
    await waitFor(() => raw.received.filter((m) => m.code >= 16).length === 100, 4 * QUICK, 'all 100 messages at the peer')
    const order = raw.received.filter((m) => m.code >= 16).map((m) => m.payload.readUInt32BE(0))
    assert.equal(order, Array.from({ length: 100 }, (_, i) => i), 'in the order written')
    assert.not.ok(warnings.includes('MaxListenersExceededWarning'), `warnings: ${warnings.join(', ')}`)
  } finally {
    process.off('warning', onWarning)
  }
})

test('maxMessageSize means the uncompressed payload on both sides: an incompressible message of exactly the limit arrives', async () => {
  const got: Msg[] = []
  let arrived!: () => void
  const done = new Promise<void>((resolve) => (arrived = resolve))
  const sink: Protocol = {
    name: 'big',
    version: 1,
    length: 1,
    async run(_peer, rw) {
      for await (const msg of rw) {
        got.push(msg)
        arrived()
      }
    },
  }
  const receiver = await startServer({ protocols: [sink], maxMessageSize: 4096 })
  const source = handle('big')
  const sender = await startServer({ protocols: [source.protocol], maxMessageSize: 4096 })
  await within(sender.connect(receiver.enode), QUICK, 'connect')
  const out = await within(source.rw, QUICK, 'the sender protocol')
  await out.writeMsg(0, randomBytes(4096))
  await within(done, QUICK, 'the 4096-byte message')
  assert.is(got[0]!.size, 4096)
  assert.is(receiver.peerCount, 1, 'the session survived')
})

test.run()
