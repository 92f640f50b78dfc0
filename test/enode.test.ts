import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { publicKeyOf } from '../lib/crypto/index.js'
import { Enr } from '../lib/enr.js'
import { formatEnode, nodeId, parseEnode } from '../lib/enode.js'
import { InvalidEnodeError, InvalidOptionError } from '../lib/errors.js'
import { hex, vectors } from './support/vectors.js'

interface ValidCase {
  input: string
  pubkey: string
  ip: string | null
  tcp: number
  udp: number
  hostname: string | null
}
interface InvalidCase { input: string; error_contains: string }

const valid: ValidCase[] = vectors.enode_urls_valid.cases
const invalid: InvalidCase[] = vectors.node_urls_invalid.cases
const KEY = valid[0]!.pubkey

/** geth's error text → the phrase ours must contain (record errors keep geth's wording). */
const OUR_PHRASE: Record<string, string> = {
  EOF: 'EOF',
  'illegal base64 data at input byte 0': 'illegal base64 data',
  'invalid signature on node record': 'invalid signature on node record',
  "missing 'enr:' prefix for base64-encoded record": "missing 'enode://' or 'enr:' prefix",
  'invalid port': 'invalid port',
  'invalid discport in query': 'invalid discport in query',
  'invalid public key (wrong length, want 128 hex chars)': 'invalid public key (wrong length, want 128 hex chars)',
}

/** Test names stay readable: long inputs (128-char keys) are elided in the middle. */
const label = (s: string): string => JSON.stringify(s.length > 60 ? `${s.slice(0, 30)}…${s.slice(-24)}` : s)

function throwsEnode(input: string, phrase: string): void {
  try {
    parseEnode(input)
  } catch (err) {
    assert.instance(err, InvalidEnodeError)
    assert.is((err as InvalidEnodeError).code, 'ERR_INVALID_ENODE')
    const message = (err as Error).message
    assert.ok(message.includes(phrase), `message ${JSON.stringify(message)} lacks ${JSON.stringify(phrase)}`)
    return
  }
  assert.unreachable(`parsed ${label(input)}`)
}

valid.forEach((c, i) => {
  test(`valid vector #${i} ${label(c.input)} parses to geth's fields`, () => {
    const e = parseEnode(c.input)
    assert.is(e.publicKey.toString('hex'), c.pubkey)
    assert.is(e.id, nodeId(hex(c.pubkey)))
    assert.is(e.host ?? null, c.ip ?? c.hostname)
    assert.is(e.tcpPort ?? 0, c.tcp)
    assert.is(e.udpPort ?? 0, c.udp)
  })

  test(`valid vector #${i} ${label(c.input)} round-trips to geth's String()`, () => {
    assert.is(formatEnode(parseEnode(c.input)), c.input)
  })
})

invalid.forEach((c, i) => {
  test(`invalid vector #${i} ${label(c.input)} is rejected (geth: ${c.error_contains})`, () => {
    const phrase = OUR_PHRASE[c.error_contains]
    assert.ok(phrase !== undefined, `no phrase mapped for geth error ${JSON.stringify(c.error_contains)}`)
    throwsEnode(c.input, phrase!)
  })
})

test('the ENR text of parseNodeTests parses to its key, address and record', () => {
  const t = vectors.enr_from_enode_url_test
  const e = parseEnode(t.valid_text)
  assert.equal(e.publicKey, publicKeyOf(hex(t.valid_private_key)))
  assert.is(e.id, nodeId(e.publicKey))
  assert.is(e.host, t.valid_fields.ip)
  assert.is(e.udpPort, t.valid_fields.udp)
  assert.is(e.tcpPort, undefined)
  assert.is(e.record?.seq, BigInt(t.valid_fields.seq))
  assert.is(formatEnode(e), `enode://${e.publicKey.toString('hex')}@127.0.0.1:0?discport=30303`)
})

test('an ENR with tcp and udp gives a dialable enode; one without ip is incomplete', () => {
  const key = hex(vectors.enr.private_key)
  const full = parseEnode(Enr.create(key, 3, { ip: '10.0.0.1', tcp: 30303, udp: 30301 }).toString())
  assert.is(formatEnode(full), `enode://${publicKeyOf(key).toString('hex')}@10.0.0.1:30303?discport=30301`)
  const v6 = parseEnode(Enr.create(key, 3, { ip6: '::1', tcp6: 7, udp6: 8 }).toString())
  assert.equal([v6.host, v6.tcpPort, v6.udpPort], ['::1', 7, 8])
  const bare = parseEnode(Enr.create(key, 3, {}).toString())
  assert.equal([bare.host, bare.tcpPort, bare.udpPort], [undefined, undefined, undefined])
  assert.is(formatEnode(bare), `enode://${publicKeyOf(key).toString('hex')}`)
})

test('node id of the node_id_v4 vector (TestEmptyNodeID)', () => {
  const pub = publicKeyOf(hex(vectors.node_id_v4.private_key))
  assert.is(nodeId(pub), vectors.node_id_v4.node_id)
  assert.is(parseEnode(formatEnode({ publicKey: pub })).id, vectors.node_id_v4.node_id)
})

test('formatEnode puts IPv6 in brackets and adds discport only when udp differs', () => {
  const publicKey = hex(KEY)
  assert.is(formatEnode({ publicKey, host: '::1', tcpPort: 30303 }), `enode://${KEY}@[::1]:30303`)
  assert.is(formatEnode({ publicKey, host: '::1', tcpPort: 1, udpPort: 1 }), `enode://${KEY}@[::1]:1`)
  assert.is(
    formatEnode({ publicKey, host: '10.0.0.1', tcpPort: 30303, udpPort: 30301 }),
    `enode://${KEY}@10.0.0.1:30303?discport=30301`,
  )
  assert.is(formatEnode({ publicKey, host: 'fe80::1', tcpPort: 1, udpPort: 2 }), `enode://${KEY}@[fe80::1]:1?discport=2`)
  const dns = formatEnode({ publicKey, host: 'boot.example.org', tcpPort: 30303 })
  assert.is(dns, `enode://${KEY}@boot.example.org:30303`)
})

test('IPs are canonicalised as geth prints them', () => {
  assert.is(parseEnode(`enode://${KEY}@[2001:0DB8:0:0:0:0:0:1]:1`).host, '2001:db8::1')
  assert.is(parseEnode(`enode://${KEY}@[::ffff:127.0.0.1]:1`).host, '127.0.0.1')
  const mapped = formatEnode({ publicKey: hex(KEY), host: '::ffff:7f00:1', tcpPort: 1 })
  assert.is(mapped, `enode://${KEY}@127.0.0.1:1`)
})

test('parse accepts what geth accepts around the edges', () => {
  const upper = parseEnode(`enode://${KEY.toUpperCase()}@1.2.3.4:0030303?discport=&other=x`)
  assert.is(upper.publicKey.toString('hex'), KEY)
  assert.is(upper.tcpPort, 30303)
  assert.is(upper.udpPort, 30303)
  assert.is(parseEnode(`enode://${KEY}@1.2.3.4:1?discport=2&discport=3`).udpPort, 2)
  assert.is(parseEnode(`enode://${KEY}@localhost:1`).host, 'localhost')
})

const rejects: Array<[string, string]> = [
  [`ENODE://${KEY}`, "missing 'enode://' or 'enr:' prefix"],
  [`enode://`, 'missing public key'],
  [`enode://zz${KEY.slice(2)}`, 'invalid public key (not hexadecimal)'],
  [`enode://${'0'.repeat(128)}@1.2.3.4:1`, 'invalid public key (not a point on secp256k1)'],
  [`enode://${KEY}@1.2.3.4`, "invalid port: missing ':port'"],
  [`enode://${KEY}@1.2.3.4:65536`, 'invalid port "65536"'],
  [`enode://${KEY}@1.2.3.4:-1`, 'invalid port "-1"'],
  [`enode://${KEY}@1.2.3.4:1?discport=65536`, 'invalid discport in query: "65536"'],
  [`enode://${KEY}@::1:30303`, 'IPv6 host must be in brackets'],
  [`enode://${KEY}@[::1:30303`, "unterminated '['"],
  [`enode://${KEY}@[1.2.3.4]:1`, 'invalid IPv6 address "1.2.3.4" in brackets'],
  [`enode://${KEY}@[fe80::1%25eth0]:1`, 'IPv6 zone'],
  [`enode://${KEY}@300.1.1.1:1`, 'invalid IPv4 address "300.1.1.1"'],
  [`enode://${KEY}@bad_host!:1`, 'invalid host "bad_host!"'],
  [`enode://${KEY}@:1`, 'missing host before the port'],
  [`enode://${KEY}?discport=1`, "missing '@host:port'"],
  [`enode://${KEY}@1.2.3.4:1/path`, 'enode URLs have no path or fragment'],
  [` enode://${KEY}`, 'leading or trailing whitespace'],
]
for (const [input, phrase] of rejects) {
  test(`rejects ${label(input)} saying ${JSON.stringify(phrase)}`, () => throwsEnode(input, phrase))
}

const badOption = (option: string) => (e: unknown): boolean =>
  e instanceof InvalidOptionError && e.message.includes(`"${option}"`)

test('formatEnode and nodeId validate their inputs with InvalidOptionError', () => {
  const publicKey = hex(KEY)
  assert.throws(() => formatEnode({ publicKey: publicKey.subarray(1) }), badOption('publicKey'))
  assert.throws(() => formatEnode({ publicKey, host: '1.2.3.4' }), badOption('tcpPort'))
  assert.throws(() => formatEnode({ publicKey, host: '1.2.3.4', tcpPort: 70000 }), badOption('tcpPort'))
  assert.throws(() => formatEnode({ publicKey, host: '1.2.3.4', tcpPort: 1, udpPort: 1.5 }), badOption('udpPort'))
  assert.throws(() => formatEnode({ publicKey, host: '[::1]', tcpPort: 1 }), badOption('host'))
  assert.throws(() => nodeId(new Uint8Array(65)), badOption('publicKey'))
})

test.run()
