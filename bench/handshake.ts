/**
 * Part 1, handshake rate: sequential full connections between two local nodes in this
 * process — TCP connect, ECIES auth/ack, Hello both ways — then teardown, one at a time.
 * CPU per connection is both ends' work, since both run here.
 *
 * Ours is measured twice: through `Server.connect` (admission, Peer, protocol start, the
 * Disconnect on teardown) and as a lean loop of `RLPxConnection` + Hello on raw sockets,
 * which shows how much of the cost is the Server's. @ethereumjs/devp2p is connected until
 * `peer:added` on both sides and its socket closed until `peer:removed` on both sides,
 * the same cycle as our Server path. It is measured as shipped and once more with
 * TCP_NODELAY patched in, since as shipped most of its wall time is a Nagle stall.
 * @module
 */
import { connect, createServer, type Socket } from 'node:net'
import { exchangeHello } from '../lib/hello-exchange.js'
import { P2P_VERSION } from '../lib/hello.js'
import { generatePrivateKey, publicKeyOf, RLPxConnection } from '../lib/index.js'
import { ethConnect, ethDisconnect, startEthNode, stopEthNode } from './ethjs.js'
import { IDLE_PROTOCOL, ourConnect, ourDisconnect, startOurNode } from './ours.js'
import { deferred, measureRate, progress, type RateResult, type Row } from './support.js'

const TARGET_MS = 1500

async function ethereumjsRate(noDelay: boolean): Promise<RateResult> {
  const [a, b] = await Promise.all([startEthNode({ noDelay }), startEthNode({ noDelay })])
  try {
    return await measureRate(
      async (n) => {
        for (let i = 0; i < n; i++) {
          const [peer] = await ethConnect(a, b)
          await ethDisconnect(a, b, peer)
        }
      },
      { warmupUnits: 10, targetMs: TARGET_MS, minUnits: 20 },
    )
  } finally {
    stopEthNode(a)
    stopEthNode(b)
  }
}

async function serverRate(): Promise<RateResult> {
  const [a, b] = await Promise.all([startOurNode([IDLE_PROTOCOL]), startOurNode([IDLE_PROTOCOL])])
  try {
    return await measureRate(
      async (n) => {
        for (let i = 0; i < n; i++) {
          const [peer] = await ourConnect(a, b)
          await ourDisconnect(a, b, peer)
        }
      },
      { warmupUnits: 50, targetMs: TARGET_MS, minUnits: 20 },
    )
  } finally {
    await Promise.all([a.stop(), b.stop()])
  }
}

/** RLPx handshake and Hello on a raw socket pair, then destroy: the transport without the Server. */
async function leanRate(): Promise<RateResult> {
  const keyA = generatePrivateKey()
  const keyB = generatePrivateKey()
  const pubB = publicKeyOf(keyB)
  const hello = (key: Buffer) => ({ version: P2P_VERSION, clientId: 'bench', caps: [{ name: 'bench', version: 1 }], listenPort: 0, nodeId: publicKeyOf(key) })
  const [helloA, helloB] = [hello(keyA), hello(keyB)]
  let accepted = deferred<Socket>()
  const listener = createServer({ pauseOnConnect: true }, (socket) => accepted.resolve(socket))
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve))
  const { port } = listener.address() as { port: number }
  try {
    return await measureRate(
      async (n) => {
        for (let i = 0; i < n; i++) {
          const dialer = connect(port, '127.0.0.1')
          await new Promise((resolve) => dialer.once('connect', resolve))
          const socket = await accepted.promise
          accepted = deferred<Socket>()
          const initiator = new RLPxConnection({ socket: dialer, privateKey: keyA, remotePublicKey: pubB })
          const recipient = new RLPxConnection({ socket, privateKey: keyB })
          await Promise.all([initiator.handshake(), recipient.handshake()])
          await Promise.all([exchangeHello(initiator, helloA), exchangeHello(recipient, helloB)])
          initiator.destroy()
          recipient.destroy()
        }
      },
      { warmupUnits: 50, targetMs: TARGET_MS, minUnits: 20 },
    )
  } finally {
    listener.close()
  }
}

/** Runs the handshake part; returns its table rows. */
export async function runHandshake(): Promise<Row[]> {
  progress('handshake: @ethereumjs/devp2p')
  const eth = await ethereumjsRate(false)
  progress('handshake: @ethereumjs/devp2p with TCP_NODELAY')
  const ethNoDelay = await ethereumjsRate(true)
  progress('handshake: ours, Server.connect')
  const server = await serverRate()
  progress('handshake: ours, lean RLPxConnection + Hello')
  const lean = await leanRate()
  const base = { part: 'handshake', baseName: 'ethereumjs' }
  return [
    { ...base, metric: 'full connections, Server path', unit: 'conn/s', ours: server.perSecond, base: eth.perSecond, target: { op: '>=', value: 30 } },
    { ...base, metric: 'CPU per connection, Server path', unit: 'ms', ours: server.cpuMsPerUnit, base: eth.cpuMsPerUnit, note: 'both ends; lower is better' },
    { ...base, metric: 'full connections, lean RLPxConnection+Hello', unit: 'conn/s', ours: lean.perSecond, base: eth.perSecond, target: { op: '>=', value: 30 } },
    { ...base, metric: 'CPU per connection, lean', unit: 'ms', ours: lean.cpuMsPerUnit, base: eth.cpuMsPerUnit, note: 'both ends; lower is better' },
    { ...base, baseName: 'ethereumjs+NODELAY', metric: 'full connections, Server path', unit: 'conn/s', ours: server.perSecond, base: ethNoDelay.perSecond, note: 'baseline patched with TCP_NODELAY (no Nagle stall)' },
    { ...base, baseName: 'ethereumjs+NODELAY', metric: 'CPU per connection, Server path', unit: 'ms', ours: server.cpuMsPerUnit, base: ethNoDelay.cpuMsPerUnit, note: 'both ends; lower is better' },
  ]
}
