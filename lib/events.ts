/**
 * A small typed event emitter kept on an `events` field. Unlike Node's EventEmitter, an
 * `error` event with no listener does not throw: the emitter's owner logs it instead.
 * @module
 */
import { logger } from './log.js'

const log = logger('devp2p:events')

/** Maps each event name to its listener signature. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type EventMap<E> = { [K in keyof E]: (...args: any[]) => void }

/** Typed `on`/`once`/`off`/`emit` over the event map `E`. */
export class TypedEvents<E extends EventMap<E>> {
  #listeners = new Map<keyof E, Set<E[keyof E]>>()

  /** Adds `listener` for `event`; returns a function that removes it. */
  on<K extends keyof E>(event: K, listener: E[K]): () => void {
    let set = this.#listeners.get(event)
    if (!set) this.#listeners.set(event, (set = new Set()))
    set.add(listener)
    return () => this.off(event, listener)
  }

  /** Adds a listener that runs once. */
  once<K extends keyof E>(event: K, listener: E[K]): () => void {
    const wrapped = ((...args: Parameters<E[K]>) => {
      this.off(event, wrapped)
      listener(...args)
    }) as E[K]
    return this.on(event, wrapped)
  }

  off<K extends keyof E>(event: K, listener: E[K]): void {
    this.#listeners.get(event)?.delete(listener)
  }

  /**
   * Calls every listener of `event`. A listener that throws stops neither the others nor
   * the library's own work, and does not crash the process: the error is reported as a
   * process warning (on stderr, and to `process.on('warning')`) and to the `devp2p:events` log.
   */
  emit<K extends keyof E>(event: K, ...args: Parameters<E[K]>): void {
    const set = this.#listeners.get(event)
    if (!set) return
    for (const listener of [...set]) {
      try {
        listener(...args)
      } catch (err) {
        const error = err instanceof Error ? err : new Error(String(err))
        log('listener of %s threw: %s', String(event), error.message)
        process.emitWarning(`a listener of "${String(event)}" threw: ${error.stack ?? error.message}`, { code: 'DEVP2P_LISTENER_ERROR' })
      }
    }
  }
}
