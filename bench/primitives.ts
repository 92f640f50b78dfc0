/**
 * Part `primitives`: the operations the RLPx hot paths call, through our wrappers in
 * lib/crypto and lib/rlpx/snappy.ts (keccak and the MAC-seed AES in our WebAssembly
 * module, native `snappy` and `secp256k1` bindings), against alternatives: `hash-wasm`
 * and `@noble/hashes` for keccak256, OpenSSL through `node:crypto` for single-block AES,
 * `snappyjs` (what @ethereumjs/devp2p uses) for snappy, `@noble/curves` for secp256k1.
 * Before timing, each alternative's output is checked against ours, so the figures
 * compare equivalent work.
 * @module
 */
import { createCipheriv, randomBytes } from 'node:crypto'
import { deepStrictEqual } from 'node:assert'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { keccak_256 } from '@noble/hashes/sha3.js'
import { createKeccak } from 'hash-wasm'
import * as snappyjs from 'snappyjs'
import { ecdh, generatePrivateKey, keccak256, publicKeyOf, recover, sign } from '../lib/crypto/index.js'
import { heap, SCRATCH, wasm } from '../lib/crypto/wasm.js'
import { snappyCompress, snappyDecompress } from '../lib/rlpx/snappy.js'
import { measureOps, progress, type Row } from './support.js'

const MIB = 1024 * 1024

/** Times `ours` and each alternative; returns one row per alternative. */
async function compare(metric: string, ours: () => unknown, alternatives: Record<string, () => unknown>): Promise<Row[]> {
  progress(`primitives: ${metric}`)
  const oursOps = await measureOps(ours)
  const rows: Row[] = []
  for (const [name, op] of Object.entries(alternatives)) {
    rows.push({ part: 'primitives', metric, unit: 'ops/s', ours: oursOps, baseName: name, base: await measureOps(op) })
  }
  return rows
}

async function keccakRows(): Promise<Row[]> {
  const wasm = await createKeccak(256)
  const hashWasm = (data: Uint8Array): Uint8Array => wasm.init().update(data).digest('binary')
  const rows: Row[] = []
  for (const [label, data] of [
    ['64 B', randomBytes(64)],
    ['1 MiB', randomBytes(MIB)],
  ] as const) {
    deepStrictEqual(Buffer.from(hashWasm(data)), keccak256(data))
    deepStrictEqual(Buffer.from(keccak_256(data)), keccak256(data))
    rows.push(...(await compare(`keccak256 ${label}`, () => keccak256(data), { 'hash-wasm': () => hashWasm(data), '@noble/hashes': () => keccak_256(data) })))
  }
  return rows
}

/** One AES-256 block, as the frame MAC seeds it: ours in the module's memory, OpenSSL's one `Cipher.update` per block. */
async function aesRows(): Promise<Row[]> {
  const key = randomBytes(32)
  const block = randomBytes(16)
  const roundKeys = SCRATCH + 64
  heap.set(key, SCRATCH)
  wasm.aesExpandKey(SCRATCH, roundKeys)
  heap.set(block, SCRATCH)
  const ecb = createCipheriv('aes-256-ecb', key, null).setAutoPadding(false)
  wasm.aesEncrypt(roundKeys, SCRATCH, SCRATCH + 16)
  deepStrictEqual(Buffer.from(heap.subarray(SCRATCH + 16, SCRATCH + 32)), ecb.update(block))
  return compare('AES-256, one block (MAC seed)', () => wasm.aesEncrypt(roundKeys, SCRATCH, SCRATCH + 16), { 'node:crypto ECB': () => ecb.update(block) })
}

async function snappyRows(): Promise<Row[]> {
  const rows: Row[] = []
  for (const [label, data, note] of [
    ['1 KiB hex text', Buffer.from(randomBytes(512).toString('hex')), undefined],
    ['1 MiB random', randomBytes(MIB), { compress: 'ours: a 4 KiB probe, then one literal block, uncopied', uncompress: 'ours: the literal read as a view' }],
  ] as const) {
    const ours = Buffer.concat(snappyCompress(data))
    const theirs = Buffer.from(snappyjs.compress(data))
    deepStrictEqual(snappyDecompress(theirs, 16 * MIB), data)
    deepStrictEqual(Buffer.from(snappyjs.uncompress(ours)), data)
    const withNote = (text: string | undefined) => (row: Row): Row => (text ? { ...row, note: text } : row)
    rows.push(...(await compare(`snappy compress ${label}`, () => snappyCompress(data), { snappyjs: () => snappyjs.compress(data) })).map(withNote(note?.compress)))
    rows.push(...(await compare(`snappy uncompress ${label}`, () => snappyDecompress(ours, 16 * MIB), { snappyjs: () => snappyjs.uncompress(ours) })).map(withNote(note?.uncompress)))
  }
  return rows
}

async function secpRows(): Promise<Row[]> {
  const key = generatePrivateKey()
  const otherKey = generatePrivateKey()
  const otherPub = publicKeyOf(otherKey)
  const otherPubSec1 = Buffer.concat([Buffer.from([4]), otherPub])
  const hash = randomBytes(32)
  const ourSig = sign(hash, key)
  const nobleSig = secp256k1.sign(hash, key, { prehash: false, format: 'recovered' })
  const nobleRecover = (): Uint8Array => secp256k1.recoverPublicKey(nobleSig, hash, { prehash: false })
  // Same shared x, same recovered key (compared by x), so the work compared is the same.
  deepStrictEqual(Buffer.from(secp256k1.getSharedSecret(key, otherPubSec1)).subarray(1), ecdh(otherPub, key))
  deepStrictEqual(recover(hash, ourSig), publicKeyOf(key))
  deepStrictEqual(Buffer.from(nobleRecover()).subarray(1, 33), publicKeyOf(key).subarray(0, 32))
  return [
    ...(await compare('secp256k1 ECDH', () => ecdh(otherPub, key), { '@noble/curves': () => secp256k1.getSharedSecret(key, otherPubSec1) })),
    ...(await compare('secp256k1 sign (recoverable)', () => sign(hash, key), { '@noble/curves': () => secp256k1.sign(hash, key, { prehash: false, format: 'recovered' }) })),
    ...(await compare('secp256k1 recover', () => recover(hash, ourSig), { '@noble/curves': nobleRecover })),
  ]
}

/** Runs the primitives part; returns its table rows. */
export async function runPrimitives(): Promise<Row[]> {
  return [...(await keccakRows()), ...(await aesRows()), ...(await snappyRows()), ...(await secpRows())]
}
