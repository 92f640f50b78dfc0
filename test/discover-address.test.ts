// Which address we advertise: the pure choice from listen address, extip, routing table and
// interfaces; the iptrack that learns what peers see; the record that follows it.
import type { NetworkInterfaceInfo } from 'node:os'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { VirtualClock } from '../lib/clock.js'
import { generatePrivateKey } from '../lib/crypto/index.js'
import { defaultRouteInterfaces, interfaceAddresses, pickAdvertisedIp } from '../lib/discover/address.js'
import { IpTracker } from '../lib/discover/iptrack.js'
import { LocalNode } from '../lib/discover/local-node.js'
import { MemoryNetwork } from '../lib/discover/transport.js'
import { PacketType, expirationFrom } from '../lib/discover/wire.js'
import type { Enr } from '../lib/enr.js'
import { RawPeer, startNode } from './support/disc.js'

const ROUTES = `Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT
wlan0	00000000	0101A8C0	0003	0	0	600	00000000	0	0	0
eth0	00000000	010200C0	0003	0	0	100	00000000	0	0	0
eth0	000200C0	00000000	0001	0	0	0	00FFFFFF	0	0	0
tun0	00000000	00000000	0000	0	0	0	00000000	0	0	0
`

const info = (address: string, family: 'IPv4' | 'IPv6', internal = false): NetworkInterfaceInfo =>
  ({ address, family, internal, netmask: '', mac: '', cidr: null, ...(family === 'IPv6' && { scopeid: 0 }) }) as NetworkInterfaceInfo

const IFACES = {
  lo: [info('127.0.0.1', 'IPv4', true), info('::1', 'IPv6', true)],
  wlan0: [info('192.168.1.20', 'IPv4')],
  eth0: [info('fe80::1', 'IPv6'), info('169.254.3.3', 'IPv4'), info('192.0.2.2', 'IPv4'), info('fd00::2', 'IPv6')],
}

test('default routes from /proc/net/route: up routes only, lowest metric first', () => {
  assert.equal(defaultRouteInterfaces(ROUTES), ['eth0', 'wlan0'])
  assert.equal(defaultRouteInterfaces(''), [])
  assert.equal(defaultRouteInterfaces('Iface\tDestination\n'), [])
})

test('advertised IP: extip › listen address › default-route interface › any interface › 127.0.0.1 with a warning', () => {
  assert.equal(pickAdvertisedIp({ listenHost: '0.0.0.0', extip: '1.2.3.4', routeTable: ROUTES, interfaces: IFACES }), { ip: '1.2.3.4', source: 'extip' })
  assert.equal(pickAdvertisedIp({ listenHost: '10.1.1.1', routeTable: ROUTES, interfaces: IFACES }), { ip: '10.1.1.1', source: 'listen' })
  assert.equal(pickAdvertisedIp({ listenHost: '::ffff:10.1.1.1', interfaces: IFACES }), { ip: '10.1.1.1', source: 'listen' })
  for (const wildcard of ['0.0.0.0', '::', '']) {
    assert.equal(pickAdvertisedIp({ listenHost: wildcard, routeTable: ROUTES, interfaces: IFACES }), { ip: '192.0.2.2', source: 'default-route' }, wildcard)
  }
  assert.equal(pickAdvertisedIp({ listenHost: '0.0.0.0', interfaces: { lo: IFACES.lo, wlan0: IFACES.wlan0 } }), { ip: '192.168.1.20', source: 'interface' })
  const lonely = pickAdvertisedIp({ listenHost: '0.0.0.0', interfaces: { lo: IFACES.lo } })
  assert.is(lonely.ip, '127.0.0.1')
  assert.is(lonely.source, 'loopback')
  assert.ok(lonely.warning?.includes('extip'))
  assert.throws(() => pickAdvertisedIp({ listenHost: '0.0.0.0', extip: 'example.com', interfaces: {} }), RangeError)
})

test('one enode per interface: every non-internal, non-link-local address', () => {
  assert.equal(interfaceAddresses(IFACES), [
    { name: 'wlan0', ip: '192.168.1.20' },
    { name: 'eth0', ip: '192.0.2.2' },
    { name: 'eth0', ip: 'fd00::2' },
  ])
})

test('iptrack: a prediction needs two distinct hosts; each host counts once; statements expire', async () => {
  const clock = new VirtualClock()
  const t = new IpTracker({ clock, window: 300_000, minStatements: 2 })
  t.addStatement('8.8.8.8', '1.2.3.4', 30303)
  t.addStatement('8.8.8.8', '1.2.3.4', 30303)
  assert.is(t.predict(), undefined, 'one host saying it twice is one statement')
  t.addStatement('9.9.9.9', '1.2.3.4', 30303)
  assert.equal(t.predict(), { ip: '1.2.3.4', port: 30303 })
  t.addStatement('7.7.7.7', '5.6.7.8', 1)
  t.addStatement('6.6.6.6', '5.6.7.8', 2)
  t.addStatement('5.5.5.5', '5.6.7.8', 3)
  assert.equal(t.predict(), { ip: '5.6.7.8' }, 'the IP most agree on; no port when they disagree on it')
  await clock.advance(300_001)
  assert.is(t.predict(), undefined)
})

test('iptrack keeps at most maxHosts statements', () => {
  const t = new IpTracker({ clock: new VirtualClock(), maxHosts: 3 })
  for (let i = 0; i < 10; i++) t.addStatement(`8.8.8.${i}`, '1.1.1.1', 1)
  t.addStatement('9.9.9.9', '2.2.2.2', 1)
  t.addStatement('9.9.9.8', '2.2.2.2', 1)
  assert.equal(t.predict(), { ip: '2.2.2.2', port: 1 }, 'only 1 of the 10 old statements is left, outvoted 2 to 1')
})

test('local record: re-signed with seq + 1 when the endpoint changes, not otherwise; learned address follows two peers', () => {
  const clock = new VirtualClock()
  const records: Enr[] = []
  const ln = new LocalNode({ privateKey: generatePrivateKey(), clock, storedSeq: 41n, fallbackIp: '10.0.0.5', udp: 30303, tcp: 30303, onRecord: (r) => records.push(r) })
  assert.is(ln.record.seq, 42n, 'a stored seq is continued')
  assert.is(ln.record.ip, '10.0.0.5')
  ln.setEndpoint({ tcp: 30303 })
  assert.is(records.length, 0)
  ln.setEndpoint({ tcp: 4000 })
  assert.is(ln.record.seq, 43n)
  assert.is(ln.record.tcp, 4000)
  ln.endpointStatement('8.8.8.8', '81.1.1.1', 30303)
  assert.is(ln.record.ip, '10.0.0.5', 'one peer is not enough')
  ln.endpointStatement('9.9.9.9', '81.1.1.1', 30303)
  assert.is(ln.record.ip, '81.1.1.1')
  assert.is(ln.record.seq, 44n)
  assert.is(records.length, 2)
})

test('local record: statements a host cannot honestly make are ignored; extip is never overridden', () => {
  const clock = new VirtualClock()
  const ln = new LocalNode({ privateKey: generatePrivateKey(), clock, fallbackIp: '10.0.0.5', udp: 30303, tcp: 30303 })
  const seq = ln.record.seq
  for (const host of ['8.8.8.8', '9.9.9.9']) ln.endpointStatement(host, '10.9.9.9', 30303) // LAN address from WAN hosts
  for (const host of ['127.0.0.2', '127.0.0.3']) ln.endpointStatement(host, '127.0.0.1', 30303) // loopback while we are on a LAN
  for (const host of ['10.0.0.8', '10.0.0.9']) ln.endpointStatement(host, 'fd00::1', 30303) // the other family
  for (const host of ['10.0.0.8', '10.0.0.9']) ln.endpointStatement(host, undefined, 30303)
  assert.is(ln.record.seq, seq)
  assert.is(ln.ip, '10.0.0.5')
  const pinned = new LocalNode({ privateKey: generatePrivateKey(), clock, fallbackIp: '10.0.0.5', staticIp: '1.2.3.4', udp: 30303, tcp: 30303 })
  for (const host of ['8.8.8.8', '9.9.9.9']) pinned.endpointStatement(host, '5.5.5.5', 30303)
  assert.is(pinned.record.ip, '1.2.3.4')
})

test('a node whose guess is wrong learns its address from the Pongs of two peers and re-signs its record', async () => {
  const clock = new VirtualClock()
  const net = new MemoryNetwork()
  const node = await startNode(net, clock, '10.0.0.1')
  node.setEndpoint({ ip: '10.0.0.99' }) // a wrong guess, as a wildcard listener behind NAT would make
  const seq = node.localRecord.seq
  const changes: Enr[] = []
  node.events.on('record', (r) => changes.push(r))
  for (const ip of ['10.0.0.2', '10.0.0.3']) {
    const peer = new RawPeer(net, ip, 30303, clock)
    const ping = node.ping(`enode://${peer.publicKey.toString('hex')}@${ip}:30303`)
    await clock.advance(1)
    const [p] = peer.take(PacketType.Ping)
    peer.send(node.address, { type: PacketType.Pong, to: { ip: '10.0.0.1', udp: 30303, tcp: 0 }, replyTok: p!.hash, expiration: expirationFrom(clock.now()) })
    await ping
  }
  assert.is(node.localRecord.ip, '10.0.0.1')
  assert.is(node.localRecord.seq, seq + 1n)
  assert.is(changes.length, 1)
  assert.ok(node.enode.endsWith('@10.0.0.1:30303'))
  await node.stop()
})

test.run()
