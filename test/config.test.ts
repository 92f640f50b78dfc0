// Server options: every bad option is refused at construction with an InvalidOptionError that
// names it, the documented defaults are the ones applied, and maxPeers splits into inbound
// and outbound slots by dialRatio.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { resolveOptions, type ServerOptions } from '../lib/config.js'
import { generatePrivateKey, publicKeyOf } from '../lib/crypto/index.js'
import { formatEnode } from '../lib/enode.js'
import { InvalidOptionError } from '../lib/errors.js'
import type { Protocol } from '../lib/protocol.js'
import { Server } from '../lib/server.js'

const key = generatePrivateKey()
const otherEnode = formatEnode({ publicKey: publicKeyOf(generatePrivateKey()), host: '127.0.0.1', tcpPort: 30303 })
const proto = (name: string, version = 1, length = 1): Protocol => ({ name, version, length, run() {} })

/** Asserts that `new Server(options)` throws an InvalidOptionError naming `option`. */
function refuses(options: Record<string, unknown>, option: string): void {
  let error: unknown
  try {
    new Server({ privateKey: key, listenAddr: null, ...options } as unknown as ServerOptions)
  } catch (err) {
    error = err
  }
  assert.instance(error, InvalidOptionError, `${JSON.stringify(options, replacer)} should be refused`)
  const err = error as InvalidOptionError
  assert.is(err.code, 'ERR_INVALID_OPTION')
  assert.ok(err.message.includes(`"${option}"`), `message should name "${option}": ${err.message}`)
}

const replacer = (_key: string, value: unknown): unknown => (value instanceof Uint8Array ? `<${value.length} bytes>` : value)

test('a privateKey of the wrong length, zero, above the curve order or not bytes is refused', () => {
  refuses({ privateKey: Buffer.alloc(31, 1) }, 'privateKey')
  refuses({ privateKey: Buffer.alloc(33, 1) }, 'privateKey')
  refuses({ privateKey: Buffer.alloc(32) }, 'privateKey')
  refuses({ privateKey: Buffer.alloc(32, 0xff) }, 'privateKey')
  refuses({ privateKey: key.toString('hex') }, 'privateKey')
  refuses({ privateKey: undefined }, 'privateKey')
})

test('peer limits must be integers in range: maxPeers -1, dialRatio 0, maxPendingPeers 0 are refused', () => {
  refuses({ maxPeers: -1 }, 'maxPeers')
  refuses({ maxPeers: 2.5 }, 'maxPeers')
  refuses({ maxPeers: '10' }, 'maxPeers')
  refuses({ dialRatio: 0 }, 'dialRatio')
  refuses({ maxPendingPeers: 0 }, 'maxPendingPeers')
})

test('timings, queue and message sizes must be positive integers in range', () => {
  refuses({ handshakeTimeout: 0 }, 'handshakeTimeout')
  refuses({ pingInterval: -5 }, 'pingInterval')
  refuses({ readTimeout: Infinity }, 'readTimeout')
  refuses({ dialTimeout: NaN }, 'dialTimeout')
  refuses({ readQueueSize: 0 }, 'readQueueSize')
  refuses({ maxMessageSize: 100 }, 'maxMessageSize')
  refuses({ maxMessageSize: 2 ** 24 }, 'maxMessageSize')
})

test('a name that would make our Hello larger than the 2 KiB peers accept is refused', () => {
  refuses({ name: 'x'.repeat(2100) }, 'name')
  assert.is(resolveOptions({ privateKey: key, name: 'x'.repeat(1900) }).name.length, 1900)
})

test('write bounds, netrestrict, clock, random and transport are checked', () => {
  refuses({ maxWriteBuffer: 1024 }, 'maxWriteBuffer')
  refuses({ maxMessageSize: 4096, maxWriteBuffer: 4096 + (1 << 20) - 1 }, 'maxWriteBuffer')
  refuses({ writeTimeout: 0 }, 'writeTimeout')
  refuses({ netrestrict: ['10.0.0.0'] }, 'netrestrict')
  refuses({ netrestrict: ['10.0.0.0/33'] }, 'netrestrict')
  refuses({ netrestrict: 'x' }, 'netrestrict')
  refuses({ clock: {} }, 'clock')
  refuses({ random: 1 }, 'random')
  refuses({ transport: {} }, 'transport')
  refuses({ acceptBacklog: -1 }, 'acceptBacklog')
  assert.is(resolveOptions({ privateKey: key, maxMessageSize: 4096 }).maxWriteBuffer, 32 * 1024 * 1024)
})

test('listenAddr must be host:port or null: "nonsense", a bare host, port 70000 and numbers are refused', () => {
  refuses({ listenAddr: 'nonsense' }, 'listenAddr')
  refuses({ listenAddr: '127.0.0.1' }, 'listenAddr')
  refuses({ listenAddr: '127.0.0.1:70000' }, 'listenAddr')
  refuses({ listenAddr: '::1:0' }, 'listenAddr')
  refuses({ listenAddr: 30303 }, 'listenAddr')
})

test('protocols with a bad name, version, length or run, or registered twice, are refused', () => {
  refuses({ protocols: [proto('')] }, 'protocols')
  refuses({ protocols: [proto('has space')] }, 'protocols')
  refuses({ protocols: [proto('x'.repeat(33))] }, 'protocols')
  refuses({ protocols: [proto('ok', -1)] }, 'protocols')
  refuses({ protocols: [proto('ok', 1, 0)] }, 'protocols')
  refuses({ protocols: [proto('ok', 1, 1.5)] }, 'protocols')
  refuses({ protocols: [{ name: 'norun', version: 1, length: 1 }] }, 'protocols')
  refuses({ protocols: [proto('dup', 1), proto('dup', 1, 4)] }, 'protocols')
  refuses({ protocols: 'eth' }, 'protocols')
})

test('one name at two versions is two protocols, not a duplicate', () => {
  new Server({ privateKey: key, listenAddr: null, protocols: [proto('foo', 1), proto('foo', 2)] })
})

test('bootnodes, staticNodes and trustedNodes with a bad enode URL are refused, naming the list', () => {
  refuses({ bootnodes: ['enode://nothex@127.0.0.1:30303'] }, 'bootnodes')
  refuses({ bootnodes: [otherEnode, 'http://example.com'] }, 'bootnodes')
  refuses({ bootnodes: [otherEnode.slice(0, otherEnode.indexOf('@'))] }, 'bootnodes') // no address to dial
  refuses({ staticNodes: ['enode://00@127.0.0.1:1'] }, 'staticNodes')
  refuses({ staticNodes: otherEnode }, 'staticNodes')
  refuses({ trustedNodes: ['not an id'] }, 'trustedNodes')
})

test('redialBackoff must be [min, max] with 0 < min <= max', () => {
  refuses({ redialBackoff: [0, 10] }, 'redialBackoff')
  refuses({ redialBackoff: [100, 10] }, 'redialBackoff')
  refuses({ redialBackoff: [100] }, 'redialBackoff')
  refuses({ redialBackoff: [100, NaN] }, 'redialBackoff')
  refuses({ redialBackoff: 1000 }, 'redialBackoff')
})

test('trustedNodes takes node ids and enode URLs, with or without an address', () => {
  const pub = publicKeyOf(generatePrivateKey())
  const resolved = resolveOptions({ privateKey: key, trustedNodes: [otherEnode, formatEnode({ publicKey: pub })] })
  assert.is(resolved.trustedIds.size, 2)
  const id = [...resolved.trustedIds][1]!
  assert.equal(resolveOptions({ privateKey: key, trustedNodes: [id.toUpperCase()] }).trustedIds, new Set([id]))
})

test('defaults are the documented ones', () => {
  const o = resolveOptions({ privateKey: key })
  assert.is(o.name, 'devp2p-ts')
  assert.equal(o.listen, { host: undefined, port: 30303 })
  assert.is(o.maxPeers, 25)
  assert.is(o.maxPendingPeers, 50)
  assert.is(o.dialRatio, 3)
  assert.equal(o.protocols, [])
  assert.equal(o.bootnodes, [])
  assert.equal(o.staticNodes, [])
  assert.is(o.trustedIds.size, 0)
  assert.is(o.handshakeTimeout, 5000)
  assert.is(o.pingInterval, 15000)
  assert.is(o.readTimeout, 30000)
  assert.is(o.dialTimeout, 15000)
  assert.equal(o.redialBackoff, [1000, 30000])
  assert.is(o.readQueueSize, 64)
  assert.is(o.maxMessageSize, 16_777_215)
  assert.is(o.maxWriteBuffer, 32 * 1024 * 1024)
  assert.is(o.writeTimeout, 20_000)
  assert.is(o.acceptBacklog, 256)
  assert.is(o.netrestrict, undefined)
})

test('listen addresses: all interfaces, IPv4, bracketed IPv6, and null for dial-only', () => {
  assert.equal(resolveOptions({ privateKey: key, listenAddr: ':0' }).listen, { host: undefined, port: 0 })
  assert.equal(resolveOptions({ privateKey: key, listenAddr: '127.0.0.1:4000' }).listen, { host: '127.0.0.1', port: 4000 })
  assert.equal(resolveOptions({ privateKey: key, listenAddr: '[::1]:0' }).listen, { host: '::1', port: 0 })
  assert.is(resolveOptions({ privateKey: key, listenAddr: null }).listen, null)
})

test('maxPeers splits into inbound and outbound slots by dialRatio', () => {
  const split = (maxPeers?: number, dialRatio?: number): [number, number] => {
    const s = new Server({ privateKey: key, listenAddr: null, ...(maxPeers === undefined ? {} : { maxPeers }), ...(dialRatio === undefined ? {} : { dialRatio }) })
    return [s.maxInbound, s.maxOutbound]
  }
  assert.equal(split(), [17, 8], 'defaults: 25 peers, ratio 3')
  assert.equal(split(10, 3), [7, 3])
  assert.equal(split(10, 2), [5, 5])
  assert.equal(split(4, 1), [0, 4], 'ratio 1: every slot is for dials')
  assert.equal(split(2, 3), [1, 1], 'at least one dial slot while maxPeers > 0')
  assert.equal(split(0, 3), [0, 0])
})

test.run()
