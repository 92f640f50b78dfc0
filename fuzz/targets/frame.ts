/**
 * RLPx frames through the public `FrameReader`, delivered in chunks split anywhere:
 *
 * - honest streams from a `FrameWriter` over real MAC sponges, which must read back as
 *   written, and the same streams mutated after encryption;
 * - streams under the known-answer vector's secrets, whose MAC sponges always digest to
 *   0x01s (go-ethereum's TestFrameReadWrite): any frame with 0x01 MAC fields passes its
 *   MAC checks, so fuzzed headers — lying sizes, junk header-data — and bodies reach the
 *   code behind them. These frames are encrypted here, by the spec, not by our writer;
 * - arbitrary bytes under either set of secrets.
 * @module
 */
import { createCipheriv } from 'node:crypto'
import fc from 'fast-check'
import { Keccak256, keccak256 } from '../../lib/crypto/index.js'
import { FrameReader, FrameWriter, MAX_FRAME_SIZE } from '../../lib/rlpx/frames.js'
import type { SessionSecrets } from '../../lib/rlpx/handshake.js'
import { PropertyViolation, type Target } from '../harness.js'
import { applyMutations, mutate, mutations, size } from '../inputs.js'
import { vectorFrame } from '../seeds.js'

/** A byte stream for one reader, where to cut it into chunks, and what it must read back as. */
export interface FrameInput {
  secrets: 'real' | 'ones'
  maxFrameSize: number
  stream: Uint8Array
  /** Where the stream is cut into the chunks pushed, or 'bytes': one byte per chunk. */
  cuts: number[] | 'bytes'
  /** For a stream of well-formed frames: the frame data it carries. */
  expect?: Uint8Array[]
}

const VECTOR_KEY = keccak256(new Uint8Array(0))
const ONES_MAC = Buffer.alloc(16, 1)
/** The vector's fake sponge: ignores input, digests to 0x01s. */
const ones = { update: () => ones, digest: (length = 32) => Buffer.alloc(length, 1) } as unknown as Keccak256

function secrets(kind: FrameInput['secrets']): SessionSecrets {
  // Writer and reader of the real kind each get fresh sponges in the same state, as the
  // egress MAC of one side mirrors the ingress MAC of the other.
  const sponge = (): Keccak256 => (kind === 'ones' ? ones : new Keccak256().update(Buffer.from('devp2p-ts fuzz')))
  return { remotePublicKey: Buffer.alloc(64), aesSecret: VECTOR_KEY, macSecret: VECTOR_KEY, egressMac: sponge(), ingressMac: sponge() }
}

const maxFrameSize = fc.constantFrom(MAX_FRAME_SIZE, 2048, 1024, 16)
const cuts = fc.oneof({ weight: 9, arbitrary: fc.array(fc.nat(), { maxLength: 6 }) }, { weight: 1, arbitrary: fc.constant('bytes' as const) })
/** Streams longer than this are not pushed a byte at a time (a test of reassembly, not of speed). */
const TRICKLE_MAX = 8192
const body = fc.oneof({ weight: 8, arbitrary: fc.uint8Array({ maxLength: 300 }) }, { weight: 1, arbitrary: size(64 * 1024).map((n) => new Uint8Array(n).fill(0x5a)) })

const honest: fc.Arbitrary<FrameInput> = fc
  .record({ frames: fc.array(fc.array(body, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 4 }), maxFrameSize, cuts })
  .map(({ frames, maxFrameSize, cuts }) => {
    const writer = new FrameWriter(secrets('real'))
    const stream = Buffer.concat(frames.flatMap((parts) => writer.encode(parts)))
    const expect = frames.map((parts) => Buffer.concat(parts))
    const input: FrameInput = { secrets: 'real', maxFrameSize, stream, cuts }
    if (expect.every((frame) => frame.length <= maxFrameSize)) input.expect = expect
    return input
  })

/** `inputs` with their streams mutated (after encryption): nothing to expect of them any more. */
const mutated = (inputs: fc.Arbitrary<FrameInput>): fc.Arbitrary<FrameInput> =>
  fc.tuple(inputs, mutations({ min: 1, max: 2 })).map(([input, list]) => {
    const { expect: _, ...rest } = input
    return { ...rest, stream: applyMutations(input.stream, list, [input.stream, vectorFrame]) }
  })

const roundUp16 = (n: number): number => (n + 15) & ~15

/**
 * A frame as the spec lays it out: the header's size field (-1: the body's true length),
 * header-data, body, and the byte it is padded with.
 */
const specFrame = fc.record({
  size: fc.oneof(
    { weight: 4, arbitrary: fc.constant(-1) },
    { weight: 2, arbitrary: fc.nat(MAX_FRAME_SIZE) },
    { weight: 1, arbitrary: fc.constantFrom(0, 1, 15, 16, 17, 1024, 1025, 2048, 2049, MAX_FRAME_SIZE) },
  ),
  headerData: fc.oneof(fc.constant(Uint8Array.of(0xc2, 0x80, 0x80)), fc.uint8Array({ maxLength: 13 })),
  body,
  padding: fc.oneof(fc.constant(0), fc.nat(255)),
})

/**
 * Frames encrypted under the vector's secrets with one AES-256-CTR stream, MAC fields 0x01s.
 * Frames whose headers tell the truth must read back as written: an implementation of the
 * spec independent of our writer.
 */
const withOnesMac: fc.Arbitrary<FrameInput> = fc
  .record({ frames: fc.array(specFrame, { minLength: 1, maxLength: 4 }), maxFrameSize, cuts })
  .map(({ frames, maxFrameSize, cuts }) => {
    const cipher = createCipheriv('aes-256-ctr', VECTOR_KEY, Buffer.alloc(16))
    const out: Uint8Array[] = []
    for (const frame of frames) {
      const header = Buffer.alloc(16)
      header.writeUIntBE(frame.size < 0 ? frame.body.length : frame.size, 0, 3)
      header.set(frame.headerData, 3)
      const padded = Buffer.alloc(roundUp16(frame.body.length), frame.padding)
      padded.set(frame.body)
      out.push(cipher.update(header), ONES_MAC, cipher.update(padded), ONES_MAC)
    }
    const input: FrameInput = { secrets: 'ones', maxFrameSize, stream: Buffer.concat(out), cuts }
    if (frames.every((f) => f.size < 0 && f.body.length <= maxFrameSize)) input.expect = frames.map((f) => f.body)
    return input
  })

const raw: fc.Arbitrary<FrameInput> = fc.record({
  secrets: fc.constantFrom('real' as const, 'ones' as const),
  maxFrameSize,
  stream: fc.oneof(mutate(fc.constant(vectorFrame), [vectorFrame]), fc.uint8Array({ maxLength: 1024 })),
  cuts,
})

export const frame: Target<FrameInput> = {
  name: 'frame',
  decoder: 'FrameReader.push/next (header and body)',
  arbitrary: fc.oneof(
    { weight: 3, arbitrary: withOnesMac },
    { weight: 2, arbitrary: mutated(withOnesMac) },
    { weight: 2, arbitrary: honest },
    { weight: 2, arbitrary: mutated(honest) },
    { weight: 1, arbitrary: raw },
  ),
  run(input) {
    const reader = new FrameReader(secrets(input.secrets), input.maxFrameSize)
    const got: Uint8Array[] = []
    const read = (): void => {
      const n = input.stream.length
      const at =
        input.cuts === 'bytes'
          ? Array.from({ length: Math.min(n, TRICKLE_MAX) }, (_, i) => i)
          : [...new Set(input.cuts.map((c) => c % (n + 1)))].sort((a, b) => a - b)
      let from = 0
      for (const to of [...at, n]) {
        reader.push(Buffer.from(input.stream.subarray(from, to)))
        from = to
        for (let f = reader.next(); f !== undefined; f = reader.next()) got.push(f)
      }
    }
    if (!input.expect) {
      read()
    } else {
      try {
        read()
      } catch (err) {
        throw new PropertyViolation(`well-formed frames were refused: ${(err as Error).message}`)
      }
      if (got.length !== input.expect.length || got.some((f, i) => !Buffer.from(f).equals(input.expect![i]!))) {
        throw new PropertyViolation('well-formed frames read back other data than was written')
      }
    }
    if (reader.buffered < 0 || reader.buffered > input.stream.length) throw new PropertyViolation(`buffered is ${reader.buffered}`)
  },
  bytes: (input) => input.stream,
  valid: [
    { secrets: 'ones', maxFrameSize: MAX_FRAME_SIZE, stream: vectorFrame, cuts: [7, 40] },
    { secrets: 'ones', maxFrameSize: MAX_FRAME_SIZE, stream: vectorFrame, cuts: 'bytes' },
  ],
}
