/**
 * The transport baselines for the throughput part: plain TCP on loopback carrying frames
 * of a 4-byte big-endian length and the payload, no crypto, no compression. Two ways to
 * write: one `socket.write` per frame, as a simple protocol would (the baseline of the
 * 100-byte target), and small frames batched into one write per 64 KiB, which shows how
 * far the transport itself goes once syscalls are amortised.
 * @module
 */
import { once } from 'node:events'
import { connect, createServer, type Socket } from 'node:net'
import { Counter, deferred, type Session } from './support.js'

const BATCH_BYTES = 64 * 1024

/** Splits a byte stream into length-prefixed frames and reports each to `onFrame`. */
class FrameSplitter {
  #chunks: Buffer[] = []
  #buffered = 0
  #need = -1

  constructor(private readonly onFrame: (frame: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.#chunks.push(chunk)
    this.#buffered += chunk.length
    for (;;) {
      if (this.#need < 0) {
        if (this.#buffered < 4) return
        this.#need = this.#take(4).readUInt32BE(0)
      }
      if (this.#buffered < this.#need) return
      const frame = this.#take(this.#need)
      this.#need = -1
      this.onFrame(frame)
    }
  }

  /** Removes `n` bytes from the front; copies only when they span chunks. */
  #take(n: number): Buffer {
    this.#buffered -= n
    const first = this.#chunks[0]!
    if (first.length >= n) {
      if (first.length === n) this.#chunks.shift()
      else this.#chunks[0] = first.subarray(n)
      return first.subarray(0, n)
    }
    const out = Buffer.allocUnsafe(n)
    let filled = 0
    while (filled < n) {
      const chunk = this.#chunks[0]!
      const want = Math.min(n - filled, chunk.length)
      chunk.copy(out, filled, 0, want)
      filled += want
      if (want === chunk.length) this.#chunks.shift()
      else this.#chunks[0] = chunk.subarray(want)
    }
    return out
  }
}

/** A connected loopback socket pair: [sender, receiver]. */
async function socketPair(): Promise<[Socket, Socket]> {
  const accepted = deferred<Socket>()
  const server = createServer((socket) => accepted.resolve(socket))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const sender = connect((server.address() as { port: number }).port, '127.0.0.1')
  await once(sender, 'connect')
  const receiver = await accepted.promise
  server.close()
  sender.setNoDelay(true)
  receiver.setNoDelay(true)
  return [sender, receiver]
}

/**
 * A raw TCP session: `send(n)` writes n length-prefixed copies of `payload` — each with
 * its own write, or `batched` into 64 KiB writes — and waits until all are counted.
 */
export async function rawSession(payload: Uint8Array, batched = false): Promise<Session> {
  const [sender, receiver] = await socketPair()
  const counter = new Counter()
  const splitter = new FrameSplitter(() => counter.hit())
  receiver.on('data', (chunk: Buffer) => splitter.push(chunk))
  return {
    async send(n) {
      const done = counter.expect(n)
      let batch: Buffer[] = []
      let batchBytes = 0
      const flush = async (): Promise<void> => {
        sender.write(batch.length === 1 ? batch[0]! : Buffer.concat(batch, batchBytes))
        batch = []
        batchBytes = 0
        if (sender.writableNeedDrain) await once(sender, 'drain')
      }
      for (let i = 0; i < n; i++) {
        // A fresh frame per message, as a real sender would build one.
        const frame = Buffer.allocUnsafe(4 + payload.length)
        frame.writeUInt32BE(payload.length, 0)
        frame.set(payload, 4)
        batch.push(frame)
        batchBytes += frame.length
        if (!batched || batchBytes >= BATCH_BYTES) await flush()
      }
      if (batch.length > 0) await flush()
      await done
    },
    async close() {
      sender.destroy()
      receiver.destroy()
    },
  }
}
