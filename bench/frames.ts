/**
 * Part `frames`, the frame layer alone: one session's FrameWriter encoding messages and
 * the matching FrameReader decoding them, in this process, with no socket. The figure is
 * CPU µs per message for both ends (encode + decode), the cost the RLPx frame codec adds
 * to every message; the secrets come from a real handshake, so the MAC states are real.
 * @module
 */
import { randomBytes } from 'node:crypto'
import { generatePrivateKey, publicKeyOf } from '../lib/crypto/index.js'
import { FrameReader, FrameWriter } from '../lib/rlpx/frames.js'
import { Handshake, type SessionSecrets } from '../lib/rlpx/handshake.js'
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

/** Runs the frames part; returns its table rows. */
export async function runFrames(): Promise<Row[]> {
  progress('frames: 100-byte and 1 MiB messages through FrameWriter and FrameReader')
  const small = await measureRates({ small: codecRun(100) }, { warmupUnits: 20_000, targetMs: 500, reps: 5 })
  const large = await measureRates({ large: codecRun(MIB) }, { warmupUnits: 20, targetMs: 500, minUnits: 3, reps: 5 })
  const part = 'frames'
  return [
    { part, metric: 'frame layer CPU, 100-byte messages', unit: 'µs/msg', ours: scale(small.small.cpuMsPerUnit, 1000), note: 'encode + decode, both ends of one session, no socket' },
    { part, metric: 'frame layer, 1 MiB messages', unit: 'MB/s', ours: scale(large.large.perSecond, MIB / 1e6), note: 'encode + decode, both ends' },
  ]
}
