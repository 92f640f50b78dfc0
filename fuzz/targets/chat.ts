/**
 * chat/2's signed envelopes, as a node validates them: `decodeEnvelope` on any envelope,
 * then `openDirect` on a direct one. A mutated envelope almost always fails its signature,
 * so envelopes are also rebuilt from mutated fields `[kind, origin, timestamp, body]` and
 * signed afresh by the origin as message.ts documents (keccak256 of the RLP of the signing
 * domain followed by the fields), and sealed bodies are built from mutated plaintexts under
 * a valid ECIES seal to the recipient.
 * @module
 */
import fc from 'fast-check'
import { RLP } from '@ethereumjs/rlp'
import { keccak256, sign } from '../../lib/crypto/index.js'
import { eciesDecrypt, eciesEncrypt } from '../../lib/rlpx/ecies.js'
import { ChatKind, decodeEnvelope, openDirect, type DirectEnvelope } from '../../protocols/chat/index.js'
import { SIGNING_DOMAIN } from '../../protocols/chat/message.js'
import { floodnetDefaults } from '../../protocols/floodnet/index.js'
import type { Target } from '../harness.js'
import { listContent, mutate, networkBytes, rlpHeader } from '../inputs.js'
import { broadcastSeeds, directSeeds, keys } from '../seeds.js'

/** An envelope as received, or a sealed direct-message body. */
export type ChatInput = { envelope: Uint8Array } | { sealed: Uint8Array }

/** The signed fields of an envelope: its list without the signature, re-encoded. */
function unsigned(envelope: Uint8Array): Uint8Array {
  const content = listContent(envelope)!
  const fields = content.subarray(0, content.length - 67)
  return Buffer.concat([rlpHeader(fields.length, true), fields])
}

const domain = RLP.encode(SIGNING_DOMAIN)

/** Appends the origin's signature over the domain and the list `fields`, as an author does. */
function signAsOrigin(fields: Uint8Array): Uint8Array {
  const content = listContent(fields) ?? fields
  const signature = sign(keccak256(Buffer.concat([rlpHeader(domain.length + content.length, true), domain, content])), keys.a)
  return Buffer.concat([rlpHeader(content.length + 67, true), content, Uint8Array.of(0xb8, 65), signature])
}

function envelopes(seeds: Uint8Array[]): fc.Arbitrary<ChatInput> {
  const fields = seeds.map(unsigned)
  return fc
    .oneof(
      { weight: 2, arbitrary: networkBytes(seeds, floodnetDefaults.MAX_PAYLOAD) },
      { weight: 2, arbitrary: networkBytes(fields, floodnetDefaults.MAX_PAYLOAD).map(signAsOrigin) },
    )
    .map((envelope) => ({ envelope }))
}

const directOf = (seed: Uint8Array): DirectEnvelope => decodeEnvelope(seed) as DirectEnvelope
/** What every direct seed's sealed body decrypts to: the plaintext format of today's chat. */
const plaintexts = directSeeds.map((seed) => eciesDecrypt(keys.b, directOf(seed).sealed))
const sealedSeeds = directSeeds.map((seed) => directOf(seed).sealed)
const iv = fc.uint8Array({ minLength: 16, maxLength: 16 })

const sealedBodies: fc.Arbitrary<ChatInput> = fc
  .oneof(
    { weight: 3, arbitrary: fc.record({ text: networkBytes(plaintexts, 4096), iv }).map(({ text, iv }) => eciesEncrypt(keys.publicB, text, new Uint8Array(0), keys.ephemeralA, iv)) },
    { weight: 1, arbitrary: mutate(fc.constantFrom(...sealedSeeds), sealedSeeds) },
  )
  .map((sealed) => ({ sealed }))

/** The envelope a fuzzed sealed body is read in: a real direct message from A to B. */
const directEnvelope = directOf(directSeeds[0]!)

/** Validates a message as the recipient B does: decode it, and open it when it is direct. */
function receive(input: ChatInput): void {
  if ('sealed' in input) {
    openDirect({ ...directEnvelope, sealed: Buffer.from(input.sealed) }, keys.b)
    return
  }
  const envelope = decodeEnvelope(input.envelope)
  if (envelope.kind === ChatKind.Direct) openDirect(envelope, keys.b)
}

const bytes = (input: ChatInput): Uint8Array => ('sealed' in input ? input.sealed : input.envelope)

export const chatBroadcast: Target<ChatInput> = {
  name: 'chat-broadcast',
  decoder: 'decodeEnvelope',
  arbitrary: envelopes(broadcastSeeds),
  run: receive,
  bytes,
  valid: [...broadcastSeeds, signAsOrigin(unsigned(broadcastSeeds[0]!))].map((envelope) => ({ envelope })),
}

export const chatDirect: Target<ChatInput> = {
  name: 'chat-direct',
  decoder: 'decodeEnvelope, openDirect',
  arbitrary: fc.oneof(envelopes(directSeeds), sealedBodies),
  run: receive,
  bytes,
  valid: [...directSeeds, signAsOrigin(unsigned(directSeeds[0]!))].map((envelope) => ({ envelope })),
}
