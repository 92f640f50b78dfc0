// Discovery between network namespaces with real, non-loopback addresses: three namespaces
// on one bridge (itself in a namespace of its own, so nothing touches the host's network).
// A node listening on 0.0.0.0 must advertise its namespace's address, learn the address its
// peers see, and be reachable by address alone. Needs root and iproute2; skipped otherwise.
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { test } from 'uvu'
import * as assert from 'uvu/assert'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const TAG = `dn${process.pid.toString(36)}${Math.floor(Math.random() * 36 ** 3).toString(36)}`.slice(0, 9)
const HUB = `${TAG}h`
const NS = { a: `${TAG}a`, b: `${TAG}b`, c: `${TAG}c` }
const ADDR = { a: '10.77.0.1', b: '10.77.0.2', c: '10.77.0.3' }
/** C's second address: the one its packets actually leave with (see the learned-address test). */
const C_SEEN = '10.77.0.33'

const ip = (...args: string[]): void => {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] })
}

function cleanup(): void {
  for (const ns of [...Object.values(NS), HUB]) {
    try {
      ip('netns', 'del', ns)
    } catch {
      // not created, or already gone
    }
  }
}

/** Builds the namespaces; returns why it could not, or undefined. */
function build(): string | undefined {
  try {
    ip('netns', 'add', HUB)
  } catch (err) {
    return `cannot create network namespaces (${((err as { stderr?: Buffer }).stderr ?? '').toString().trim() || (err as Error).message})`
  }
  process.once('exit', cleanup)
  ip('-n', HUB, 'link', 'add', 'br0', 'type', 'bridge')
  ip('-n', HUB, 'addr', 'add', '10.77.0.254/24', 'dev', 'br0')
  ip('-n', HUB, 'link', 'set', 'br0', 'up')
  for (const [k, ns] of Object.entries(NS) as ['a' | 'b' | 'c', string][]) {
    ip('netns', 'add', ns)
    ip('link', 'add', `${ns}v`, 'netns', ns, 'type', 'veth', 'peer', 'name', `${ns}p`, 'netns', HUB)
    ip('-n', ns, 'link', 'set', `${ns}v`, 'name', 'eth0')
    ip('-n', ns, 'addr', 'add', `${ADDR[k]}/24`, 'dev', 'eth0')
    ip('-n', ns, 'link', 'set', 'lo', 'up')
    ip('-n', ns, 'link', 'set', 'eth0', 'up')
    ip('-n', ns, 'route', 'add', 'default', 'via', '10.77.0.254')
    ip('-n', HUB, 'link', 'set', `${ns}p`, 'master', 'br0')
    ip('-n', HUB, 'link', 'set', `${ns}p`, 'up')
  }
  // C has a second address, and its packets to the subnet leave from it: what its peers see
  // differs from what the interface list suggests, as behind a NAT
  ip('-n', NS.c, 'addr', 'add', `${C_SEEN}/24`, 'dev', 'eth0')
  ip('-n', NS.c, 'route', 'replace', '10.77.0.0/24', 'dev', 'eth0', 'src', C_SEEN)
  return undefined
}

interface Event {
  event: string
  [key: string]: unknown
}

/** A discovery node in a namespace (test/support/netns-node.ts), spoken to in JSON lines. */
class NsNode {
  readonly events: Event[] = []
  readonly #child: ChildProcessWithoutNullStreams
  #wake: (() => void) | undefined
  ready!: Event

  constructor(ns: string, options: object) {
    this.#child = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', 'test/support/netns-node.ts', JSON.stringify(options)], { cwd: ROOT })
    this.#child.stderr.resume()
    createInterface({ input: this.#child.stdout }).on('line', (line) => {
      this.events.push(JSON.parse(line) as Event)
      this.#wake?.()
    })
  }

  static async start(ns: string, options: object = {}): Promise<NsNode> {
    const n = new NsNode(ns, options)
    n.ready = await n.next('ready', 0, 30_000)
    return n
  }

  /** The first event named `name` at or after index `from`. */
  async next(name: string, from = 0, ms = 15_000): Promise<Event> {
    const deadline = Date.now() + ms
    for (;;) {
      const hit = this.events.slice(from).find((e) => e.event === name || (e.event === 'error' && name !== 'record'))
      if (hit) {
        if (hit.event === 'error') throw new Error(`node error: ${String(hit.message)}`)
        return hit
      }
      if (Date.now() > deadline) throw new Error(`no '${name}' event within ${ms} ms`)
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 250)
        this.#wake = () => {
          clearTimeout(t)
          resolve()
        }
      })
    }
  }

  /** Sends a command and waits for its answer event. */
  async ask(cmd: object, answer: string): Promise<Event> {
    const from = this.events.length
    this.#child.stdin.write(`${JSON.stringify(cmd)}\n`)
    return this.next(answer, from)
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null) return
    const exited = new Promise((r) => this.#child.once('exit', r))
    this.#child.stdin.end(`${JSON.stringify({ cmd: 'quit' })}\n`)
    const t = setTimeout(() => this.#child.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(t)
  }
}

const why = process.getuid?.() === 0 ? build() : 'not running as root'
const nodes: NsNode[] = []
let a: NsNode, b: NsNode

test('a node listening on 0.0.0.0 in a namespace advertises that namespace’s address, not 127.0.0.1', async () => {
  a = await NsNode.start(NS.a)
  b = await NsNode.start(NS.b, { host: '::' })
  nodes.push(a, b)
  assert.equal(a.ready.advertised, { ip: ADDR.a, source: 'default-route' })
  assert.ok(String(a.ready.enode).endsWith(`@${ADDR.a}:${a.ready.port}`), String(a.ready.enode))
  assert.equal(b.ready.advertised, { ip: ADDR.b, source: 'default-route' }, 'a dual-stack wildcard too')
})

test('connect by address between namespaces: the key behind 10.77.0.1:port, with its TCP port', async () => {
  const r = await b.ask({ cmd: 'resolve', host: ADDR.a, port: a.ready.port }, 'resolved')
  assert.is(r.id, a.ready.id)
  assert.is(r.tcpPort, a.ready.port)
  assert.is(r.tcpPortSource, 'record')
  assert.is(r.trust, 'first-use')
})

test('the address peers see is learned once two of them agree, and the record follows (seq + 1)', async () => {
  const c = await NsNode.start(NS.c)
  nodes.push(c)
  assert.equal(c.ready.advertised, { ip: ADDR.c, source: 'default-route' }, 'the interface suggests its first address')
  const before = c.events.length
  await c.ask({ cmd: 'ping', node: a.ready.enode }, 'pong')
  assert.not.ok(c.events.slice(before).some((e) => e.event === 'record'), 'one peer is not enough')
  await c.ask({ cmd: 'ping', node: b.ready.enode }, 'pong')
  const rec = await c.next('record', before)
  assert.is(rec.ip, C_SEEN)
  assert.is(BigInt(String(rec.seq)), BigInt(String(c.ready.seq)) + 1n)
  assert.ok(String(rec.enode).includes(`@${C_SEEN}:`))
  // and A knows C by the address it really uses
  await a.ask({ cmd: 'ping', node: rec.enode }, 'pong')
  const table = await a.ask({ cmd: 'table' }, 'table')
  const entry = (table.nodes as { id: string; ip: string }[]).find((n) => n.id === c.ready.id)
  assert.is(entry?.ip, C_SEEN)
})

test.after(async () => {
  await Promise.all(nodes.map((n) => n.stop()))
  cleanup()
})

if (why === undefined) test.run()
else console.log(`SKIP discover-netns: ${why}`)
