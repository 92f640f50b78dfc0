/**
 * The WebAssembly module built from `wasm/rlpx-crypto.ts` (keccak sponges, single-block
 * AES-256, the frame MAC steps) and the layout of its memory: one scratch area through
 * which data passes in and out, and blocks (sponges, round keys, keystream) that belong to
 * JS objects and return to a free list, zeroed, when their owner is garbage-collected.
 * @module
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** The module's exports; pointers and lengths are byte offsets into `memory`. */
interface RlpxCrypto {
  memory: { readonly buffer: ArrayBuffer; grow(pages: number): number }
  SPONGE_SIZE: { readonly value: number }
  AES_KEY_SIZE: { readonly value: number }
  heapBase(): number
  keccakAbsorb(sponge: number, data: number, length: number): void
  keccakPeek(sponge: number, out: number, length: number): void
  aesExpandKey(key: number, roundKeys: number): void
  aesEncrypt(roundKeys: number, src: number, dst: number): void
  macHeader(sponge: number, roundKeys: number, header: number, out: number): void
  macBodyFinish(sponge: number, roundKeys: number, out: number): void
  equal16(a: number, b: number): number
  xorKeystream(keystream: number, data: number, length: number): void
  frameHeader(at: number, size: number): void
  sealFrame(sponge: number, roundKeys: number, keystream: number, frame: number, size: number): void
  openHeader(sponge: number, roundKeys: number, keystream: number, frame: number): number
  openBody(sponge: number, roundKeys: number, keystream: number, body: number, padded: number): number
}

/** The part of the WebAssembly JS API used here (TypeScript's `lib` has it only with DOM). */
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => object
  Instance: new (module: object) => { exports: unknown }
}

function load(): RlpxCrypto {
  const url = new URL('./rlpx-crypto.wasm', import.meta.url)
  let bytes: Buffer
  try {
    bytes = readFileSync(url)
  } catch (err) {
    throw new Error(`${fileURLToPath(url)} is missing: run \`npm run build:wasm\` (npm install, npm ci and npm run build run it too)`, { cause: err })
  }
  const { Module, Instance } = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly
  return new Instance(new Module(bytes)).exports as RlpxCrypto
}

/** The instantiated module. */
export const wasm: RlpxCrypto = load()
/** Bytes of one keccak sponge in the module's memory. */
export const SPONGE_SIZE = wasm.SPONGE_SIZE.value
/** Bytes of one expanded AES-256 key. */
export const AES_KEY_SIZE = wasm.AES_KEY_SIZE.value
/** Bytes of the scratch area. */
export const SCRATCH_SIZE = 64 * 1024

const PAGE = 64 * 1024
const ALIGN = 16

/**
 * The module's memory as bytes. Replaced when the memory grows (growing detaches the old
 * buffer), so read it at the time of use rather than keeping it.
 */
export let heap = new Uint8Array(wasm.memory.buffer)

let top = (wasm.heapBase() + ALIGN - 1) & ~(ALIGN - 1)

/**
 * Where data passes in and out of the module: free for any synchronous use, and nothing
 * may be expected to survive there across a call into another module's code.
 */
export const SCRATCH = top
top += SCRATCH_SIZE + 64

/** Free blocks, by size. */
const free = new Map<number, number[]>()

function reserve(size: number): number {
  const ptr = top
  top += (size + ALIGN - 1) & ~(ALIGN - 1)
  const missing = top - wasm.memory.buffer.byteLength
  if (missing > 0) {
    wasm.memory.grow(Math.ceil(missing / PAGE))
    heap = new Uint8Array(wasm.memory.buffer)
  }
  return ptr
}

/** A zeroed block of `size` bytes that is never freed (module-level state). */
export function allocStatic(size: number): number {
  return reserve(size)
}

/** Address and size of an owned block, both in 16-byte units, packed into one number (no object per block). */
const pack = (ptr: number, size: number): number => (ptr / ALIGN) * 0x10000 + size / ALIGN

const owners = new FinalizationRegistry<number>((held) => {
  const ptr = Math.floor(held / 0x10000) * ALIGN
  const size = (held % 0x10000) * ALIGN
  heap.fill(0, ptr, ptr + size)
  let list = free.get(size)
  if (!list) free.set(size, (list = []))
  list.push(ptr)
})

/**
 * A zeroed block of `size` bytes that belongs to `owner`: it is zeroed and reused once
 * `owner` has been garbage-collected, so `owner` must be kept as long as the block is used.
 */
export function allocFor(owner: object, size: number): number {
  const rounded = (size + ALIGN - 1) & ~(ALIGN - 1)
  const ptr = free.get(rounded)?.pop() ?? reserve(rounded)
  owners.register(owner, pack(ptr, rounded))
  return ptr
}
