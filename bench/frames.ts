/**
 * Part `frames`, the frame layer alone: one session's FrameWriter encoding messages and
 * the matching FrameReader decoding them, in this process, with no socket. The figure is
 * CPU µs per message for both ends (encode + decode), the cost the RLPx frame codec adds
 * to every message; the secrets come from a real handshake, so the MAC states are real.
 * Beside it, with the repetitions interleaved: @ethereumjs/devp2p's frame layer (its
 * ECIES session's createBlockHeader/createBody and parseHeader/parseBody), taken from
 * the two ends of one of its established sessions.
 * @module
 */
import { randomBytes } from 'node:crypto'
import { generatePrivateKey, publicKeyOf } from '../lib/crypto/index.js'
import { FrameReader, FrameWriter } from '../lib/rlpx/frames.js'
import { Handshake, type SessionSecrets } from '../lib/rlpx/handshake.js'
import { ethConnect, startEthNode, stopEthNode } from './ethjs.js'
import { measureRates, progress, scale, type Row } from './support.js'

const MIB = 1024 * 1024
const MSG_ID = Buffer.from([0x10])

/** The secrets of both ends of one handshake: [initiator, recipient]. */
export function sessionSecrets(): [SessionSecrets, SessionSecrets] {
  const keyB = generatePrivateKey()
  const a = new Handshake({ privateKey: generatePrivateKey(), remotePublicKey: publicKeyOf(keyB) })
  const b = new Handshake({ privateKey: keyB })
  b.readAuth(a.createAuth())
  a.readAck(b.createAck())
  return [a.secrets(), b.secrets()]
}

/** A run for `measureRates`: `n` messages of `size` random bytes through one writer and its reader. */
function codecRun(size: number): (n: number) => Promise<void> {
  const [initiator, recipient] = sessionSecrets()
  const writer = new FrameWriter(initiator)
  const reader = new FrameReader(recipient)
  const payload = randomBytes(size)
  return async (n) => {
    for (let i = 0; i < n; i++) {
      for (const chunk of writer.encode([MSG_ID, payload])) reader.push(chunk)
      const data = reader.next()
      if (data?.length !== size + 1) throw new Error('frame codec lost a message')
    }
  }
}

/** The frame methods of @ethereumjs/devp2p's ECIES session (not exported by the package; reached through its Peer). */
interface EthFrames {
  createBlockHeader(size: number): Uint8Array
  createBody(data: Uint8Array): Uint8Array
  parseHeader(data: Uint8Array): number
  parseBody(data: Uint8Array): Uint8Array
}

/** The same run through @ethereumjs/devp2p's frame layer, on both ends of one of its sessions. */
async function ethCodecRun(size: number): Promise<{ run: (n: number) => Promise<void>; close: () => void }> {
  const [a, b] = await Promise.all([startEthNode(), startEthNode()])
  const [sender, receiver] = await ethConnect(a, b)
  const egress = (sender as unknown as { _eciesSession: EthFrames })._eciesSession
  const ingress = (receiver as unknown as { _eciesSession: EthFrames })._eciesSession
  const message = Buffer.concat([MSG_ID, randomBytes(size)])
  return {
    async run(n) {
      for (let i = 0; i < n; i++) {
        const header = egress.createBlockHeader(message.length)
        const body = egress.createBody(message)
        ingress.parseHeader(header)
        if (ingress.parseBody(body)?.length !== size + 1) throw new Error('ethereumjs frame codec lost a message')
      }
    },
    close: () => {
      stopEthNode(a)
      stopEthNode(b)
    },
  }
}

/** Runs the frames part; returns its table rows. */
export async function runFrames(): Promise<Row[]> {
  progress('frames: 100-byte and 1 MiB messages through the frame codecs alone, ours and ethereumjs interleaved')
  const ethSmall = await ethCodecRun(100)
  const ethLarge = await ethCodecRun(MIB)
  try {
    const small = await measureRates({ ours: codecRun(100), ethereumjs: ethSmall.run }, { warmupUnits: { ours: 20_000, ethereumjs: 2000 }, targetMs: 500, reps: 5 })
    const large = await measureRates({ ours: codecRun(MIB), ethereumjs: ethLarge.run }, { warmupUnits: { ours: 20, ethereumjs: 3 }, targetMs: 500, minUnits: 3, reps: 5 })
    const part = 'frames'
    const base = { part, baseName: 'ethereumjs' }
    return [
      { ...base, metric: 'frame layer CPU, 100-byte messages', unit: 'µs/msg', ours: scale(small.ours!.cpuMsPerUnit, 1000), base: scale(small.ethereumjs!.cpuMsPerUnit, 1000), note: 'encode + decode, both ends of one session, no socket; lower is better' },
      { ...base, metric: 'frame layer, 1 MiB messages', unit: 'MB/s', ours: scale(large.ours!.perSecond, MIB / 1e6), base: scale(large.ethereumjs!.perSecond, MIB / 1e6), note: 'encode + decode, both ends' },
    ]
  } finally {
    ethSmall.close()
    ethLarge.close()
  }
}
