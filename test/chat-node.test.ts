// The chat node CLI (examples/chat.ts) as five separate processes on real sockets, driven
// through stdin and read through stdout: four with --json (every stdout line one JSON
// event) and one, eve, printing for people (to a pipe: no prompt, no colour). Short
// --presence-interval and --receipt-timeout make timeouts quick; nothing is checked by
// sleeping — every wait is for an event, and "exactly once" is checked again over each
// node's complete output after it exited. The tests share the nodes and run in order.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { generatePrivateKey, Server } from '../lib/index.js'
import { Chat } from '../protocols/chat/index.js'
import { waitFor } from './support/net.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
/** Deadline for a node process to start (tsx compiles the CLI on the fly; the machine may be busy). */
const START = 30_000
/** Deadline for anything that crosses the overlay a few times. */
const QUICK = 10_000
/** Presence refresh period given to every node: members silent for 3 × 1.25 × this are gone. */
const PRESENCE = 2000
const RECEIPT = 4000
/** Deadline for a killed node to be shown gone: its declared silence allowance, with room. */
const GONE = 3 * 1.25 * PRESENCE + QUICK

type Event = { type: string; [key: string]: unknown }

interface Node {
  nick: string
  json: boolean
  proc: ChildProcessWithoutNullStreams
  id: string
  enode: string
  /** Every stdout line that parsed as a JSON object, in order (--json nodes). */
  events: Event[]
  /** stdout lines that were not a JSON object (--json nodes), or every line (eve). */
  lines: string[]
  /** Every byte written to stdout. */
  raw: Buffer[]
  stderr: string
  /** Set once the process has exited and its stdout is drained. */
  exited?: { code: number | null; signal: NodeJS.Signals | null }
}

const dir = mkdtempSync(join(tmpdir(), 'chat-node-'))
const nodes: Node[] = []
const byNick = (nick: string): Node => nodes.find((n) => n.nick === nick)!

function spawnNode(nick: string, options: { bootnode?: string; json?: boolean; extra?: string[] } = {}): Node {
  const json = options.json ?? true
  const args = ['--import', 'tsx', 'examples/chat.ts', '--port', '0', '--nodekey', join(dir, `${nick}.key`), '--nick', nick, '--presence-interval', String(PRESENCE), '--receipt-timeout', String(RECEIPT)]
  // The overlay here is built by floodnet's joins alone; test/chat-discovery.test.ts runs with discovery.
  if (!options.extra?.includes('--discovery')) args.push('--no-discovery')
  if (json) args.push('--json')
  if (options.bootnode) args.push('--bootnode', options.bootnode)
  args.push(...(options.extra ?? []))
  const proc = spawn(process.execPath, args, { cwd: ROOT, stdio: 'pipe', env: { ...process.env, NO_COLOR: '', DEBUG: '' } })
  const node: Node = { nick, json, proc, id: '', enode: '', events: [], lines: [], raw: [], stderr: '' }
  let partial = ''
  proc.stdout.on('data', (chunk: Buffer) => {
    node.raw.push(chunk)
    partial += chunk.toString('utf8')
    for (let nl = partial.indexOf('\n'); nl >= 0; nl = partial.indexOf('\n')) {
      onLine(node, partial.slice(0, nl))
      partial = partial.slice(nl + 1)
    }
  })
  proc.stdout.on('end', () => {
    if (partial !== '') node.lines.push(`(unterminated) ${partial}`)
  })
  proc.stderr.setEncoding('utf8')
  proc.stderr.on('data', (chunk: string) => (node.stderr += chunk))
  proc.stdin.on('error', () => {}) // EPIPE after the node is gone
  proc.on('close', (code, signal) => (node.exited = { code, signal }))
  nodes.push(node)
  return node
}

function onLine(node: Node, line: string): void {
  if (!node.json) {
    node.lines.push(line)
    const enode = /^enode:\/\/\S+$/.exec(line)
    if (enode && !node.enode) node.enode = enode[0]
    const you = /you are \S+ \(([0-9a-f]{8})\)/.exec(line)
    if (you) node.id = you[1]!
    return
  }
  let event: unknown
  try {
    event = JSON.parse(line)
  } catch {
    node.lines.push(line)
    return
  }
  if (typeof event !== 'object' || event === null || Array.isArray(event) || typeof (event as Event).type !== 'string') {
    node.lines.push(line)
    return
  }
  const e = event as Event
  node.events.push(e)
  if (e.type === 'ready') {
    node.id = e.id as string
    node.enode = e.enode as string
  }
}

/** Types a line at `node`. */
const say = (node: Node, line: string): void => void node.proc.stdin.write(`${line}\n`)

const ofType = (node: Node, type: string, match: Record<string, unknown> = {}): Event[] =>
  node.events.filter((e) => e.type === type && Object.entries(match).every(([k, v]) => e[k] === v))

/** Sends `/who` until `check` passes on the answer; returns that answer's members. */
async function whoUntil(node: Node, check: (nicks: string[]) => boolean, what: string): Promise<Event[]> {
  const deadline = Date.now() + QUICK
  for (;;) {
    const before = ofType(node, 'who').length
    say(node, '/who')
    await waitFor(() => ofType(node, 'who').length > before, QUICK, `${node.nick}: /who answered`)
    const members = ofType(node, 'who').at(-1)!.members as Event[]
    if (check(members.map((m) => m.nick as string).sort())) return members
    if (Date.now() > deadline) assert.unreachable(`${node.nick}: ${what}; /who said ${JSON.stringify(members.map((m) => m.nick))}`)
    await waitFor(() => false, 200, 'a moment').catch(() => {})
  }
}

/** Fails with the offending lines if a --json node wrote a stdout line that is not a JSON event. */
function assertAllJson(): void {
  for (const n of nodes) if (n.json) assert.equal(n.lines, [], `${n.nick}: every stdout line is a JSON event`)
}

function dump(node: Node): string {
  const out = node.json ? node.events.map((e) => JSON.stringify(e)).join('\n') : node.lines.join('\n')
  return `${node.nick} stdout:\n${out}\n${node.nick} stderr (tail):\n${node.stderr.slice(-2000)}`
}

async function step<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    console.error(`\n--- ${what} failed; node output follows ---\n${nodes.map(dump).join('\n')}`)
    throw err
  }
}

/** Runs the CLI to completion with `args` and empty stdin. */
function runOnce(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', 'examples/chat.ts', ...args], { cwd: ROOT, stdio: 'pipe' })
    let stdout = ''
    let stderr = ''
    proc.stdout.on('data', (c: Buffer) => (stdout += c))
    proc.stderr.on('data', (c: Buffer) => (stderr += c))
    proc.stdin.end()
    proc.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

test.after(async () => {
  for (const n of nodes) if (!n.exited) n.proc.kill('SIGKILL')
  await waitFor(() => nodes.every((n) => n.exited), QUICK, 'every child to exit').catch(() => {})
  rmSync(dir, { recursive: true, force: true })
})

const HOSTILE = 'clear\x1b[2J title\x1b]0;pwned\x07 cr\r nl\n bs\b del\x7f c1\u009b31m rtl\u202eevil\u202c tab\t end'

// ---------------------------------------------------------------------------------------

test('four nodes join through the first; /who at each lists all four, eve (human output) too', async () => {
  await step('start', async () => {
    const ann = spawnNode('ann')
    await waitFor(() => ann.enode !== '' || ann.exited !== undefined, START, 'ann ready')
    assert.ok(ann.enode.startsWith('enode://'), 'ann printed a ready line with its enode')
    spawnNode('bob', { bootnode: ann.enode })
    spawnNode('cat', { bootnode: ann.enode })
    spawnNode('eve', { bootnode: ann.enode, json: false })
    await waitFor(() => nodes.every((n) => n.enode !== '' || n.exited), START, 'every node ready')
    for (const n of nodes) assert.is(n.exited, undefined, `${n.nick} is running`)
    for (const n of nodes.filter((x) => x.json)) {
      const ready = ofType(n, 'ready')[0]!
      assert.equal(Object.keys(ready).sort(), ['address', 'discovery', 'enode', 'enodes', 'id', 'nick', 'type'])
      assert.is(ready.nick, n.nick)
      assert.match(ready.address as string, /^127\.0\.0\.1:\d+$/)
      assert.ok(!(ready.address as string).endsWith(':0'), 'the real port')
    }
    const all = ['ann', 'bob', 'cat', 'eve']
    for (const n of nodes.filter((x) => x.json)) {
      const members = await whoUntil(n, (names) => names.join() === all.join(), 'everyone on the roster')
      for (const m of members) {
        assert.equal(Object.keys(m).sort(), ['address', 'id', 'lastSeen', 'neighbour', 'nick', 'self'])
        assert.is(m.self, m.nick === n.nick)
      }
    }
    const eve = byNick('eve')
    say(eve, '/who')
    await waitFor(() => eve.lines.some((l) => /\* 4 in the chat:/.test(l)), QUICK, 'eve: /who')
    const listed = eve.lines.slice(eve.lines.findIndex((l) => /\* 4 in the chat:/.test(l)) + 1).slice(0, 4)
    assert.equal(listed.map((l) => l.trim().split(/\s+/)[0]).sort(), all)
  })
  assertAllJson()
})

test('a typed line reaches every other node once, with id, nick and text; the sender sees "sent"', async () => {
  await step('broadcast', async () => {
    const [ann, bob, eve] = [byNick('ann'), byNick('bob'), byNick('eve')]
    say(ann, 'hello from ann')
    say(bob, 'hello from bob')
    const sent = await (async () => {
      await waitFor(() => ofType(ann, 'sent').length === 1 && ofType(bob, 'sent').length === 1, QUICK, 'sent events')
      return [ofType(ann, 'sent')[0]!, ofType(bob, 'sent')[0]!]
    })()
    assert.equal(Object.keys(sent[0]!).sort(), ['id', 'kind', 'peers', 'text', 'type'])
    for (const [from, s] of [[ann, sent[0]!], [bob, sent[1]!]] as const) {
      for (const n of nodes.filter((x) => x.json && x !== from)) {
        await waitFor(() => ofType(n, 'message', { id: s.id }).length > 0, QUICK, `${n.nick} to hear ${from.nick}`)
        const got = ofType(n, 'message', { id: s.id })
        assert.is(got.length, 1)
        assert.equal(Object.keys(got[0]!).sort(), ['from', 'id', 'nick', 'text', 'timestamp', 'type'])
        assert.equal([got[0]!.from, got[0]!.nick, got[0]!.text], [from.id, from.nick, s.text])
      }
      assert.equal(ofType(from, 'message', { id: s.id }), [], `${from.nick} does not hear itself`)
    }
    await waitFor(() => eve.lines.some((l) => / ann: hello from ann$/.test(l)) && eve.lines.some((l) => / bob: hello from bob$/.test(l)), QUICK, 'eve to show both lines')
    assert.match(eve.lines.find((l) => l.endsWith('ann: hello from ann'))!, /^\d\d:\d\d:\d\d ann: hello from ann$/)
  })
  assertAllJson()
})

test('a DM to a node that has never written arrives, and its receipt comes back to the sender', async () => {
  await step('direct', async () => {
    const [bob, cat] = [byNick('bob'), byNick('cat')]
    assert.equal(ofType(cat, 'sent'), [], 'cat has never written')
    say(bob, '/msg cat psst, cat')
    await waitFor(() => ofType(bob, 'sent', { kind: 'direct' }).length === 1, QUICK, 'bob: sent')
    const sent = ofType(bob, 'sent', { kind: 'direct' })[0]!
    assert.equal([sent.to, sent.nick, sent.text], [cat.id, 'cat', 'psst, cat'])
    await waitFor(() => ofType(cat, 'direct').length === 1, QUICK, 'cat to get it')
    assert.equal(ofType(cat, 'direct')[0], { type: 'direct', id: sent.id, from: bob.id, nick: 'bob', text: 'psst, cat', timestamp: ofType(cat, 'direct')[0]!.timestamp })
    await waitFor(() => ofType(bob, 'receipt').length === 1, QUICK, 'bob to get the receipt')
    assert.equal(ofType(bob, 'receipt')[0], { type: 'receipt', id: sent.id, to: cat.id, nick: 'cat', status: 'delivered' })
    for (const n of nodes.filter((x) => x.json && x !== cat)) assert.equal(ofType(n, 'direct'), [], `${n.nick} read nothing`)
  })
  assertAllJson()
})

test('control and bidi characters: exact in --json, shown visibly at eve; nothing raw that moves the cursor', async () => {
  await step('injection', async () => {
    const [bob, ann, eve] = [byNick('bob'), byNick('ann'), byNick('eve')]
    // stdin cannot carry CR or LF inside a line, so the text comes from a Chat in this process.
    const key = generatePrivateKey()
    const mal = new Chat({ privateKey: key, nick: 'mal' })
    const server = new Server({ privateKey: key, listenAddr: '127.0.0.1:0', discovery: false, protocols: [mal.protocol] })
    mal.attach(server)
    await server.start()
    try {
      await server.connect(ann.enode)
      await waitFor(() => mal.neighbours.length === 1, QUICK, 'mal linked to ann')
      mal.send(HOSTILE)
      await waitFor(() => ofType(ann, 'message', { text: HOSTILE }).length === 1 && ofType(bob, 'message', { text: HOSTILE }).length === 1, QUICK, 'the exact text in --json')
      await waitFor(() => eve.lines.some((l) => l.includes('mal: clear')), QUICK, 'eve to show it')
    } finally {
      await mal.stop()
      await server.stop()
    }
    const shown = eve.lines.find((l) => l.includes('mal: clear'))!
    assert.ok(shown.endsWith('mal: clear␛[2J title␛]0;pwned␇ cr␍ nl␊ bs␈ del␡ c1<U+009B>31m rtl<U+202E>evil<U+202C> tab␉ end'), shown)
    for (const n of [ann, bob]) await waitFor(() => ofType(n, 'leave', { nick: 'mal', reason: 'quit' }).length === 1, QUICK, `${n.nick}: mal left`)
    const out = Buffer.concat(eve.raw).toString('utf8')
    const moves = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u.exec(out)
    assert.is(moves, null, `eve printed U+${moves?.[0].codePointAt(0)?.toString(16)} raw`)
    // The JSON line itself carries no raw C1 or bidi character either; parsing gives the exact text.
    const rawJson = Buffer.concat(ann.raw).toString('utf8')
    assert.not.match(rawJson, /[\u007f-\u009f\u202a-\u202e]/u)
    // A nick with a control character is refused at /nick, in one line; the nick stays.
    say(bob, '/nick \x1b[31mred')
    await waitFor(() => ofType(bob, 'error').length === 1, QUICK, 'bob: error')
    assert.match(ofType(bob, 'error')[0]!.message as string, /^nick .* contains U\+001B, which is not a visible character; use 1 to 32 bytes/)
    say(eve, '/nick e\u202eve')
    await waitFor(() => eve.lines.some((l) => / ! nick /.test(l)), QUICK, 'eve: one-line error')
  })
  assertAllJson()
})

test('a late joiner is shown the earlier lines as history, once, in order, and none of them as new', async () => {
  await step('history', async () => {
    const [ann, bob] = [byNick('ann'), byNick('bob')]
    // Every broadcast so far, as bob (dan's bootnode) saw or sent it: ann's, bob's, mal's.
    const earlier = [...ofType(bob, 'message'), ...ofType(bob, 'sent', { kind: 'message' })]
    assert.is(earlier.length, 3)
    const dan = spawnNode('dan', { bootnode: bob.enode })
    await waitFor(() => ofType(dan, 'synced', { kind: 'history' }).some((e) => (e.count as number) > 0) || dan.exited !== undefined, START, 'dan to get history')
    const history = ofType(dan, 'history')
    assert.equal(history.map((h) => h.id).sort(), earlier.map((s) => s.id).sort(), 'every earlier broadcast, once')
    const times = history.map((h) => h.timestamp as number)
    assert.equal(times, [...times].sort((a, b) => a - b), 'oldest first')
    assert.equal(ofType(dan, 'message').filter((m) => earlier.some((s) => s.id === m.id)), [], 'none as a live message')
    // After dan, a new line is live at dan.
    say(ann, 'welcome, dan')
    await waitFor(() => ofType(dan, 'message', { text: 'welcome, dan' }).length === 1, QUICK, 'dan to hear ann live')
    await waitFor(() => ofType(ann, 'join', { nick: 'dan' }).length === 1, QUICK, 'ann to show dan joining')
    assert.equal(ofType(dan, 'join'), [], 'to dan, the others were already here')
  })
  assertAllJson()
})

test('/peers lists sessions, neighbours first; /connect to one of them says so; /help; an unknown command is one error line', async () => {
  await step('commands', async () => {
    const dan = byNick('dan')
    say(dan, '/peers')
    await waitFor(() => ofType(dan, 'peers').length === 1, QUICK, 'dan: /peers')
    const peers = ofType(dan, 'peers')[0]!.peers as Event[]
    const neighbours = peers.filter((p) => p.neighbour).map((p) => p.id)
    assert.ok(neighbours.length > 0, 'dan has an overlay neighbour')
    assert.equal(peers.slice(0, neighbours.length).map((p) => p.id), neighbours, 'neighbours first')
    for (const p of peers) {
      assert.equal(Object.keys(p).sort(), ['address', 'id', 'neighbour', 'nick'])
      assert.ok(nodes.some((n) => n.nick === p.nick), `${p.nick} is a node's nick`)
    }
    // A neighbour, not a contact: floodnet may close a bootstrap contact at any moment.
    const other = nodes.find((n) => neighbours.includes(n.id))!
    say(dan, `/connect ${other.enode}`)
    await waitFor(() => ofType(dan, 'warning', { code: 'already-connected' }).length === 1, QUICK, 'dan: already connected')
    assert.match(ofType(dan, 'warning', { code: 'already-connected' })[0]!.message as string, new RegExp(`^already connected to ${other.nick} [0-9a-f]{8} \\(127\\.0\\.0\\.1:\\d+\\)$`))
    say(dan, '/help')
    say(dan, '/frobnicate now')
    await waitFor(() => ofType(dan, 'help').length === 1 && ofType(dan, 'error').length === 1, QUICK, 'help and error')
    assert.match(ofType(dan, 'help')[0]!.text as string, /\/msg <nick\|id> <text>/)
    assert.equal(ofType(dan, 'error')[0], { type: 'error', message: 'unknown command /frobnicate; /help lists the commands' })
  })
  assertAllJson()
})

test('a SIGKILLed node: a DM to it is "not-confirmed" after the receipt timeout; every node shows it gone; /who drops it', async () => {
  await step('sigkill', async () => {
    const [cat, bob, ann] = [byNick('cat'), byNick('bob'), byNick('ann')]
    cat.proc.kill('SIGKILL')
    await waitFor(() => cat.exited !== undefined, QUICK, 'cat to die')
    say(bob, '/msg cat are you still there?')
    await waitFor(() => ofType(bob, 'receipt').length === 2, RECEIPT + QUICK, 'the second receipt event')
    const sent = ofType(bob, 'sent', { kind: 'direct' })[1]!
    assert.equal(ofType(bob, 'receipt')[1], { type: 'receipt', id: sent.id, to: cat.id, nick: 'cat', status: 'not-confirmed' })
    for (const n of nodes.filter((x) => x.json && !x.exited)) {
      await waitFor(() => ofType(n, 'leave', { id: cat.id }).length > 0, GONE, `${n.nick} to show cat gone`)
      assert.equal(ofType(n, 'leave', { id: cat.id }), [{ type: 'leave', id: cat.id, nick: 'cat', reason: 'timeout' }])
    }
    await whoUntil(ann, (names) => names.join() === 'ann,bob,dan,eve', 'cat off the roster')
  })
  assertAllJson()
})

test('leaving: end of stdin and SIGTERM say goodbye, exit 0, and every other node shows them leaving', async () => {
  await step('quit', async () => {
    const [dan, eve, ann, bob] = [byNick('dan'), byNick('eve'), byNick('ann'), byNick('bob')]
    dan.proc.stdin.end()
    await waitFor(() => dan.exited !== undefined, QUICK, 'dan to exit')
    assert.equal(dan.exited, { code: 0, signal: null })
    for (const n of [ann, bob]) await waitFor(() => ofType(n, 'leave', { id: dan.id, reason: 'quit' }).length === 1, QUICK, `${n.nick}: dan left`)
    await waitFor(() => eve.lines.some((l) => / ← dan left$/.test(l)), QUICK, 'eve: dan left')
    eve.proc.kill('SIGTERM')
    await waitFor(() => eve.exited !== undefined, QUICK, 'eve to exit')
    assert.equal(eve.exited, { code: 0, signal: null })
    for (const n of [ann, bob]) await waitFor(() => ofType(n, 'leave', { nick: 'eve', reason: 'quit' }).length === 1, QUICK, `${n.nick}: eve left`)
    say(bob, 'just us two now')
    await waitFor(() => ofType(ann, 'message', { text: 'just us two now' }).length === 1, QUICK, 'the last two still chat')
    for (const n of [ann, bob]) n.proc.stdin.end()
    await waitFor(() => nodes.every((n) => n.exited), QUICK, 'everyone to exit')
  })
  // Over each node's whole output: no message id was ever shown twice, live or as history.
  for (const n of nodes.filter((x) => x.json)) {
    const ids = n.events.filter((e) => e.type === 'message' || e.type === 'history' || e.type === 'direct').map((e) => e.id as string)
    assert.is(new Set(ids).size, ids.length, `${n.nick}: every message shown once`)
    assert.ok(!/\n\s+at /.test(n.stderr), `${n.nick}: no stack trace on stderr`)
  }
  assertAllJson()
})

test('bad options end in one line and exit 2; an unreachable bootnode says "retrying …" once; sending alone warns', async () => {
  const bad = await runOnce(['--bootnode', 'nonsense', '--port', '0'])
  assert.is(bad.code, 2)
  assert.equal(bad.stderr.trimEnd().split('\n').length, 1, bad.stderr)
  assert.match(bad.stderr, /^devp2p-chat: --bootnode is not usable: invalid enode URL "nonsense": missing 'enode:\/\/' or 'enr:' prefix/)
  const nick = await runOnce(['--nick', 'two words', '--port', '0'])
  assert.is(nick.code, 2)
  assert.match(nick.stderr, /^devp2p-chat: --nick: nick "two words" contains U\+0020/)
  assert.equal(nick.stderr.trimEnd().split('\n').length, 1)

  await step('unreachable', async () => {
    // A bootnode that is not listening: the port of a node that has exited.
    const gone = byNick('ann').enode
    const lone = spawnNode('lone', { bootnode: gone })
    await waitFor(() => ofType(lone, 'warning', { code: 'bootnode-unreachable' }).length > 0, START, 'the retrying warning')
    assert.match(ofType(lone, 'warning')[0]!.message as string, /^bootnode 127\.0\.0\.1:\d+ is unreachable \(.*ECONNREFUSED.*\); retrying …$/)
    say(lone, 'anyone?')
    await waitFor(() => ofType(lone, 'warning', { code: 'no-peers' }).length === 1, QUICK, 'the no-peers warning')
    lone.proc.stdin.end()
    await waitFor(() => lone.exited !== undefined, QUICK, 'lone to exit')
    assert.is(ofType(lone, 'warning', { code: 'bootnode-unreachable' }).length, 1, 'said once, however often floodnet retried')
  })
  assertAllJson()
})

test.run()
