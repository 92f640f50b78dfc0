import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RLP } from '@ethereumjs/rlp'
import { concatKdf, ecdh, keccak256, type Keccak256, publicKeyOf } from '../lib/crypto/index.js'
import { FrameReader, FrameWriter } from '../lib/rlpx/frames.js'
import { deriveSecrets, Handshake, type SessionSecrets } from '../lib/rlpx/handshake.js'
import { hex, vectors } from './support/vectors.js'

const hs = vectors.rlpx_handshake
const keyA = hex(hs.static_key_a)
const keyB = hex(hs.static_key_b)
const packet = (label: string): Buffer => hex(hs.messages.find((m: { label: string }) => m.label === label).hex)

test('ECIES concat KDF matches go-ethereum TestKDF for every length', () => {
  for (const v of vectors.ecies.kdf.vectors) {
    assert.is(concatKdf(Buffer.from(vectors.ecies.kdf.z_ascii), v.length).toString('hex'), v.output_hex)
  }
})

test('ECDH x-coordinate matches TestSharedKeyStatic, from both sides', () => {
  const { priv1, priv2, shared_x_hex } = vectors.ecies.shared_key_static
  assert.is(ecdh(publicKeyOf(hex(priv2)), hex(priv1)).toString('hex'), shared_x_hex)
  assert.is(ecdh(publicKeyOf(hex(priv1)), hex(priv2)).toString('hex'), shared_x_hex)
})

test('public keys match TestSharedKeyPadding, including a key with a leading zero byte', () => {
  const v = vectors.ecies.shared_key_padding_keys
  assert.is(publicKeyOf(hex(v.priv0)).toString('hex'), v.pub0_x + v.pub0_y)
  assert.is(publicKeyOf(hex(v.priv1)).toString('hex'), v.pub1_x + v.pub1_y)
  assert.equal(ecdh(publicKeyOf(hex(v.priv1)), hex(v.priv0)), ecdh(publicKeyOf(hex(v.priv0)), hex(v.priv1)))
})

test('node id = keccak256(public key) (TestEmptyNodeID)', () => {
  assert.is(keccak256(publicKeyOf(hex(vectors.node_id_v4.private_key))).toString('hex'), vectors.node_id_v4.node_id)
})

for (const label of ['Auth1', 'Auth2']) {
  test(`recipient B decodes ${label} with its static key`, () => {
    const b = new Handshake({ privateKey: keyB })
    const data = packet(label)
    assert.is(b.readAuth(data), data.length)
    assert.is(b.format, label === 'Auth1' ? 'plain' : 'eip8')
    assert.is(b.remoteVersion, 4)
    assert.equal(b.remotePublicKey, publicKeyOf(keyA))
    assert.is(b.remoteNonce!.toString('hex'), hs.nonce_a)
    assert.equal(b.remoteEphemeralPublicKey, publicKeyOf(hex(hs.ephemeral_key_a)))
    assert.is(b.authSignature!.toString('hex'), hs.auth_signature.hex)
  })
}

for (const label of ['Ack1', 'Ack2']) {
  test(`initiator A decodes ${label} with its static key`, () => {
    const a = new Handshake({ privateKey: keyA, remotePublicKey: publicKeyOf(keyB) })
    const data = packet(label)
    assert.is(a.readAck(data), data.length)
    assert.is(a.remoteVersion, 4)
    assert.is(a.remoteNonce!.toString('hex'), hs.nonce_b)
    assert.equal(a.remoteEphemeralPublicKey, publicKeyOf(hex(hs.ephemeral_key_b)))
  })
}

test('our auth from the vector keys and nonce is read by B as the published one is', () => {
  const a = new Handshake({
    privateKey: keyA,
    remotePublicKey: publicKeyOf(keyB),
    ephemeralKey: hex(hs.ephemeral_key_a),
    nonce: hex(hs.nonce_a),
  })
  const b = new Handshake({ privateKey: keyB })
  const auth = a.createAuth()
  assert.is(b.readAuth(auth), auth.length)
  assert.equal(b.remoteEphemeralPublicKey, publicKeyOf(hex(hs.ephemeral_key_a)))
  assert.is(b.remoteNonce!.toString('hex'), hs.nonce_a)
})

test('recipient B derives the published aes-secret, mac-secret and ingress MAC of "foo"', () => {
  const want = hs.secrets_recipient_B_for_Auth2_Ack2
  const b = new Handshake({ privateKey: keyB })
  b.readAuth(packet('Auth2'))
  const secrets = deriveSecrets({
    initiator: false,
    ephemeralKey: hex(hs.ephemeral_key_b),
    remoteEphemeralPublicKey: b.remoteEphemeralPublicKey!,
    initiatorNonce: hex(hs.nonce_a),
    recipientNonce: hex(hs.nonce_b),
    authPacket: packet('Auth2'),
    ackPacket: packet('Ack2'),
    remotePublicKey: b.remotePublicKey!,
  })
  assert.is(secrets.aesSecret.toString('hex'), want.aes_secret)
  assert.is(secrets.macSecret.toString('hex'), want.mac_secret)
  assert.is(secrets.ingressMac.update(Buffer.from('foo')).digest().toString('hex'), want.ingress_mac_after_update_foo)
})

test('a full handshake between the vector keys gives both sides mirrored secrets', () => {
  const a = new Handshake({ privateKey: keyA, remotePublicKey: publicKeyOf(keyB) })
  const b = new Handshake({ privateKey: keyB })
  const auth = a.createAuth()
  assert.is(b.readAuth(auth), auth.length)
  const ack = b.createAck()
  assert.is(a.readAck(ack), ack.length)
  const sa = a.secrets()
  const sb = b.secrets()
  assert.equal(sa.aesSecret, sb.aesSecret)
  assert.equal(sa.egressMac.digest(), sb.ingressMac.digest())
  assert.equal(sa.ingressMac.digest(), sb.egressMac.digest())
})

test('an old-format auth is answered with an old-format ack', () => {
  const a = new Handshake({ privateKey: keyA, remotePublicKey: publicKeyOf(keyB) })
  const b = new Handshake({ privateKey: keyB })
  const auth = a.createAuth('plain')
  assert.is(auth.length, 307)
  assert.is(b.readAuth(auth), 307)
  assert.is(b.format, 'plain')
  const ack = b.createAck()
  assert.is(ack.length, 210)
  assert.is(a.readAck(ack), 210)
  assert.equal(a.secrets().egressMac.digest(), b.secrets().ingressMac.digest())
})

test('the 64-byte frame of TestFrameReadWrite, written and read back', () => {
  const v = vectors.rlpx_frame
  const ones = { update() { return this }, digest: (length = 32) => Buffer.alloc(length, 1), copy() { return this } }
  const secrets = (): SessionSecrets => ({
    remotePublicKey: Buffer.alloc(64),
    aesSecret: keccak256(Buffer.alloc(0)),
    macSecret: keccak256(Buffer.alloc(0)),
    egressMac: ones as unknown as Keccak256,
    ingressMac: ones as unknown as Keccak256,
  })
  assert.is(v.keccak256_empty_hex.hex, keccak256(Buffer.alloc(0)).toString('hex'))
  const payload = RLP.encode([1, 2, 3, 4])
  const frame = Buffer.concat(new FrameWriter(secrets()).encode([Buffer.from([v.msg_code]), payload]))
  assert.is(frame.toString('hex'), v.frame_hex)
  const reader = new FrameReader(secrets())
  reader.push(hex(v.frame_hex))
  assert.is(reader.next()!.toString('hex'), v.decrypted_frame_content_hex)
})

test.run()
