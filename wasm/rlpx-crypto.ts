/**
 * The RLPx frame primitives that run per message, compiled to WebAssembly (AssemblyScript;
 * `npm run build:wasm`): keccak-f[1600] sponges, single-block AES-256, the frame MAC steps
 * built from both, and keystream XOR. Sponge states, round keys and keystream live in this
 * module's memory, so a MAC peek is a copy and a permutation with no allocation and no call
 * across the JS boundary per step.
 *
 * Nothing here allocates: lib/crypto/wasm.ts lays out memory above `__heap_base` and
 * passes pointers. Constant-time: no branch and no memory address depends on secret data
 * (keys, MAC states, keystream, plaintext); the AES S-box is 16 shuffles of
 * register-resident 16-byte tables (`i8x16.swizzle`, pshufb on x64, TBL on arm64) instead
 * of a lookup indexed by a secret.
 */

// ---- Keccak-256 sponge (rate 136 bytes). Layout of a sponge at `s`:
// [0, 200) state lanes, little-endian, lane (x, y) at 8·(x + 5y)
// [200, 204) bytes absorbed into the current block (0..135)
// [204, 208) 1 while [208, 224) holds the peek of the current state (see macBodyFinish)

/** Bytes of one sponge. */
export const SPONGE_SIZE: i32 = 224
const RATE: usize = 136
const POS: usize = 200
const PEEK_VALID: usize = 204
const PEEK: usize = 208

const ROUND_CONSTANTS: usize = memory.data<u64>([
  0x0000000000000001,
  0x0000000000008082,
  0x800000000000808a,
  0x8000000080008000,
  0x000000000000808b,
  0x0000000080000001,
  0x8000000080008081,
  0x8000000000008009,
  0x000000000000008a,
  0x0000000000000088,
  0x0000000080008009,
  0x000000008000000a,
  0x000000008000808b,
  0x800000000000008b,
  0x8000000000008089,
  0x8000000000008003,
  0x8000000000008002,
  0x8000000000000080,
  0x000000000000800a,
  0x800000008000000a,
  0x8000000080008081,
  0x8000000000008080,
  0x0000000080000001,
  0x8000000080008008
])

/** keccak-f[1600] on the 200-byte state at `s`: 24 rounds on 25 lanes held in locals. */
export function keccakF(s: usize): void {
  let a00 = load<u64>(s, 0)
  let a10 = load<u64>(s, 8)
  let a20 = load<u64>(s, 16)
  let a30 = load<u64>(s, 24)
  let a40 = load<u64>(s, 32)
  let a01 = load<u64>(s, 40)
  let a11 = load<u64>(s, 48)
  let a21 = load<u64>(s, 56)
  let a31 = load<u64>(s, 64)
  let a41 = load<u64>(s, 72)
  let a02 = load<u64>(s, 80)
  let a12 = load<u64>(s, 88)
  let a22 = load<u64>(s, 96)
  let a32 = load<u64>(s, 104)
  let a42 = load<u64>(s, 112)
  let a03 = load<u64>(s, 120)
  let a13 = load<u64>(s, 128)
  let a23 = load<u64>(s, 136)
  let a33 = load<u64>(s, 144)
  let a43 = load<u64>(s, 152)
  let a04 = load<u64>(s, 160)
  let a14 = load<u64>(s, 168)
  let a24 = load<u64>(s, 176)
  let a34 = load<u64>(s, 184)
  let a44 = load<u64>(s, 192)
  for (let round: usize = 0; round < 24; round++) {
    const c0 = a00 ^ a01 ^ a02 ^ a03 ^ a04
    const c1 = a10 ^ a11 ^ a12 ^ a13 ^ a14
    const c2 = a20 ^ a21 ^ a22 ^ a23 ^ a24
    const c3 = a30 ^ a31 ^ a32 ^ a33 ^ a34
    const c4 = a40 ^ a41 ^ a42 ^ a43 ^ a44
    const d0 = c4 ^ rotl<u64>(c1, 1)
    const d1 = c0 ^ rotl<u64>(c2, 1)
    const d2 = c1 ^ rotl<u64>(c3, 1)
    const d3 = c2 ^ rotl<u64>(c4, 1)
    const d4 = c3 ^ rotl<u64>(c0, 1)
    const b00 = (a00 ^ d0)
    const b10 = rotl<u64>(a11 ^ d1, 44)
    const b20 = rotl<u64>(a22 ^ d2, 43)
    const b30 = rotl<u64>(a33 ^ d3, 21)
    const b40 = rotl<u64>(a44 ^ d4, 14)
    const b01 = rotl<u64>(a30 ^ d3, 28)
    const b11 = rotl<u64>(a41 ^ d4, 20)
    const b21 = rotl<u64>(a02 ^ d0, 3)
    const b31 = rotl<u64>(a13 ^ d1, 45)
    const b41 = rotl<u64>(a24 ^ d2, 61)
    const b02 = rotl<u64>(a10 ^ d1, 1)
    const b12 = rotl<u64>(a21 ^ d2, 6)
    const b22 = rotl<u64>(a32 ^ d3, 25)
    const b32 = rotl<u64>(a43 ^ d4, 8)
    const b42 = rotl<u64>(a04 ^ d0, 18)
    const b03 = rotl<u64>(a40 ^ d4, 27)
    const b13 = rotl<u64>(a01 ^ d0, 36)
    const b23 = rotl<u64>(a12 ^ d1, 10)
    const b33 = rotl<u64>(a23 ^ d2, 15)
    const b43 = rotl<u64>(a34 ^ d3, 56)
    const b04 = rotl<u64>(a20 ^ d2, 62)
    const b14 = rotl<u64>(a31 ^ d3, 55)
    const b24 = rotl<u64>(a42 ^ d4, 39)
    const b34 = rotl<u64>(a03 ^ d0, 41)
    const b44 = rotl<u64>(a14 ^ d1, 2)
    a00 = b00 ^ (~b10 & b20)
    a10 = b10 ^ (~b20 & b30)
    a20 = b20 ^ (~b30 & b40)
    a30 = b30 ^ (~b40 & b00)
    a40 = b40 ^ (~b00 & b10)
    a01 = b01 ^ (~b11 & b21)
    a11 = b11 ^ (~b21 & b31)
    a21 = b21 ^ (~b31 & b41)
    a31 = b31 ^ (~b41 & b01)
    a41 = b41 ^ (~b01 & b11)
    a02 = b02 ^ (~b12 & b22)
    a12 = b12 ^ (~b22 & b32)
    a22 = b22 ^ (~b32 & b42)
    a32 = b32 ^ (~b42 & b02)
    a42 = b42 ^ (~b02 & b12)
    a03 = b03 ^ (~b13 & b23)
    a13 = b13 ^ (~b23 & b33)
    a23 = b23 ^ (~b33 & b43)
    a33 = b33 ^ (~b43 & b03)
    a43 = b43 ^ (~b03 & b13)
    a04 = b04 ^ (~b14 & b24)
    a14 = b14 ^ (~b24 & b34)
    a24 = b24 ^ (~b34 & b44)
    a34 = b34 ^ (~b44 & b04)
    a44 = b44 ^ (~b04 & b14)
    a00 ^= load<u64>(ROUND_CONSTANTS + (round << 3))
  }
  store<u64>(s, a00, 0)
  store<u64>(s, a10, 8)
  store<u64>(s, a20, 16)
  store<u64>(s, a30, 24)
  store<u64>(s, a40, 32)
  store<u64>(s, a01, 40)
  store<u64>(s, a11, 48)
  store<u64>(s, a21, 56)
  store<u64>(s, a31, 64)
  store<u64>(s, a41, 72)
  store<u64>(s, a02, 80)
  store<u64>(s, a12, 88)
  store<u64>(s, a22, 96)
  store<u64>(s, a32, 104)
  store<u64>(s, a42, 112)
  store<u64>(s, a03, 120)
  store<u64>(s, a13, 128)
  store<u64>(s, a23, 136)
  store<u64>(s, a33, 144)
  store<u64>(s, a43, 152)
  store<u64>(s, a04, 160)
  store<u64>(s, a14, 168)
  store<u64>(s, a24, 176)
  store<u64>(s, a34, 184)
  store<u64>(s, a44, 192)
}

/** Where {@link keccakPeek} finalises a copy of a sponge. */
const PEEK_STATE: usize = memory.data(200, 16)

/** Absorbs `len` bytes at `data` into the sponge at `s`. */
export function keccakAbsorb(s: usize, data: usize, len: usize): void {
  store<u32>(s + PEEK_VALID, 0)
  let pos = <usize>load<u32>(s + POS)
  while (len > 0) {
    if (pos == 0 && len >= RATE) {
      for (let i: usize = 0; i < RATE; i += 8) store<u64>(s + i, load<u64>(s + i) ^ load<u64>(data + i))
      keccakF(s)
      data += RATE
      len -= RATE
      continue
    }
    const n = min(RATE - pos, len)
    let i: usize = 0
    for (; i + 8 <= n; i += 8) store<u64>(s + pos + i, load<u64>(s + pos + i) ^ load<u64>(data + i))
    for (; i < n; i++) store<u8>(s + pos + i, load<u8>(s + pos + i) ^ load<u8>(data + i))
    pos += n
    data += n
    len -= n
    if (pos == RATE) {
      keccakF(s)
      pos = 0
    }
  }
  store<u32>(s + POS, <u32>pos)
}

/** Writes the first `len` (≤ 136) bytes of the digest of the sponge at `s` to `out`; the sponge stays open. */
export function keccakPeek(s: usize, out: usize, len: usize): void {
  memory.copy(PEEK_STATE, s, 200)
  const pos = <usize>load<u32>(s + POS)
  store<u8>(PEEK_STATE + pos, load<u8>(PEEK_STATE + pos) ^ 0x01)
  store<u8>(PEEK_STATE + RATE - 1, load<u8>(PEEK_STATE + RATE - 1) ^ 0x80)
  keccakF(PEEK_STATE)
  memory.copy(out, PEEK_STATE, len)
}

// ---- AES-256, encryption of single blocks. Round keys: 15 × 16 bytes.

/** Bytes of one expanded AES-256 key. */
export const AES_KEY_SIZE: i32 = 240

const SBOX: usize = memory.data<u8>([
  0x63, 0x7c, 0x77, 0x7b, 0xf2, 0x6b, 0x6f, 0xc5, 0x30, 0x01, 0x67, 0x2b, 0xfe, 0xd7, 0xab, 0x76,
  0xca, 0x82, 0xc9, 0x7d, 0xfa, 0x59, 0x47, 0xf0, 0xad, 0xd4, 0xa2, 0xaf, 0x9c, 0xa4, 0x72, 0xc0,
  0xb7, 0xfd, 0x93, 0x26, 0x36, 0x3f, 0xf7, 0xcc, 0x34, 0xa5, 0xe5, 0xf1, 0x71, 0xd8, 0x31, 0x15,
  0x04, 0xc7, 0x23, 0xc3, 0x18, 0x96, 0x05, 0x9a, 0x07, 0x12, 0x80, 0xe2, 0xeb, 0x27, 0xb2, 0x75,
  0x09, 0x83, 0x2c, 0x1a, 0x1b, 0x6e, 0x5a, 0xa0, 0x52, 0x3b, 0xd6, 0xb3, 0x29, 0xe3, 0x2f, 0x84,
  0x53, 0xd1, 0x00, 0xed, 0x20, 0xfc, 0xb1, 0x5b, 0x6a, 0xcb, 0xbe, 0x39, 0x4a, 0x4c, 0x58, 0xcf,
  0xd0, 0xef, 0xaa, 0xfb, 0x43, 0x4d, 0x33, 0x85, 0x45, 0xf9, 0x02, 0x7f, 0x50, 0x3c, 0x9f, 0xa8,
  0x51, 0xa3, 0x40, 0x8f, 0x92, 0x9d, 0x38, 0xf5, 0xbc, 0xb6, 0xda, 0x21, 0x10, 0xff, 0xf3, 0xd2,
  0xcd, 0x0c, 0x13, 0xec, 0x5f, 0x97, 0x44, 0x17, 0xc4, 0xa7, 0x7e, 0x3d, 0x64, 0x5d, 0x19, 0x73,
  0x60, 0x81, 0x4f, 0xdc, 0x22, 0x2a, 0x90, 0x88, 0x46, 0xee, 0xb8, 0x14, 0xde, 0x5e, 0x0b, 0xdb,
  0xe0, 0x32, 0x3a, 0x0a, 0x49, 0x06, 0x24, 0x5c, 0xc2, 0xd3, 0xac, 0x62, 0x91, 0x95, 0xe4, 0x79,
  0xe7, 0xc8, 0x37, 0x6d, 0x8d, 0xd5, 0x4e, 0xa9, 0x6c, 0x56, 0xf4, 0xea, 0x65, 0x7a, 0xae, 0x08,
  0xba, 0x78, 0x25, 0x2e, 0x1c, 0xa6, 0xb4, 0xc6, 0xe8, 0xdd, 0x74, 0x1f, 0x4b, 0xbd, 0x8b, 0x8a,
  0x70, 0x3e, 0xb5, 0x66, 0x48, 0x03, 0xf6, 0x0e, 0x61, 0x35, 0x57, 0xb9, 0x86, 0xc1, 0x1d, 0x9e,
  0xe1, 0xf8, 0x98, 0x11, 0x69, 0xd9, 0x8e, 0x94, 0x9b, 0x1e, 0x87, 0xe9, 0xce, 0x55, 0x28, 0xdf,
  0x8c, 0xa1, 0x89, 0x0d, 0xbf, 0xe6, 0x42, 0x68, 0x41, 0x99, 0x2d, 0x0f, 0xb0, 0x54, 0xbb, 0x16
], 16)

/**
 * SubBytes on 16 bytes at once: table t of the 16 16-byte slices of the S-box is looked up
 * at x − 16t, which is in 0..15 exactly for the bytes whose high nibble is t; a swizzle
 * index ≥ 16 yields 0, so OR-ing the 16 lookups gives S(x) in every byte.
 */
@inline function subBytes(x: v128): v128 {
  let out = i8x16.swizzle(v128.load(SBOX), x)
  const sixteen = i8x16.splat(16)
  for (let t: usize = 1; t < 16; t++) {
    x = i8x16.sub(x, sixteen)
    out = v128.or(out, i8x16.swizzle(v128.load(SBOX + (t << 4)), x))
  }
  return out
}

/** ShiftRows: the state is column-major, byte 4c + r is row r of column c. */
@inline function shiftRows(x: v128): v128 {
  return i8x16.shuffle(x, x, 0, 5, 10, 15, 4, 9, 14, 3, 8, 13, 2, 7, 12, 1, 6, 11)
}

/** Multiplication by 2 in GF(2^8) of every byte. */
@inline function xtime(x: v128): v128 {
  return v128.xor(i8x16.shl(x, 1), v128.and(i8x16.shr_s(x, 7), i8x16.splat(0x1b)))
}

/** MixColumns: row r becomes 2·a_r ⊕ 3·a_(r+1) ⊕ a_(r+2) ⊕ a_(r+3) = 2·(a_r ⊕ a_(r+1)) ⊕ a_(r+1) ⊕ a_(r+2) ⊕ a_(r+3). */
@inline function mixColumns(x: v128): v128 {
  const r1 = i8x16.shuffle(x, x, 1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12)
  const r2 = i8x16.shuffle(x, x, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13)
  const r3 = i8x16.shuffle(x, x, 3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14)
  return v128.xor(v128.xor(xtime(v128.xor(x, r1)), r1), v128.xor(r2, r3))
}

@inline function subWord(w: u32): u32 {
  return i32x4.extract_lane(subBytes(i32x4.splat(w)), 0)
}

/** Expands the 32-byte key at `key` into the round keys at `rk` (FIPS 197 §5.2). */
export function aesExpandKey(key: usize, rk: usize): void {
  memory.copy(rk, key, 32)
  let rcon: u32 = 1
  for (let i: usize = 8; i < 60; i++) {
    let w = load<u32>(rk + ((i - 1) << 2))
    if (i % 8 == 0) {
      // RotWord on a little-endian load is a rotation right by one byte.
      w = subWord(rotr<u32>(w, 8)) ^ rcon
      rcon <<= 1 // AES-256 needs only rcon 1 … 0x40: no reduction
    } else if (i % 8 == 4) {
      w = subWord(w)
    }
    store<u32>(rk + (i << 2), load<u32>(rk + ((i - 8) << 2)) ^ w)
  }
}

@inline function encrypt(rk: usize, block: v128): v128 {
  let x = v128.xor(block, v128.load(rk))
  for (let r: usize = 1; r < 14; r++) x = v128.xor(mixColumns(shiftRows(subBytes(x))), v128.load(rk + (r << 4)))
  return v128.xor(shiftRows(subBytes(x)), v128.load(rk + 224))
}

/** AES-256 of the block at `src` into `dst` (which may be `src`). */
export function aesEncrypt(rk: usize, src: usize, dst: usize): void {
  v128.store(dst, encrypt(rk, v128.load(src)))
}

// ---- RLPx frame MAC (rlpx.md, "Frame MAC"): the sponges are egress-mac / ingress-mac.

/**
 * header-mac of the 16 header-ciphertext bytes at `header`, written to `out`: seed =
 * AES(peek[:16]) ⊕ header-ciphertext; absorb seed; the MAC is peek[:16].
 */
export function macHeader(s: usize, rk: usize, header: usize, out: usize): void {
  if (load<u32>(s + PEEK_VALID) == 0) keccakPeek(s, s + PEEK, 16)
  v128.store(out, v128.xor(encrypt(rk, v128.load(s + PEEK)), v128.load(header)))
  keccakAbsorb(s, out, 16)
  keccakPeek(s, out, 16)
}

/**
 * frame-mac after the frame ciphertext has been absorbed: h = peek[:16]; seed = AES(h) ⊕ h;
 * absorb seed; the MAC is peek[:16], written to `out`. Nothing is absorbed between this MAC
 * and the next frame's header-mac, whose first peek is therefore this MAC: it is kept.
 */
export function macBodyFinish(s: usize, rk: usize, out: usize): void {
  keccakPeek(s, out, 16)
  const h = v128.load(out)
  v128.store(out, v128.xor(encrypt(rk, h), h))
  keccakAbsorb(s, out, 16)
  keccakPeek(s, out, 16)
  v128.store(s + PEEK, v128.load(out))
  store<u32>(s + PEEK_VALID, 1)
}

// ---- Whole small frames, each in one call. A frame laid out at `frame`: header (16) |
// header-mac (16) | frame-data padded to 16 | frame-mac (16), and `ks` the keystream for
// the header and then the frame-data.

/** Writes the 16-byte frame header for `size` bytes of frame-data at `at`: size (3 bytes, big-endian), header-data RLP [0, 0], zero padding. */
export function frameHeader(at: usize, size: u32): void {
  v128.store(at, i8x16.splat(0))
  store<u8>(at, <u8>(size >> 16))
  store<u8>(at, <u8>(size >> 8), 1)
  store<u8>(at, <u8>size, 2)
  store<u8>(at, 0xc2, 3)
  store<u8>(at, 0x80, 4)
  store<u8>(at, 0x80, 5)
}

/**
 * Seals a frame whose `size` bytes of frame-data are at `frame` + 32: writes the header and
 * the zero padding, encrypts both with the keystream, and writes both MACs.
 */
export function sealFrame(s: usize, rk: usize, ks: usize, frame: usize, size: u32): void {
  const padded = (<usize>size + 15) & ~15
  frameHeader(frame, size)
  memory.fill(frame + 32 + size, 0, padded - size)
  xorKeystream(ks, frame, 16)
  xorKeystream(ks + 16, frame + 32, padded)
  macHeader(s, rk, frame, frame + 16)
  keccakAbsorb(s, frame + 32, padded)
  macBodyFinish(s, rk, frame + 32 + padded)
}

/**
 * Checks the header-mac of the 32 received bytes at `frame` (writing 16 bytes at `frame` +
 * 32) and decrypts the header: its frame-data size, or −1 when the MAC is wrong.
 */
export function openHeader(s: usize, rk: usize, ks: usize, frame: usize): i32 {
  macHeader(s, rk, frame, frame + 32)
  if (equal16(frame + 16, frame + 32) == 0) return -1
  xorKeystream(ks, frame, 16)
  return (<i32>load<u8>(frame) << 16) | (<i32>load<u8>(frame, 1) << 8) | <i32>load<u8>(frame, 2)
}

/**
 * Checks the frame-mac of `padded` received bytes of frame-data at `body` (the MAC follows
 * them; 16 bytes after it are written) and decrypts them: 1, or 0 when the MAC is wrong.
 */
export function openBody(s: usize, rk: usize, ks: usize, body: usize, padded: usize): i32 {
  keccakAbsorb(s, body, padded)
  macBodyFinish(s, rk, body + padded + 16)
  if (equal16(body + padded, body + padded + 16) == 0) return 0
  xorKeystream(ks, body, padded)
  return 1
}

/** 1 when the 16 bytes at `a` and `b` are equal, else 0, in time independent of their contents. */
export function equal16(a: usize, b: usize): i32 {
  const d = v128.xor(v128.load(a), v128.load(b))
  const x = i64x2.extract_lane(d, 0) | i64x2.extract_lane(d, 1)
  // The top bit of x | −x is set exactly when x ≠ 0.
  return i32(((x | (0 - x)) >>> 63) ^ 1)
}

/** XORs `len` bytes at `data` with the keystream bytes at `ks` (CTR en- and decryption). */
export function xorKeystream(ks: usize, data: usize, len: usize): void {
  let i: usize = 0
  for (; i + 16 <= len; i += 16) v128.store(data + i, v128.xor(v128.load(data + i), v128.load(ks + i)))
  for (; i < len; i++) store<u8>(data + i, load<u8>(data + i) ^ load<u8>(ks + i))
}

/** Start of the memory that lib/crypto/wasm.ts lays out. */
export function heapBase(): usize {
  return __heap_base
}
