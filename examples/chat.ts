#!/usr/bin/env node
/**
 * A chat node for a person at a terminal or for a script: floodnet for the overlay, chat/2
 * for signed messages, presence, direct messages with receipts and history. On a terminal
 * it keeps a prompt that incoming lines do not break; with `--json` it writes one JSON
 * object per event. Run `npm run chat -- --help`.
 */
import { createServer } from 'node:net'
import { dirname, join } from 'node:path'
import { formatEnode, generatePrivateKey, interfaceAddresses, loadOrCreateNodeKey, nodeId, parseEnode, parseHostPort, publicKeyOf, reasonText, Server, type Enode, type Peer } from '../lib/index.js'
import { Chat, type ChatMessage, type Member } from '../protocols/chat/index.js'
import { Floodnet } from '../protocols/floodnet/index.js'
import { HELP, parseCli, UsageError, type CliOptions } from './chat/args.js'
import { COMMANDS, parseCommand } from './chat/commands.js'
import { ago, colourWanted, duration, jsonLine, painter, plainLength, timeOfDay, toneOf, visible } from './chat/display.js'
import { Prompt } from './chat/prompt.js'

/** Ends the process with one line on stderr: what went wrong and what to do. */
function die(message: string, code: number): never {
  process.stderr.write(`devp2p-chat: ${message}\n`)
  process.exit(code)
}

let cli: CliOptions
try {
  cli = parseCli(process.argv.slice(2))
} catch (err) {
  if (err instanceof UsageError) die(`${err.message} (--help lists the options)`, 2)
  throw err
}
if (cli.help) {
  process.stdout.write(`${HELP}\n`)
  process.exit(0)
}
// A bug must not print a stack over the user's screen; with DEBUG set it goes to stderr too.
function internal(err: unknown): never {
  if (process.env.DEBUG) console.error(err)
  die(`internal error: ${err instanceof Error ? err.message : String(err)}`, 1)
}
process.on('uncaughtException', internal)
process.on('unhandledRejection', internal)

const json = cli.json
let stopping = false
const tty = !json && process.stdin.isTTY === true && process.stdout.isTTY === true
const paint = painter(!json && colourWanted(process.stdout, process.env))
const prompt = new Prompt(process.stdin, process.stdout, tty)
/** Control and bidi characters from the network, shown as visible marks. */
const safe = (text: string): string => visible(text, (shown) => paint('inverse', shown))

/** One event: a JSON line with --json, else the human line (if any) above the prompt. */
function emit(event: Record<string, unknown>, human?: string): void {
  if (json) process.stdout.write(`${jsonLine(event)}\n`)
  else if (human !== undefined) prompt.print(human)
}
const now = (ms = Date.now()): string => paint('grey', timeOfDay(ms))
const notice = (text: string): string => `${now()} ${paint('dim', '*')} ${text}`
function warn(code: string, message: string): void {
  emit({ type: 'warning', code, message }, `${now()} ${paint('yellow', `! ${message}`)}`)
}
function fail(message: string): void {
  emit({ type: 'error', message }, `${now()} ${paint('red', `! ${message}`)}`)
}

/** Resolves --port: as given, or the first port from 55555 up that is free on --host. */
async function choosePort(host: string): Promise<number> {
  if (cli.port !== undefined) return cli.port
  for (let port = 55555; port < 55655; port++) {
    const free = await new Promise<boolean>((resolve) => {
      const probe = createServer()
      probe.once('error', () => resolve(false))
      probe.listen(port, host, () => probe.close(() => resolve(true)))
    })
    if (free) return port
  }
  die('no free port between 55555 and 55654; pass --port', 2)
}

const host = cli.host
const port = await choosePort(host)
let privateKey: Buffer
/** Where the node database lives: beside the key, one per identity; none for a fresh unsaved identity. */
let dataDir: string | undefined
if (cli.nodekey === undefined && port === 0) {
  privateKey = generatePrivateKey()
  process.stderr.write('note: --port 0 without --nodekey uses a fresh identity that is not saved\n')
} else {
  const keyFile = cli.nodekey ?? join('.chat', `node-${port}.key`)
  try {
    privateKey = loadOrCreateNodeKey(keyFile)
  } catch (err) {
    die((err as Error).message, 2)
  }
  dataDir = join(dirname(keyFile), `nodes-${nodeId(publicKeyOf(privateKey)).slice(0, 8)}`)
}

const selfId = nodeId(publicKeyOf(privateKey))
// Bootnodes given as host:port are resolved through discovery once the server runs.
const addressBootnodes = cli.bootnodes.flatMap((b) => parseHostPort(b) ?? [])
const enodeBootnodes = cli.bootnodes.filter((b) => !parseHostPort(b))
const net = new Floodnet({ desired: cli.desired, bootnodes: enodeBootnodes })
const chat = new Chat({
  privateKey,
  // Broadcasts go over floodnet's links only: peers the server dials from discovery are not floodnet's.
  overlay: net,
  nick: cli.nick ?? `user-${selfId.slice(0, 4)}`,
  ...(cli.presenceInterval === undefined ? {} : { presenceInterval: cli.presenceInterval }),
  ...(cli.receiptTimeout === undefined ? {} : { receiptTimeout: cli.receiptTimeout }),
})
const listenAddr = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
const server = new Server({
  privateKey,
  name: 'devp2p-ts chat',
  listenAddr,
  maxPeers: cli.maxPeers,
  protocols: [net.protocol, chat.protocol],
  discovery: cli.discovery,
  ...(dataDir !== undefined && { dataDir }),
  ...(cli.extip !== undefined && { advertiseAddr: cli.extip }),
})
net.attach(server)
chat.attach(server)

/** A nick as shown, coloured per node, with a short id when another member has the same nick. */
function name(id: string, nick: string): string {
  const clash = chat.members.some((m) => m.nick === nick && m.id !== id)
  return paint(toneOf(id), clash ? `${nick}#${id.slice(0, 6)}` : nick)
}
const nickOf = (id: string): string | null => chat.roster.get(id)?.nick ?? null
const address = (m: Member): string | null => (m.host === undefined ? null : m.host.includes(':') ? `[${m.host}]:${m.port}` : `${m.host}:${m.port}`)

const message = (type: string, m: ChatMessage): Record<string, unknown> => ({ type, id: m.id, from: m.origin, nick: m.nick, text: m.text, timestamp: m.timestamp })
chat.events.on('message', (m) => emit(message('message', m), `${now()} ${name(m.origin, m.nick)}: ${safe(m.text)}`))
chat.events.on('direct', (m) => emit(message('direct', m), `${now()} ${paint('magenta', '[dm]')} ${name(m.origin, m.nick)} → you: ${safe(m.text)}`))
chat.events.on('history', (m) => emit(message('history', m), `${paint('dim', `[history ${timeOfDay(m.timestamp)}]`)} ${name(m.origin, m.nick)}: ${safe(m.text)}`))
chat.events.on('receipt', (r) => {
  const to = name(r.to, r.nick)
  const human = r.status === 'delivered' ? `${now()} ${paint('green', '✓')} delivered to ${to}` : `${now()} ${paint('yellow', '✗')} not confirmed by ${to}: no receipt within ${duration(cli.receiptTimeout ?? 30_000)}`
  emit({ type: 'receipt', id: r.id, to: r.to, nick: r.nick, status: r.status }, human)
})
chat.events.on('join', ({ member, returning }) =>
  emit({ type: 'join', id: member.id, nick: member.nick, returning }, `${now()} ${paint('green', '→')} ${name(member.id, member.nick)} ${returning ? 'is back' : 'joined'}`),
)
chat.events.on('leave', ({ member, reason }) =>
  emit(
    { type: 'leave', id: member.id, nick: member.nick, reason },
    `${now()} ${paint('yellow', '←')} ${name(member.id, member.nick)} ${reason === 'quit' ? 'left' : `is gone (not heard from for ${duration(Date.now() - member.lastSeen)})`}`,
  ),
)
chat.events.on('rename', ({ member, from }) => emit({ type: 'rename', id: member.id, old: from, nick: member.nick }, notice(`${paint(toneOf(member.id), from)} is now ${name(member.id, member.nick)}`)))
/** Members the user has been told about, by a join line or an "in the chat" line. */
const told = new Set<string>()
chat.events.on('join', ({ member }) => told.add(member.id))
chat.events.on('synced', ({ kind, from, count }) => {
  const others = chat.members.filter((m) => m.id !== selfId)
  let human: string | undefined
  if (kind === 'roster' && others.some((m) => !told.has(m.id))) {
    for (const m of others) told.add(m.id)
    human = notice(`in the chat: ${others.map((m) => name(m.id, m.nick)).join(', ')}`)
  } else if (kind === 'history' && count > 0) {
    human = notice(`${count} earlier line${count === 1 ? '' : 's'} above, from ${nickOf(from) ?? from.slice(0, 8)}`)
  }
  emit({ type: 'synced', kind, from, count }, human)
})

// Overlay links come and go (a bootstrap link is dropped once others exist): they are not
// people joining or leaving, so only --json reports them.
const bootnodes = new Map<string, Enode>(enodeBootnodes.map((url) => [parseEnode(url).id, parseEnode(url)]))
const unreached = new Set<string>()
server.events.on('peer:added', (p: Peer) => {
  emit({ type: 'peer', event: 'added', id: p.id, nick: nickOf(p.id), address: p.remoteAddress })
  if (unreached.delete(p.id)) emit({ type: 'connected', id: p.id, address: p.remoteAddress, bootnode: true }, notice(`reached the bootnode ${p.id.slice(0, 8)} at ${p.remoteAddress}`))
})
server.events.on('peer:removed', ({ peer, reason, remote }) => emit({ type: 'peer', event: 'removed', id: peer.id, nick: nickOf(peer.id), reason: reasonText(reason), remote }))
server.events.on('error', (err) => process.stderr.write(`server error: ${err.message}\n`))

try {
  await server.start()
} catch (err) {
  die(`cannot listen on ${listenAddr}: ${(err as Error).message}`, 1)
}
net.start()
const tcpPort = parseEnode(server.enode).tcpPort!
// On a wildcard address each interface is a way in: show the enode for each.
const wildcard = host === '0.0.0.0' || host === '::'
const enodes = wildcard ? interfaceAddresses().map(({ name: iface, ip }) => ({ iface, enode: formatEnode({ publicKey: server.publicKey, host: ip, tcpPort }) })) : []
emit(
  { type: 'ready', enode: server.enode, id: server.id, nick: chat.nick, address: `${host.includes(':') ? `[${host}]` : host}:${tcpPort}`, enodes, discovery: cli.discovery },
  [
    `${paint('bold', 'devp2p chat')} — you are ${name(selfId, chat.nick)} (${selfId.slice(0, 8)})`,
    cli.discovery ? `Others can join with --bootnode <your address>:${tcpPort}, or with your enode:` : 'Your enode (give it to others as --bootnode):',
    server.enode,
    ...enodes.filter((e) => e.enode !== server.enode).map((e) => `${e.enode}  (${e.iface})`),
    'Type a line to talk to everyone; /help lists the commands.',
  ].join('\n'),
)
// Discovery re-signs our record when peers agree on another address for us: say so.
server.discovery?.events.on('record', () => emit({ type: 'enode', enode: server.enode }, notice(`your address as others see it changed; your enode is now ${server.enode}`)))
for (const { host: h, port: p } of addressBootnodes) joinByAddress(h, p, true)
// floodnet is dialling the bootnodes; asking for the same node shares that dial and tells us
// how it went. floodnet keeps retrying while it has no neighbour: say so once.
for (const [id, node] of bootnodes) {
  server.connect(node).catch((err: Error) => {
    if (stopping || server.peer(id)) return
    unreached.add(id)
    warn('bootnode-unreachable', `bootnode ${node.host}:${node.tcpPort} is unreachable (${err.message}); retrying …`)
  })
}
prompt.start()

function who(): void {
  const neighbours = new Set(chat.neighbours.map((n) => n.id))
  const members = chat.members.sort((a, b) => Number(b.self) - Number(a.self) || a.nick.localeCompare(b.nick))
  const rows = members.map((m) => ({ id: m.id, nick: m.nick, lastSeen: m.lastSeen, self: m.self, neighbour: neighbours.has(m.id), address: address(m) }))
  const width = Math.max(...members.map((m) => plainLength(name(m.id, m.nick))))
  const lines = members.map((m) => {
    const shown = name(m.id, m.nick)
    const seen = m.self ? 'you' : ago(Date.now() - m.lastSeen)
    return `    ${shown}${' '.repeat(width - plainLength(shown))}  ${paint('grey', m.id.slice(0, 8))}  ${seen}${neighbours.has(m.id) ? paint('dim', '  (neighbour)') : ''}`
  })
  emit({ type: 'who', members: rows }, [notice(`${members.length} in the chat:`), ...lines].join('\n'))
}

function peers(): void {
  // Every session, not just the overlay's: a contact (a discovery dial, a bootnode) is a peer too,
  // and /connect says "already connected" about it.
  const neighbours = new Set(chat.neighbours.map((n) => n.id))
  const list = server.peers
    .map((p) => ({ id: p.id, nick: nickOf(p.id), address: p.remoteAddress, neighbour: neighbours.has(p.id) }))
    .sort((a, b) => Number(b.neighbour) - Number(a.neighbour) || a.id.localeCompare(b.id))
  const human =
    list.length === 0
      ? notice('no peers yet: /connect <host:port> (or an enode), or wait for someone to join through you')
      : [
          notice(`${list.length} peer${list.length === 1 ? '' : 's'}:`),
          ...list.map((p) => `    ${p.nick === null ? '?' : name(p.id, p.nick)}  ${paint('grey', p.id.slice(0, 8))}  ${p.address}${p.neighbour ? paint('dim', '  (neighbour)') : ''}`),
        ].join('\n')
  emit({ type: 'peers', peers: list }, human)
}

function help(): void {
  const width = Math.max(...COMMANDS.map(([c]) => c.length))
  const lines = COMMANDS.map(([c, what]) => `${c.padEnd(width)}  ${what}`)
  emit({ type: 'help', text: lines.join('\n') }, [notice('commands:'), ...lines.map((l) => `    ${l}`)].join('\n'))
}

/**
 * Learns who listens at `host:port` through discovery (a signed Pong names its key; trusted
 * on first use and remembered, so a later change of key is an error), then joins through it.
 */
function joinByAddress(h: string, p: number, bootnode: boolean): void {
  const discovery = server.discovery
  if (!discovery) return fail(`connecting to ${h}:${p} by address needs discovery; restart without --no-discovery, or use its enode`)
  discovery.resolveAddress(h, p).then(
    ({ enode, trust }) => {
      const shown = `${h.includes(':') ? `[${h}]` : h}:${p}`
      emit({ type: 'resolved', address: shown, id: enode.id, trust }, notice(`${shown} is ${enode.id.slice(0, 8)} (${trust === 'first-use' ? 'first contact: its key is remembered for this address' : 'the key remembered for this address'})`))
      if (bootnode) bootnodes.set(enode.id, enode)
      joinVia(enode, bootnode)
    },
    (err: Error) => (bootnode ? warn('bootnode-unreachable', `bootnode ${h}:${p}: ${err.message}`) : fail(err.message)),
  )
}

/** Joins the overlay through `node`, saying how the connection went. */
function joinVia(node: Enode, bootnode: boolean): void {
  if (node.id === selfId) return fail("that is this node's own address")
  const existing = server.peer(node.id)
  if (existing && !bootnode) {
    const nick = nickOf(node.id)
    return warn('already-connected', `already connected to ${nick === null ? '' : `${nick} `}${node.id.slice(0, 8)} (${existing.remoteAddress})`)
  }
  net.join(node)
  // floodnet is dialling it; asking for the same node shares that dial and tells us how it went.
  server.connect(node).then(
    (peer) => emit({ type: 'connected', id: peer.id, address: peer.remoteAddress, bootnode }, notice(`connected to ${peer.id.slice(0, 8)} at ${peer.remoteAddress}`)),
    (err: Error) => fail(`connect to ${node.host}:${node.tcpPort} failed: ${err.message}`),
  )
}

function connect(url: string): void {
  const address = parseHostPort(url)
  if (address) return joinByAddress(address.host, address.port, false)
  let node: Enode
  try {
    node = parseEnode(url)
  } catch (err) {
    fail((err as Error).message)
    return
  }
  joinVia(node, false)
}

function nobodyListening(): void {
  if (chat.neighbours.length === 0) warn('no-peers', 'nobody is connected, so nobody got that; /connect <host:port> (or an enode) or wait for someone to join')
}

/** Runs one input line; false to quit. */
function command(line: string): boolean {
  const cmd = parseCommand(line)
  try {
    switch (cmd.kind) {
      case 'empty':
        break
      case 'quit':
        return false
      case 'say': {
        const id = chat.send(cmd.text)
        emit({ type: 'sent', kind: 'message', id, text: cmd.text, peers: chat.neighbours.length }, `${now()} ${paint('bold', name(selfId, chat.nick))}: ${safe(cmd.text)}`)
        nobodyListening()
        break
      }
      case 'msg': {
        const { id, to } = chat.sendDirect(cmd.target, cmd.text)
        const shown = to.nick === undefined ? to.id.slice(0, 8) : name(to.id, to.nick)
        emit({ type: 'sent', kind: 'direct', id, to: to.id, nick: to.nick ?? null, text: cmd.text, peers: chat.neighbours.length }, `${now()} ${paint('magenta', '[dm]')} you → ${shown}: ${safe(cmd.text)}`)
        nobodyListening()
        break
      }
      case 'nick':
        chat.nick = cmd.nick
        emit({ type: 'nick', nick: chat.nick }, notice(`you are now ${name(selfId, chat.nick)}`))
        break
      case 'connect':
        connect(cmd.enode)
        break
      case 'who':
        who()
        break
      case 'peers':
        peers()
        break
      case 'help':
        help()
        break
      case 'usage':
        fail(cmd.usage)
        break
      case 'unknown':
        fail(`unknown command ${cmd.name}; /help lists the commands`)
        break
    }
  } catch (err) {
    fail((err as Error).message)
  }
  return true
}

async function shutdown(): Promise<void> {
  if (stopping) return
  stopping = true
  net.stop()
  await chat.stop()
  await server.stop()
  prompt.close()
  process.exit(0)
}

prompt.onLine((line) => {
  if (!stopping && !command(line)) void shutdown()
})
prompt.onClose(() => void shutdown())
process.on('SIGINT', () => void shutdown())
process.on('SIGTERM', () => void shutdown())
