/**
 * The baseline: @ethereumjs/devp2p's RLPx, driven the way its users drive it, with a minimal
 * custom capability of our own (the package exports no base class for one, so
 * {@link BenchCap} is a plain class with the constructor and `_handleMessage` its Peer calls).
 * @module
 */
import type { Socket } from 'node:net'
import { Common, Mainnet } from '@ethereumjs/common'
import { genPrivateKey, pk2id, RLPx, type Capabilities, type Peer } from '@ethereumjs/devp2p'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import * as snappyjs from 'snappyjs'
import { deferred } from './support.js'

/** Their Peer hands `_handleMessage` the payload snappy-uncompressed but leaves compressing sends to the capability, as ETH and SNAP do. */
type SendMethod = (code: number, data: Uint8Array) => void

/** A one-message capability: `send` compresses (p2p v5) and writes; received payloads go to `onMessage`. */
export class BenchCap {
  /** Capability entry for `RLPx({ capabilities })`. */
  static readonly cap: Capabilities = {
    name: 'bench',
    version: 1,
    length: 1,
    constructor: BenchCap as unknown as Capabilities['constructor'],
  }

  /** Called with every received payload (uncompressed). */
  onMessage: (payload: Uint8Array) => void = () => {}
  readonly #send: SendMethod

  constructor(_version: number, _peer: Peer, send: SendMethod) {
    this.#send = send
  }

  /** Sends `payload` as message 0, snappy-compressed with snappyjs like their own capabilities. */
  send(payload: Uint8Array): void {
    this.#send(0, snappyjs.compress(payload))
  }

  /** Called by their Peer for every message in this capability's code range. */
  _handleMessage(_code: number, payload: Uint8Array): void {
    this.onMessage(payload)
  }
}

/** A listening @ethereumjs/devp2p node. */
export interface EthNode {
  rlpx: RLPx
  /** 64-byte node id (public key without prefix). */
  id: Uint8Array
  port: number
}

let common: Common | undefined

/**
 * Starts an RLPx node on 127.0.0.1 with {@link BenchCap}; `maxPeers` defaults to theirs (10).
 * With `noDelay`, every session socket gets TCP_NODELAY before its first write: they do not
 * set it, and since they write each frame header and body separately, Nagle's algorithm
 * with delayed ACKs stalls their Hello exchange by ~40 ms on loopback.
 */
export async function startEthNode(options: { maxPeers?: number; noDelay?: boolean } = {}): Promise<EthNode> {
  common ??= new Common({ chain: Mainnet })
  const privateKey = genPrivateKey()
  const rlpx = new RLPx(privateKey, { capabilities: [BenchCap.cap], common, maxPeers: options.maxPeers ?? 10 })
  if (options.noDelay) {
    // Every socket, dialled or accepted, passes through _onConnect before its Peer writes.
    const onConnect = rlpx._onConnect.bind(rlpx)
    rlpx._onConnect = (socket, peerId) => onConnect(socket.setNoDelay(true), peerId)
  }
  const listening = new Promise<void>((resolve) => rlpx.events.once('listening', () => resolve()))
  rlpx.listen(0, '127.0.0.1')
  await listening
  // Their RLPx exposes no address accessor; the listener is the `_server` field.
  const port = (rlpx['_server']!.address() as { port: number }).port
  return { rlpx, id: pk2id(secp256k1.getPublicKey(privateKey, false)), port }
}

/** Dials `to` from `from` and resolves with both peers once each side has emitted `peer:added`. */
export async function ethConnect(from: EthNode, to: EthNode): Promise<[Peer, Peer]> {
  const local = deferred<Peer>()
  const remote = deferred<Peer>()
  const onLocal = (peer: Peer): void => local.resolve(peer)
  const onRemote = (peer: Peer): void => remote.resolve(peer)
  from.rlpx.events.once('peer:added', onLocal)
  to.rlpx.events.once('peer:added', onRemote)
  try {
    await from.rlpx.connect({ id: to.id, address: '127.0.0.1', tcpPort: to.port })
    return await Promise.all([local.promise, remote.promise])
  } finally {
    from.rlpx.events.off('peer:added', onLocal)
    to.rlpx.events.off('peer:added', onRemote)
  }
}

/**
 * Closes `peer`'s socket (on `from`) and resolves once both nodes have emitted
 * `peer:removed`. Their `peer.disconnect()` is not used: it ends the socket only after a
 * fixed 2 s delay, which would make a sequential loop measure that timer.
 */
export async function ethDisconnect(from: EthNode, to: EthNode, peer: Peer): Promise<void> {
  const removed = Promise.all([
    new Promise((resolve) => from.rlpx.events.once('peer:removed', resolve)),
    new Promise((resolve) => to.rlpx.events.once('peer:removed', resolve)),
  ])
  ethSocket(peer).destroy()
  await removed
}

/** The peer's socket: their Peer has no public accessor, and senders need it for back-pressure. */
export function ethSocket(peer: Peer): Socket {
  return peer['_socket']
}

/** The {@link BenchCap} instance running on `peer`. */
export function benchCap(peer: Peer): BenchCap {
  return peer.getProtocols()[0] as unknown as BenchCap
}

/** Closes the listener and every socket at once (their `destroy()` leaves sockets open for 2 s). */
export function stopEthNode(node: EthNode): void {
  const sockets = node.rlpx.getPeers().map(ethSocket)
  node.rlpx.destroy()
  for (const socket of sockets) socket.destroy()
}
