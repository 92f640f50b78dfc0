/**
 * Part `handshake`, handshake rate: sequential full connections between two local nodes in this
 * process — TCP connect, ECIES auth/ack, Hello both ways — then teardown, one at a time.
 * CPU per connection is both ends' work, since both run here.
 *
 * Ours is measured twice: through `Server.connect` (admission, Peer, protocol start, the
 * Disconnect on teardown) and as a lean loop of `RLPxConnection` + Hello on raw sockets,
 * which shows how much of the cost is the Server's. @ethereumjs/devp2p is connected until
 * `peer:added` on both sides and its socket closed until `peer:removed` on both sides,
 * the same cycle as our Server path. It is measured as shipped and once more with
 * TCP_NODELAY patched in, since as shipped most of its wall time is a Nagle stall. The
 * repetitions of all four loops are interleaved, so load on the machine weighs on each alike.
 * @module
 */
import { connect, createServer, type Socket } from 'node:net'
import { exchangeHello } from '../lib/hello-exchange.js'
import { P2P_VERSION } from '../lib/hello.js'
import { generatePrivateKey, publicKeyOf, RLPxConnection } from '../lib/index.js'
import { ethConnect, ethDisconnect, startEthNode, stopEthNode } from './ethjs.js'
import { IDLE_PROTOCOL, ourConnect, ourDisconnect, startOurNode } from './ours.js'
import { deferred, measureRates, progress, type RateResult, type Row } from './support.js'

const TARGET_MS = 1500

/** A handshake loop for `measureRates`, and what tears its nodes down. */
interface Loop {
  run: (n: number) => Promise<void>
  close: () => Promise<void>
}

async function ethereumjsLoop(noDelay: boolean): Promise<Loop> {
  const [a, b] = await Promise.all([startEthNode({ noDelay }), startEthNode({ noDelay })])
  return {
    async run(n) {
      for (let i = 0; i < n; i++) {
        const [peer] = await ethConnect(a, b)
        await ethDisconnect(a, b, peer)
      }
    },
    close: async () => {
      stopEthNode(a)
      stopEthNode(b)
    },
  }
}

async function serverLoop(): Promise<Loop> {
  const [a, b] = await Promise.all([startOurNode([IDLE_PROTOCOL]), startOurNode([IDLE_PROTOCOL])])
  return {
    async run(n) {
      for (let i = 0; i < n; i++) {
        const [peer] = await ourConnect(a, b)
        await ourDisconnect(a, b, peer)
      }
    },
    close: () => Promise.all([a.stop(), b.stop()]).then(() => {}),
  }
}

/** RLPx handshake and Hello on a raw socket pair, then destroy: the transport without the Server. */
async function leanLoop(): Promise<Loop> {
  const keyA = generatePrivateKey()
  const keyB = generatePrivateKey()
  const pubB = publicKeyOf(keyB)
  const hello = (key: Buffer) => ({ version: P2P_VERSION, clientId: 'bench', caps: [{ name: 'bench', version: 1 }], listenPort: 0, nodeId: publicKeyOf(key) })
  const [helloA, helloB] = [hello(keyA), hello(keyB)]
  let accepted = deferred<Socket>()
  const listener = createServer({ pauseOnConnect: true }, (socket) => accepted.resolve(socket))
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve))
  const { port } = listener.address() as { port: number }
  return {
    async run(n) {
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
    close: async () => {
      listener.close()
    },
  }
}

const ETH = 'ethereumjs'
const ETH_NODELAY = 'ethereumjs+NODELAY'
const SERVER = 'ours, Server'
const LEAN = 'ours, lean'

/** Runs the handshake part; returns its table rows. */
export async function runHandshake(): Promise<Row[]> {
  progress(`handshake: ${[SERVER, LEAN, ETH, ETH_NODELAY].join(', ')} interleaved`)
  const loops: Record<string, Loop> = {}
  let r: Record<string, RateResult>
  try {
    loops[SERVER] = await serverLoop()
    loops[LEAN] = await leanLoop()
    loops[ETH] = await ethereumjsLoop(false)
    loops[ETH_NODELAY] = await ethereumjsLoop(true)
    const runs = Object.fromEntries(Object.entries(loops).map(([k, loop]) => [k, loop.run]))
    r = await measureRates(runs, { warmupUnits: { [SERVER]: 50, [LEAN]: 50, [ETH]: 10, [ETH_NODELAY]: 10 }, targetMs: TARGET_MS, minUnits: 20, reps: 5 })
  } finally {
    await Promise.all(Object.values(loops).map((loop) => loop.close()))
  }
  const base = { part: 'handshake', baseName: ETH }
  return [
    { ...base, metric: 'full connections, Server path', unit: 'conn/s', ours: r[SERVER]!.perSecond, base: r[ETH]!.perSecond, target: { op: '>=', value: 35 } },
    { ...base, metric: 'CPU per connection, Server path', unit: 'ms', ours: r[SERVER]!.cpuMsPerUnit, base: r[ETH]!.cpuMsPerUnit, note: 'both ends; lower is better' },
    { ...base, metric: 'full connections, lean RLPxConnection+Hello', unit: 'conn/s', ours: r[LEAN]!.perSecond, base: r[ETH]!.perSecond },
    { ...base, metric: 'CPU per connection, lean', unit: 'ms', ours: r[LEAN]!.cpuMsPerUnit, base: r[ETH]!.cpuMsPerUnit, note: 'both ends; lower is better' },
    { ...base, baseName: ETH_NODELAY, metric: 'full connections, Server path', unit: 'conn/s', ours: r[SERVER]!.perSecond, base: r[ETH_NODELAY]!.perSecond, note: 'baseline patched with TCP_NODELAY (no Nagle stall)' },
    { ...base, baseName: ETH_NODELAY, metric: 'CPU per connection, Server path', unit: 'ms', ours: r[SERVER]!.cpuMsPerUnit, base: r[ETH_NODELAY]!.cpuMsPerUnit, note: 'both ends; lower is better' },
  ]
}
