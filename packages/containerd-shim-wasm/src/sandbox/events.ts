/**
 * Task events (TaskCreate, TaskStart, TaskExit, …) and their delivery to containerd.
 *
 * containerd 1.6 through 2.x accept events through ttrpc `Events/Forward` on the socket named by
 * `TTRPC_ADDRESS`, wrapped in an Envelope whose Any carries the BARE type name. Events are sent in
 * order, one at a time; a connection lost while containerd restarts is re-dialled, and an event
 * is retried a few times before it is dropped with a log line.
 */
import type { Logger } from '../logging.js';
import { silentLogger } from '../logging.js';
import type { MessageType } from '../protocol/index.js';
import { encodeMessage, Envelope, ForwardRequest, packAny, toTimestamp } from '../protocol/index.js';
import { TtrpcClient } from '../ttrpc/client.js';
import { describeError } from './error.js';

/** Event names and their topics, as containerd's runtime package defines them. */
export const EVENT_TOPICS = {
  TaskCreate: '/tasks/create',
  TaskStart: '/tasks/start',
  TaskExit: '/tasks/exit',
  TaskDelete: '/tasks/delete',
  TaskOOM: '/tasks/oom',
  TaskExecAdded: '/tasks/exec-added',
  TaskExecStarted: '/tasks/exec-started',
  TaskPaused: '/tasks/paused',
  TaskResumed: '/tasks/resumed',
  TaskCheckpointed: '/tasks/checkpointed',
} as const;

/** The name of a task event (`TaskExit`, …). */
export type TaskEventName = keyof typeof EVENT_TOPICS;

/** One event ready to send. */
export interface TaskEvent {
  /** e.g. `/tasks/exit` */
  readonly topic: string;
  /** Bare full protobuf name, e.g. `containerd.events.TaskExit`. */
  readonly typeName: string;
  /** The encoded event message. */
  readonly payload: Uint8Array;
  /** When it happened. */
  readonly timestamp: Date;
}

/** Builds a {@link TaskEvent} from an event message. */
export function taskEvent<T>(name: TaskEventName, type: MessageType<T>, message: T): TaskEvent {
  return {
    topic: EVENT_TOPICS[name],
    typeName: `containerd.events.${name}`,
    payload: encodeMessage(type, message),
    timestamp: new Date(),
  };
}

/** Where the task service sends events. Injected, so tests can collect them. */
export interface EventPublisher {
  /** Queues `event`; never throws, never blocks the caller. */
  publish(event: TaskEvent): void;
  /** Resolves when every queued event was sent or given up on. */
  flush(): Promise<void>;
  /** Stops sending and releases the connection. */
  close(): Promise<void>;
}

/** Service and method containerd serves for shims to forward events. */
const EVENTS_SERVICE = 'containerd.services.events.ttrpc.v1.Events';
const FORWARD_TIMEOUT_MS = 5000;
const MAX_ATTEMPTS = 5;

/** Publishes to containerd's ttrpc Events service. */
export class RemotePublisher implements EventPublisher {
  readonly #queue: TaskEvent[] = [];
  #client: TtrpcClient | undefined;
  #draining: Promise<void> | undefined;
  #closed = false;

  /**
   * @param address - containerd's ttrpc socket (`TTRPC_ADDRESS`), with or without `unix://`
   * @param namespace - the containerd namespace of this shim's containers
   */
  constructor(
    private readonly address: string,
    private readonly namespace: string,
    private readonly logger: Logger = silentLogger,
  ) {}

  publish(event: TaskEvent): void {
    if (this.#closed) return;
    this.#queue.push(event);
    this.#draining ??= this.#drain().finally(() => (this.#draining = undefined));
  }

  async flush(): Promise<void> {
    while (this.#draining) await this.#draining;
  }

  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
    this.#client?.close();
    this.#client = undefined;
  }

  async #drain(): Promise<void> {
    for (let event = this.#queue.shift(); event; event = this.#queue.shift()) {
      await this.#send(event);
    }
  }

  async #send(event: TaskEvent): Promise<void> {
    const request = encodeMessage(ForwardRequest, {
      envelope: Envelope.fromPartial({
        timestamp: toTimestamp(event.timestamp),
        namespace: this.namespace,
        topic: event.topic,
        event: packAny(event.typeName, event.payload),
      }),
    });
    for (let attempt = 1; attempt <= MAX_ATTEMPTS && !this.#closed; attempt++) {
      try {
        this.#client ??= await TtrpcClient.connect(this.address.replace(/^unix:\/\//, ''));
        await this.#client.call(EVENTS_SERVICE, 'Forward', request, { timeoutMs: FORWARD_TIMEOUT_MS });
        return;
      } catch (err) {
        this.#client?.close();
        this.#client = undefined;
        this.logger.log(attempt === MAX_ATTEMPTS ? 'error' : 'warn', 'forwarding event failed', {
          topic: event.topic,
          attempt,
          error: describeError(err),
        });
        if (attempt < MAX_ATTEMPTS) await new Promise((r) => setTimeout(r, attempt * 1000));
      }
    }
  }
}

/** Collects events in memory; for tests and for shims without containerd. */
export class MemoryPublisher implements EventPublisher {
  /** Every event published, in order. */
  readonly events: TaskEvent[] = [];

  publish(event: TaskEvent): void {
    this.events.push(event);
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {}

  /** The topics published so far, in order. */
  topics(): string[] {
    return this.events.map((e) => e.topic);
  }
}
