import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RLP } from '@ethereumjs/rlp'
import { compressPublicKey, keccak256, publicKeyOf, sign } from '../lib/crypto/index.js'
import { Enr, ENR_MAX_SIZE, InvalidEnrError } from '../lib/enr.js'
import type { RlpItem } from '../lib/message.js'
import { hex, vectors } from './support/vectors.js'

const v = vectors.enr
const KEY = hex(v.private_key)

/** Signs arbitrary content [seq, k, v, …] as given, so a test breaks exactly one rule. */
function signedRaw(content: RlpItem[], key = KEY): Uint8Array {
  const sig = sign(keccak256(RLP.encode(content)), key).subarray(0, 64)
  return RLP.encode([sig, ...content])
}

const b = (s: string): Buffer => Buffer.from(s)
const idV4 = (): RlpItem[] => [b('id'), b('v4')]
const secpEntry = (): RlpItem[] => [b('secp256k1'), compressPublicKey(publicKeyOf(KEY))]

function refuses(fn: () => unknown, phrase: string): void {
  try {
    fn()
  } catch (err) {
    assert.instance(err, InvalidEnrError)
    assert.is((err as InvalidEnrError).code, 'ERR_INVALID_ENR')
    assert.ok((err as Error).message.includes(phrase), `"${(err as Error).message}" lacks "${phrase}"`)
    return
  }
  assert.unreachable('accepted')
}

test('enr.md vector: text decodes to its seq, ip, udp, key and node id', () => {
  const e = Enr.parse(v.text)
  assert.is(e.seq, 1n)
  assert.is(e.ip, '127.0.0.1')
  assert.is(e.udp, 30303)
  assert.is(e.tcp, undefined)
  assert.is(e.id, v.node_id)
  assert.is(e.signature.toString('hex'), v.signature_hex)
  assert.is(compressPublicKey(e.publicKey).toString('hex'), v.secp256k1_compressed_hex)
  assert.is(e.encode().toString('hex'), v.rlp_hex)
  assert.is(e.encode().length, v.rlp_length_bytes)
  assert.equal(e.keys(), ['id', 'ip', 'secp256k1', 'udp'])
})

test('enr.md vector: signing the same fields with the same key gives the same bytes', () => {
  const e = Enr.create(KEY, v.seq, { ip: v.ip, udp: v.udp })
  assert.is(e.encode().toString('hex'), v.rlp_hex)
  assert.is(e.toString(), v.text)
})

test('parseNodeTests record: seq 99, 127.0.0.1, udp 30303, signed by its key', () => {
  const t = vectors.enr_from_enode_url_test
  const e = Enr.parse(t.valid_text)
  assert.is(e.seq, BigInt(t.valid_fields.seq))
  assert.is(e.ip, t.valid_fields.ip)
  assert.is(e.udp, t.valid_fields.udp)
  assert.equal(e.publicKey, publicKeyOf(hex(t.valid_private_key)))
})

test('parseNodeTests record with a bad signature is refused as geth refuses it', () => {
  refuses(() => Enr.parse(vectors.enr_from_enode_url_test.invalid_signature_text), vectors.enr_from_enode_url_test.invalid_signature_error)
})

test('text form: prefix, empty body and bad base64 are refused', () => {
  refuses(() => Enr.parse(''), "missing 'enr:' prefix")
  refuses(() => Enr.parse('enode://x'), "missing 'enr:' prefix")
  refuses(() => Enr.parse('enr:'), 'EOF')
  refuses(() => Enr.parse('enr:x'), 'illegal base64')
  refuses(() => Enr.parse(`${v.text}=`), 'illegal base64')
  refuses(() => Enr.parse(v.text.replace('-', '+')), 'illegal base64')
})

test('a round trip keeps every field, IPv6 and extra entries included', () => {
  const e = Enr.create(KEY, 7, { ip: '10.1.2.3', udp: 30301, tcp: 30303, ip6: '2001:db8::1', udp6: 1, tcp6: 65535, extra: { eth: [[b('x')]] } })
  const d = Enr.parse(e.toString())
  assert.is(d.seq, 7n)
  assert.is(d.ip, '10.1.2.3')
  assert.is(d.udp, 30301)
  assert.is(d.tcp, 30303)
  assert.is(d.ip6, '2001:db8::1')
  assert.is(d.udp6, 1)
  assert.is(d.tcp6, 65535)
  assert.equal(d.get('eth'), [[b('x')]])
  assert.equal(d.keys(), ['eth', 'id', 'ip', 'ip6', 'secp256k1', 'tcp', 'tcp6', 'udp', 'udp6'])
  assert.is(d.id, keccak256(publicKeyOf(KEY)).toString('hex'))
})

test('seq up to 2^64-1 round-trips; beyond is refused', () => {
  const max = (1n << 64n) - 1n
  assert.is(Enr.decode(Enr.create(KEY, max, {}).encode()).seq, max)
  refuses(() => Enr.create(KEY, 1n << 64n, {}), 'uint64')
  refuses(() => Enr.decode(signedRaw([Buffer.alloc(9, 1), ...idV4(), ...secpEntry()])), '64 bits')
})

test('a record of exactly 300 bytes is accepted, 301 refused (TestRecordTooBig)', () => {
  const pad = (n: number): Uint8Array => signedRaw([b(''), ...idV4(), ...secpEntry(), b('z'), Buffer.alloc(n, 0x61)])
  let n = 1
  while (pad(n).length < ENR_MAX_SIZE) n++
  assert.is(pad(n).length, ENR_MAX_SIZE)
  assert.is(Enr.decode(pad(n)).encode().length, ENR_MAX_SIZE)
  assert.is(pad(n + 1).length, ENR_MAX_SIZE + 1)
  refuses(() => Enr.decode(pad(n + 1)), 'more than the 300')
  refuses(() => Enr.create(KEY, 1, { extra: { z: Buffer.alloc(n + 1, 0x61) } }), 'more than the 300')
})

test('unsorted and duplicate keys are refused even with a valid signature', () => {
  refuses(() => Enr.decode(signedRaw([b(''), ...secpEntry(), ...idV4()])), 'not sorted')
  refuses(() => Enr.decode(signedRaw([b(''), ...idV4(), ...idV4(), ...secpEntry()])), 'duplicate key')
})

test('odd pairs, missing scheme, unknown scheme, bad key, wrong signer are refused', () => {
  refuses(() => Enr.decode(signedRaw([b(''), ...idV4(), b('secp256k1')])), 'key without a value')
  refuses(() => Enr.decode(signedRaw([b(''), ...secpEntry()])), 'no identity scheme')
  refuses(() => Enr.decode(signedRaw([b(''), b('id'), b('v5'), ...secpEntry()])), 'unknown identity scheme')
  refuses(() => Enr.decode(signedRaw([b(''), ...idV4(), b('secp256k1'), Buffer.alloc(33, 5)])), 'not a point')
  refuses(() => Enr.decode(signedRaw([b(''), ...idV4(), b('secp256k1'), Buffer.alloc(32, 2)])), '33-byte')
  const other = hex(vectors.enr_from_enode_url_test.valid_private_key)
  refuses(() => Enr.decode(signedRaw([b(''), ...idV4(), ...secpEntry()], other)), 'invalid signature')
})

test('malformed RLP: not a list, trailing bytes, non-canonical seq, list keys', () => {
  refuses(() => Enr.decode(RLP.encode(b('abc'))), 'must be an RLP list')
  const good = Enr.create(KEY, 1, {}).encode()
  refuses(() => Enr.decode(Buffer.concat([good, Buffer.from([0])])), 'not valid RLP')
  refuses(() => Enr.decode(signedRaw([Buffer.from([0, 1]), ...idV4(), ...secpEntry()])), 'leading zero')
  refuses(() => Enr.decode(signedRaw([b(''), [b('id')], b('v4'), ...secpEntry()])), 'keys must be byte strings')
  refuses(() => Enr.decode(RLP.encode([b('sig')])), 'no signature and seq')
})

test('malformed entry values read as absent instead of throwing', () => {
  const e = Enr.decode(signedRaw([b(''), ...idV4(), b('ip'), Buffer.alloc(3), ...secpEntry(), b('udp'), Buffer.from([0, 1])]))
  assert.is(e.ip, undefined)
  assert.is(e.udp, undefined)
})

test.run()
