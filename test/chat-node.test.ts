// The chat node CLI (examples/chat.ts) as separate processes on real sockets: five nodes
// started with --json and joined through the first, driven through stdin and read through
// their stdout, where every line must be one JSON event. Proves broadcast (once everywhere,
// never back to the sender), direct messages (only at the recipient), that a forged
// message from an in-process peer is delivered nowhere while a valid one from it is,
// that a SIGKILLed node is reported removed by its neighbours, and /peers, help, and clean
// exits on end of stdin and on SIGTERM. The tests share the nodes and run in order.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { RLP } from '@ethereumjs/rlp'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { sign } from '../lib/crypto/index.js'
import { generatePrivateKey, keccak256, Server, type MsgReadWriter, type Protocol } from '../lib/index.js'
import { ChatKind, encodeBroadcast } from '../protocols/chat/index.js'
import { Floodnet } from '../protocols/floodnet/index.js'
import { waitFor, within } from './support/net.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
/** Deadline for a node process to start (tsx compiles the CLI on the fly). */
const START = 15_000
/** Deadline for anything that crosses the overlay a few times. */
const QUICK = 5000
/** Time given to the network before checking that something did *not* happen. */
const SETTLE = 400

type Event = { type: string; [key: string]: unknown }

interface Node {
  nick: string
  proc: ChildProcessWithoutNullStreams
  id: string
  enode: string
  /** Every stdout line that parsed as a JSON object, in order. */
  events: Event[]
  /** stdout lines that were not a JSON object. */
  bad: string[]
  stderr: string
  /** Open connections per peer id, from peer added/removed events (a count: connections to one node may briefly overlap). */
  peers: Map<string, number>
  /** Set once the process has exited and its stdout is drained. */
  exited?: { code: number | null; signal: NodeJS.Signals | null }
}

const dir = mkdtempSync(join(tmpdir(), 'chat-node-'))
const nodes: Node[] = []
const byNick = (nick: string): Node => nodes.find((n) => n.nick === nick)!
const alive = (): Node[] => nodes.filter((n) => !n.exited)

function spawnNode(nick: string, bootnode?: string): Node {
  const args = ['--import', 'tsx', 'examples/chat.ts', '--json', '--port', '0', '--nodekey', join(dir, `${nick}.key`), '--nick', nick]
  if (bootnode) args.push('--bootnode', bootnode)
  // DEBUG=chat puts chat's "rejected" log lines on stderr, which test 3 reads.
  const proc = spawn(process.execPath, args, { cwd: ROOT, stdio: 'pipe', env: { ...process.env, DEBUG: 'chat' } })
  const node: Node = { nick, proc, id: '', enode: '', events: [], bad: [], stderr: '', peers: new Map() }
  let partial = ''
  proc.stdout.setEncoding('utf8')
  proc.stdout.on('data', (chunk: string) => {
    partial += chunk
    for (let nl = partial.indexOf('\n'); nl >= 0; nl = partial.indexOf('\n')) {
      onLine(node, partial.slice(0, nl))
      partial = partial.slice(nl + 1)
    }
  })
  proc.stdout.on('end', () => {
    if (partial !== '') node.bad.push(`(unterminated) ${partial}`)
  })
  proc.stderr.setEncoding('utf8')
  proc.stderr.on('data', (chunk: string) => (node.stderr += chunk))
  proc.stdin.on('error', () => {}) // EPIPE after the node is gone
  proc.on('close', (code, signal) => (node.exited = { code, signal }))
  nodes.push(node)
  return node
}

function onLine(node: Node, line: string): void {
  let event: unknown
  try {
    event = JSON.parse(line)
  } catch {
    node.bad.push(line)
    return
  }
  if (typeof event !== 'object' || event === null || Array.isArray(event) || typeof (event as Event).type !== 'string') {
    node.bad.push(line)
    return
  }
  const e = event as Event
  node.events.push(e)
  if (e.type === 'ready') {
    node.id = e.id as string
    node.enode = e.enode as string
  } else if (e.type === 'peer') {
    const id = e.id as string
    node.peers.set(id, (node.peers.get(id) ?? 0) + (e.event === 'added' ? 1 : -1))
  }
}

/** Types a line at `node`. */
const say = (node: Node, line: string): void => void node.proc.stdin.write(`${line}\n`)

const ofType = (node: Node, type: string, match: Record<string, unknown> = {}): Event[] =>
  node.events.filter((e) => e.type === type && Object.entries(match).every(([k, v]) => e[k] === v))

const hasPeer = (node: Node, id: string): boolean => (node.peers.get(id) ?? 0) > 0

/** Fails with the offending lines if any node wrote a stdout line that is not a JSON event. */
function assertAllJson(): void {
  for (const n of nodes) assert.equal(n.bad, [], `${n.nick}: every stdout line is a JSON event`)
}

/** Dumps what a node said, to make a failure readable. */
function dump(node: Node): string {
  return `${node.nick} stdout:\n${node.events.map((e) => JSON.stringify(e)).join('\n')}\n${node.nick} stderr (tail):\n${node.stderr.slice(-2000)}`
}

async function step<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    console.error(`\n--- ${what} failed; node output follows ---\n${nodes.map(dump).join('\n')}`)
    throw err
  }
}

let injector: Server | undefined

test.after(async () => {
  for (const n of nodes) if (!n.exited) n.proc.kill('SIGKILL')
  await within(injector?.stop() ?? Promise.resolve(), QUICK, 'injector to stop').catch((err: Error) => console.error(err.message))
  await within(waitFor(() => nodes.every((n) => n.exited), QUICK, 'every child to exit'), QUICK + 1000, 'children to exit').catch(() => {})
  rmSync(dir, { recursive: true, force: true })
})

// ---------------------------------------------------------------------------------------

test('five nodes start with --json and join through the first', async () => {
  await step('start', async () => {
    const ann = spawnNode('ann')
    await waitFor(() => ann.enode !== '' || ann.exited !== undefined, START, 'ann ready')
    assert.ok(ann.enode.startsWith('enode://'), 'ann printed a ready line with its enode')
    for (const nick of ['bob', 'cat', 'dan', 'msg']) spawnNode(nick, ann.enode)
    await waitFor(() => nodes.every((n) => n.id !== '' || n.exited), START, 'every node ready')
    for (const n of nodes) {
      assert.is(n.exited, undefined, `${n.nick} is running`)
      assert.equal(ofType(n, 'ready')[0], { type: 'ready', enode: n.enode, id: n.id, nick: n.nick })
    }
    assert.is(new Set(nodes.map((n) => n.id)).size, nodes.length, 'distinct ids')
    // Each joiner keeps its link to the bootnode (five nodes never reach --desired 5), so the
    // overlay is connected once every joiner has ann as a peer, on both sides.
    await waitFor(() => nodes.slice(1).every((n) => hasPeer(n, ann.id) && hasPeer(ann, n.id)), QUICK, 'every joiner linked to ann')
  })
  assertAllJson()
})

test('a typed line reaches every other node exactly once, with the sender id and nick, and not the sender', async () => {
  await step('broadcast', async () => {
    for (const n of nodes) say(n, `hello from ${n.nick}`)
    for (const n of nodes) {
      for (const other of nodes) {
        if (other === n) continue
        await waitFor(() => ofType(other, 'message', { from: n.id }).length > 0, QUICK, `${other.nick} to hear ${n.nick}`)
      }
    }
    await new Promise((r) => setTimeout(r, SETTLE))
    for (const n of nodes) {
      for (const other of nodes) {
        const heard = ofType(other, 'message', { from: n.id })
        if (other === n) {
          assert.is(heard.length, 0, `${n.nick} does not hear itself`)
          continue
        }
        assert.equal(heard, [{ type: 'message', from: n.id, nick: n.nick, text: `hello from ${n.nick}` }], `${other.nick} heard ${n.nick} exactly once`)
      }
    }
  })
  assertAllJson()
})

test('/msg by nick and by id prefix: delivered only to the recipient, with the verified sender', async () => {
  await step('direct', async () => {
    const [dan, bob, cat, msg] = ['dan', 'bob', 'cat', 'msg'].map(byNick) as [Node, Node, Node, Node]
    say(dan, '/msg bob for bob only')
    say(dan, `/msg ${cat.id.slice(0, 12)} for cat   only`) // by id prefix; inner spaces are kept
    say(dan, '/msg msg for msg only') // a nick that also occurs in "/msg"
    const expected: [Node, string][] = [
      [bob, 'for bob only'],
      [cat, 'for cat   only'],
      [msg, 'for msg only'],
    ]
    for (const [to] of expected) await waitFor(() => ofType(to, 'direct').length > 0, QUICK, `${to.nick} to get its direct message`)
    // A broadcast dan sends afterwards reaching everyone, and a moment more, before checking
    // that nobody else printed a direct message.
    say(dan, 'dan again')
    await waitFor(() => nodes.every((n) => n === dan || ofType(n, 'message', { text: 'dan again' }).length === 1), QUICK, 'dan again everywhere')
    await new Promise((r) => setTimeout(r, SETTLE))
    for (const [to, text] of expected) assert.equal(ofType(to, 'direct'), [{ type: 'direct', from: dan.id, nick: 'dan', text }], `${to.nick}'s direct message`)
    for (const n of [byNick('ann'), dan]) assert.equal(ofType(n, 'direct'), [], `${n.nick} printed no direct message`)
    for (const n of nodes) {
      assert.not.ok(
        n.events.some((e) => e.type === 'message' && String(e.text).includes('only')),
        `${n.nick}: no direct text as a broadcast`,
      )
    }
    assert.equal(ofType(dan, 'error'), [], 'dan reported no error')
  })
  assertAllJson()
})

test('a message forged by a peer with another key is delivered nowhere; a valid one from it is delivered everywhere', async () => {
  await step('forgery', async () => {
    const [bob, cat] = [byNick('bob'), byNick('cat')]
    // An in-process node: Server + Floodnet + a hand-built chat/1 that writes what we tell it.
    const links = new Map<string, MsgReadWriter>()
    const rawChat: Protocol = {
      name: 'chat',
      version: 1,
      length: 1,
      async run(peer, rw) {
        links.set(peer.id, rw)
        for await (const msg of rw) void msg
      },
    }
    const key = generatePrivateKey()
    const net = new Floodnet()
    injector = new Server({ privateKey: key, listenAddr: '127.0.0.1:0', discovery: false, protocols: [net.protocol, rawChat] })
    net.attach(injector)
    await within(injector.start(), QUICK, 'injector start')
    const injId = injector.id
    await within(injector.connect(bob.enode), QUICK, 'injector → bob')
    await waitFor(() => links.has(bob.id) && hasPeer(bob, injId), QUICK, 'bob to list the injector as a peer')

    /** `[id(16), origin(32), hopsLeft, payload]`, chat's flood wire form. */
    const flood = (payload: Uint8Array, origin: string): Uint8Array => RLP.encode([keccak256(payload).subarray(0, 16), Buffer.from(origin, 'hex'), 16, payload])
    // Claims to be cat — origin field, nick and flood origin — but the test key signs it.
    const forge = (text: string): Uint8Array => {
      const head = [ChatKind.Broadcast, Buffer.from(cat.id, 'hex'), 'cat', text, Date.now()]
      return RLP.encode([...head, sign(keccak256(RLP.encode(head)), key)])
    }
    const toBob = links.get(bob.id)!
    await toBob.writeMsg(0, flood(forge('forged: cat owes mallory'), cat.id))
    await toBob.writeMsg(0, flood(forge('forged: honest flood header'), injId)) // the flood origin is the sender's own
    await toBob.writeMsg(0, flood(encodeBroadcast(key, 'mallory', 'valid from the test peer'), injId))
    await waitFor(() => nodes.every((n) => ofType(n, 'message', { text: 'valid from the test peer' }).length > 0), QUICK, 'the valid message everywhere')
    await new Promise((r) => setTimeout(r, SETTLE))
    for (const n of nodes) {
      assert.equal(ofType(n, 'message', { text: 'valid from the test peer' }), [{ type: 'message', from: injId, nick: 'mallory', text: 'valid from the test peer' }], `${n.nick}: valid message once`)
      assert.not.ok(
        n.events.some((e) => String(e.text).includes('forged')),
        `${n.nick}: the forgery was not printed`,
      )
    }
    // bob, the only node it was sent to, refused it (and so relayed it to nobody).
    const rejection = new RegExp(`rejected message relayed by ${injId.slice(0, 8)}: chat signature is not by the claimed origin`, 'g')
    await waitFor(() => (bob.stderr.match(rejection)?.length ?? 0) >= 2, QUICK, 'bob to log both rejections')
    assert.is(bob.stderr.match(rejection)!.length, 2)
    await within(injector.stop(), QUICK, 'injector.stop()')
    await waitFor(() => nodes.every((n) => !hasPeer(n, injId)), QUICK, 'the injector gone everywhere')
  })
  assertAllJson()
})

test('a SIGKILLed node is reported removed by every neighbour; the rest go on chatting', async () => {
  await step('sigkill', async () => {
    const victim = byNick('msg')
    const neighbours = nodes.filter((n) => n !== victim && hasPeer(n, victim.id))
    assert.ok(neighbours.length >= 1, 'msg had neighbours')
    const mark = new Map(nodes.map((n) => [n, n.events.length]))
    victim.proc.kill('SIGKILL')
    await waitFor(() => victim.exited !== undefined, QUICK, 'msg to die')
    assert.is(victim.exited!.signal, 'SIGKILL')
    for (const n of neighbours) {
      await waitFor(
        () => n.events.slice(mark.get(n)).some((e) => e.type === 'peer' && e.event === 'removed' && e.id === victim.id) && !hasPeer(n, victim.id),
        QUICK,
        `${n.nick} to report msg removed`,
      )
    }
    const survivors = alive()
    for (const n of survivors) assert.not.ok(hasPeer(n, victim.id), `${n.nick} no longer lists msg`)
    const cat = byNick('cat')
    say(cat, 'still here after msg left')
    await waitFor(() => survivors.every((n) => n === cat || ofType(n, 'message', { from: cat.id, text: 'still here after msg left' }).length === 1), QUICK, 'the line at every survivor')
  })
  assertAllJson()
})

test('/peers lists peers with id, nick and address; /foo answers with help', async () => {
  await step('peers', async () => {
    const ann = byNick('ann')
    const before = ann.events.length
    say(ann, '/peers')
    say(ann, '/foo bar')
    await waitFor(() => ofType(ann, 'help').length > 0, QUICK, 'help')
    const after = ann.events.slice(before)
    const peersAt = after.findIndex((e) => e.type === 'peers')
    assert.ok(peersAt >= 0, 'a peers event')
    const list = after[peersAt]!.peers as { id: string; nick: string | null; address: string }[]
    // What the peer events printed up to that line say ann's peers are.
    const expected = new Map<string, number>()
    for (const e of ann.events.slice(0, before + peersAt)) {
      if (e.type === 'peer') expected.set(e.id as string, (expected.get(e.id as string) ?? 0) + (e.event === 'added' ? 1 : -1))
    }
    assert.equal(list.map((p) => p.id).sort(), [...expected].filter(([, c]) => c > 0).map(([id]) => id).sort())
    assert.equal(list.map((p) => p.id).sort(), ['bob', 'cat', 'dan'].map((nick) => byNick(nick).id).sort())
    for (const p of list) {
      assert.equal(Object.keys(p).sort(), ['address', 'id', 'nick'])
      assert.is(p.nick, nodes.find((n) => n.id === p.id)!.nick)
      assert.match(p.address, /^127\.0\.0\.1:\d+$/)
    }
    const help = ofType(ann, 'help')
    assert.is(help.length, 1)
    assert.match(String(help[0]!.text), /\/msg/)
  })
  assertAllJson()
})

/** Ends `leaver` with `how`; checks it exits 0 having said goodbye, and that its neighbours heard "client quitting". */
async function quits(leaver: Node, how: () => void): Promise<void> {
  const neighbours = alive().filter((n) => n !== leaver && hasPeer(n, leaver.id))
  assert.ok(neighbours.length >= 1, `${leaver.nick} has neighbours`)
  const peersOfLeaver = [...leaver.peers].filter(([, c]) => c > 0).map(([id]) => id)
  const mark = new Map(nodes.map((n) => [n, n.events.length]))
  how()
  await waitFor(() => leaver.exited !== undefined, QUICK, `${leaver.nick} to exit`)
  assert.equal(leaver.exited, { code: 0, signal: null }, `${leaver.nick} exits with code 0`)
  // Its goodbye: a Disconnect "client quitting" to each of its peers, which it reports too.
  const bye = leaver.events.slice(mark.get(leaver)).filter((e) => e.type === 'peer' && e.event === 'removed')
  for (const id of peersOfLeaver) assert.ok(bye.some((e) => e.id === id && e.reason === 'client quitting' && e.remote === false), `${leaver.nick} said goodbye to ${id.slice(0, 8)}`)
  for (const n of neighbours) {
    await waitFor(() => !hasPeer(n, leaver.id), QUICK, `${n.nick} to drop ${leaver.nick}`)
    const removed = n.events.slice(mark.get(n)).filter((e) => e.type === 'peer' && e.event === 'removed' && e.id === leaver.id)
    assert.ok(removed.length >= 1)
    assert.ok(
      removed.every((e) => e.reason === 'client quitting' && e.remote === true),
      `${n.nick} saw ${leaver.nick} quit: ${JSON.stringify(removed)}`,
    )
  }
}

test('closing stdin: the node says goodbye and exits 0; neighbours see "client quitting"', async () => {
  await step('stdin close', () => quits(byNick('cat'), () => byNick('cat').proc.stdin.end()))
  assertAllJson()
})

test('SIGTERM: the node says goodbye and exits 0; neighbours see "client quitting"', async () => {
  await step('sigterm', () => quits(byNick('dan'), () => byNick('dan').proc.kill('SIGTERM')))
  const [ann, bob] = [byNick('ann'), byNick('bob')]
  say(bob, 'just us two now')
  await waitFor(() => ofType(ann, 'message', { from: bob.id, text: 'just us two now' }).length === 1, QUICK, 'the last two still chat')
  assertAllJson()
})

test.run()
