/**
 * What the fuzzer feeds a decoder, as fast-check arbitraries (so a seed replays a run and a
 * failure shrinks): mutations of valid seeds — byte flips, truncations, extensions, RLP
 * length-field lies, splices — RLP bombs (deep nesting, wide lists) on their own and inside
 * a seed's list, random RLP trees and arbitrary bytes.
 * @module
 */
import fc from 'fast-check'
import { RLP, type Input } from '@ethereumjs/rlp'

/** Bytes that mean something to RLP (type boundaries) or to lengths (0, all ones). */
const INTERESTING = [0x00, 0x01, 0x37, 0x38, 0x7f, 0x80, 0x81, 0xb7, 0xb8, 0xb9, 0xbf, 0xc0, 0xc1, 0xf7, 0xf8, 0xf9, 0xff]
/**
 * The largest input generated, for decoders that take whole messages. Messages may reach
 * 16 MiB, but work that grows faster than the input shows well below that, and larger
 * inputs would only slow the run.
 */
export const LARGE_INPUT = 1 << 20
/** The most bytes one `repeat` mutation adds, so that only bombs are large. */
const REPEAT_MAX = 64 * 1024

type LieKind = 'inc' | 'dec' | 'huge' | 'swap' | 'long'
export type Mutation =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; value: number }
  | { op: 'truncate'; at: number }
  | { op: 'extend'; bytes: Uint8Array }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; length: number }
  | { op: 'repeat'; at: number; length: number; times: number }
  | { op: 'lie'; header: number; how: LieKind; delta: number }
  | { op: 'splice'; other: number; at: number; from: number }

const at = fc.nat({ max: 0xffff })
const few = fc.uint8Array({ maxLength: 64 })
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at, bit: fc.nat(7) }),
  fc.record({ op: fc.constant('set' as const), at, value: fc.oneof(fc.constantFrom(...INTERESTING), fc.nat(255)) }),
  fc.record({ op: fc.constant('truncate' as const), at }),
  fc.record({ op: fc.constant('extend' as const), bytes: few }),
  fc.record({ op: fc.constant('insert' as const), at, bytes: few }),
  fc.record({ op: fc.constant('delete' as const), at, length: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ op: fc.constant('repeat' as const), at, length: fc.integer({ min: 1, max: 64 }), times: fc.integer({ min: 1, max: 256 }) }),
  fc.record({
    op: fc.constant('lie' as const),
    header: fc.nat(255),
    how: fc.constantFrom<LieKind>('inc', 'dec', 'huge', 'swap', 'long'),
    delta: fc.integer({ min: 1, max: 300 }),
  }),
  fc.record({ op: fc.constant('splice' as const), other: fc.nat(), at, from: at }),
)

const concat = (...parts: Uint8Array[]): Uint8Array => Buffer.concat(parts)

/**
 * An RLP header for `length` bytes of string or list content. `form` 'long' spells a short
 * length in the long form and 'padded' adds a leading zero to the length: both are
 * non-canonical encodings a strict decoder must refuse.
 */
export function rlpHeader(length: number | bigint, list: boolean, form: 'canonical' | 'long' | 'padded' = 'canonical'): Uint8Array {
  const base = list ? 0xc0 : 0x80
  if (form === 'canonical' && length < 56) return Uint8Array.of(base + Number(length))
  const bytes: number[] = []
  if (typeof length === 'bigint') for (let n = length; n > 0n; n >>= 8n) bytes.unshift(Number(n & 0xffn))
  else for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256)
  if (form === 'padded') bytes.unshift(0)
  return Uint8Array.of(base + 55 + bytes.length, ...bytes)
}

interface Header {
  /** Where the header starts. */
  at: number
  /** Where the content starts (= `at` for a single byte, which is its own content). */
  start: number
  length: number
  list: boolean
}

/** Reads the header at `pos` leniently (any length, canonical or not); undefined past the end. */
function readHeader(buf: Uint8Array, pos: number): Header | undefined {
  const b = buf[pos]
  if (b === undefined) return undefined
  if (b < 0x80) return { at: pos, start: pos, length: 1, list: false }
  const list = b >= 0xc0
  const short = b - (list ? 0xc0 : 0x80)
  if (short < 56) return { at: pos, start: pos + 1, length: short, list }
  const lengthOfLength = short - 55
  if (pos + 1 + lengthOfLength > buf.length) return undefined
  let length = 0
  for (let i = 0; i < lengthOfLength; i++) length = length * 256 + buf[pos + 1 + i]!
  return { at: pos, start: pos + 1 + lengthOfLength, length, list }
}

/** The headers of the RLP structure in `buf`, as far as it is well-formed (at most 256, 64 deep). */
function headers(buf: Uint8Array): Header[] {
  const out: Header[] = []
  const walk = (start: number, end: number, depth: number): void => {
    for (let pos = start; pos < end && out.length < 256; ) {
      const h = readHeader(buf, pos)
      if (!h || h.start + h.length > end) return
      out.push(h)
      if (h.list && depth < 64) walk(h.start, h.start + h.length, depth + 1)
      pos = h.start + h.length
    }
  }
  walk(0, buf.length, 0)
  return out
}

/** Rewrites one RLP header so that it lies about its content or spells it non-canonically. */
function lie(buf: Uint8Array, m: Extract<Mutation, { op: 'lie' }>): Uint8Array {
  const all = headers(buf)
  if (all.length === 0) return buf
  const h = all[m.header % all.length]!
  let header: Uint8Array
  switch (m.how) {
    case 'inc':
      header = rlpHeader(h.length + m.delta, h.list)
      break
    case 'dec':
      header = rlpHeader(Math.max(0, h.length - m.delta), h.list)
      break
    case 'huge':
      header = rlpHeader(2n ** BigInt(8 * (1 + (m.delta % 8))) - 1n, h.list)
      break
    case 'swap':
      header = rlpHeader(h.length, !h.list)
      break
    case 'long':
      header = rlpHeader(h.length, h.list, m.delta % 2 ? 'long' : 'padded')
      break
  }
  return concat(buf.subarray(0, h.at), header, buf.subarray(h.start))
}

function apply(buf: Uint8Array, m: Mutation, seeds: readonly Uint8Array[]): Uint8Array {
  const n = buf.length
  switch (m.op) {
    case 'flip':
    case 'set': {
      if (n === 0) return buf
      const out = Uint8Array.from(buf)
      const i = m.at % n
      out[i] = m.op === 'flip' ? out[i]! ^ (1 << m.bit) : m.value
      return out
    }
    case 'truncate':
      return n === 0 ? buf : buf.subarray(0, m.at % n)
    case 'extend':
      return concat(buf, m.bytes)
    case 'insert': {
      const i = m.at % (n + 1)
      return concat(buf.subarray(0, i), m.bytes, buf.subarray(i))
    }
    case 'delete': {
      if (n === 0) return buf
      const i = m.at % n
      return concat(buf.subarray(0, i), buf.subarray(i + m.length))
    }
    case 'repeat': {
      if (n === 0) return buf
      const i = m.at % n
      const part = buf.subarray(i, i + m.length)
      const times = Math.min(m.times, Math.floor(REPEAT_MAX / part.length))
      return concat(buf.subarray(0, i + part.length), ...Array<Uint8Array>(times).fill(part), buf.subarray(i + part.length))
    }
    case 'lie':
      return lie(buf, m)
    case 'splice': {
      const other = seeds[m.other % seeds.length]!
      return concat(buf.subarray(0, m.at % (n + 1)), other.subarray(m.from % (other.length + 1)))
    }
  }
}

/** Up to `max` (at least `min`) mutations, for {@link applyMutations}. */
export function mutations({ min = 1, max = 4 }: { min?: number; max?: number } = {}): fc.Arbitrary<Mutation[]> {
  return fc.array(mutation, { minLength: min, maxLength: max })
}

/** `input` with `list` applied in turn; `seeds` are what a splice takes from. */
export function applyMutations(input: Uint8Array, list: readonly Mutation[], seeds: readonly Uint8Array[]): Uint8Array {
  return list.reduce((acc, m) => apply(acc, m, seeds), input)
}

/** `base` with up to `max` (at least `min`) mutations applied in turn. */
export function mutate(base: fc.Arbitrary<Uint8Array>, seeds: readonly Uint8Array[], count?: { min?: number; max?: number }): fc.Arbitrary<Uint8Array> {
  return fc.tuple(base, mutations(count)).map(([input, list]) => applyMutations(input, list, seeds))
}

/** A size up to `max`, mostly small: most inputs stay quick, some reach the limit. */
export function size(max: number): fc.Arbitrary<number> {
  return fc.oneof(
    { weight: 16, arbitrary: fc.nat(Math.min(max, 4096)) },
    { weight: 4, arbitrary: fc.nat(Math.min(max, 65536)) },
    { weight: 1, arbitrary: fc.nat(max) },
  )
}

/** Bytes of the canonical RLP header for `length` bytes of content. */
function headerSize(length: number): number {
  let size = 1
  if (length >= 56) for (let n = length; n > 0; n = Math.floor(n / 256)) size++
  return size
}

/** `content` wrapped in list headers `depth` times, or as many as fit in `max` bytes. */
function nest(content: Uint8Array, depth: number, max: number): Uint8Array {
  let total = content.length
  let levels = 0
  for (; levels < depth && total + headerSize(total) <= max; levels++) total += headerSize(total)
  // Written from the inside out: each header goes just before the list it opens.
  const out = new Uint8Array(total)
  let start = total - content.length
  out.set(content, start)
  for (let i = 0; i < levels; i++) {
    const length = total - start
    const head = headerSize(length)
    start -= head
    if (head === 1) out[start] = 0xc0 + length
    else {
      out[start] = 0xf7 + head - 1
      for (let n = length, at = start + head - 1; n > 0; n = Math.floor(n / 256), at--) out[at] = n % 256
    }
  }
  return out
}

/**
 * Valid RLP built to cost a decoder the most per byte: lists nested thousands deep around a
 * large string (a decoder that copies each list's content does depth × size work), and a
 * list of `count` one-byte items (one object per input byte).
 */
function bombs(max: number): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc
      .record({ depth: fc.integer({ min: 1, max: 20_000 }), leaf: size(max) })
      .map(({ depth, leaf }) => nest(concat(rlpHeader(leaf, false), new Uint8Array(leaf)), depth, max)),
    fc.integer({ min: 1, max: 20_000 }).map((depth) => nest(Uint8Array.of(0xc0), depth, max)),
    fc
      .record({ count: size(max), item: fc.constantFrom(0x00, 0x80, 0xc0) })
      .map(({ count, item }) => {
        const n = Math.max(0, count - 9)
        return concat(rlpHeader(n, true), new Uint8Array(n).fill(item))
      }),
  )
}

/** The content of the RLP list `buf` (its items' encodings, back to back), or undefined when it is not one. */
export function listContent(buf: Uint8Array): Uint8Array | undefined {
  const outer = readHeader(buf, 0)
  return outer?.list && outer.start + outer.length === buf.length ? buf.subarray(outer.start) : undefined
}

/** The raw encodings of the items of the RLP list `seed`, or undefined when it is not one. */
function listItems(seed: Uint8Array): Uint8Array[] | undefined {
  const content = listContent(seed)
  if (!content) return undefined
  const items: Uint8Array[] = []
  for (let pos = 0; pos < content.length; ) {
    const h = readHeader(content, pos)
    if (!h || h.start + h.length > content.length) return undefined
    items.push(content.subarray(pos, h.start + h.length))
    pos = h.start + h.length
  }
  return items
}

/** A seed's list with a bomb in place of one item or after the last: where a decoder expects a field. */
function bombInside(seeds: readonly Uint8Array[], max: number): fc.Arbitrary<Uint8Array> {
  const lists = seeds.map(listItems).filter((items): items is Uint8Array[] => items !== undefined)
  if (lists.length === 0) return bombs(max)
  return fc.record({ list: fc.nat(lists.length - 1), slot: fc.nat(16), bomb: bombs(max) }).map(({ list, slot, bomb }) => {
    const items = [...lists[list]!]
    const i = slot % (items.length + 1)
    items.splice(i, i < items.length ? 1 : 0, bomb)
    let length = 0
    for (const item of items) length += item.length
    return concat(rlpHeader(length, true), ...items)
  })
}

/** Well-formed RLP of random shape: byte strings around the short/long boundary, lists 4 deep. */
export const randomRlp: fc.Arbitrary<Uint8Array> = fc
  .letrec<{ item: Input; list: Input[] }>((tie) => ({
    item: fc.oneof({ depthSize: 'small', withCrossShrink: true }, fc.uint8Array({ maxLength: 70 }), tie('list')),
    list: fc.array(tie('item'), { maxLength: 6, depthIdentifier: 'rlp' }),
  }))
  .item.map((item) => RLP.encode(item))

/**
 * The usual mix for a decoder of network bytes: mostly mutated seeds, then bombs (alone
 * and inside a seed's list, themselves sometimes mutated), random RLP, arbitrary bytes,
 * and the seeds as they are. `maxSize` is the largest input the decoder can meet on the wire.
 */
export function networkBytes(seeds: readonly Uint8Array[], maxSize: number): fc.Arbitrary<Uint8Array> {
  const seed = fc.constantFrom(...seeds)
  return fc.oneof(
    { weight: 12, arbitrary: mutate(seed, seeds) },
    { weight: 2, arbitrary: mutate(bombInside(seeds, maxSize), seeds, { min: 0, max: 2 }) },
    { weight: 1, arbitrary: mutate(bombs(maxSize), seeds, { min: 0, max: 1 }) },
    { weight: 2, arbitrary: randomRlp },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 1024 }) },
    { weight: 1, arbitrary: seed },
  )
}
