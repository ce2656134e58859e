/**
 * Binds the {@link TaskService} to a ttrpc server under both task API names containerd speaks.
 *
 * Methods the service does not implement (Exec, Checkpoint) are left out: the server answers
 * them with code 12 (Unimplemented), which containerd reports as "not implemented".
 */
import {
  CloseIORequest,
  ConnectRequest,
  ConnectResponse,
  CreateTaskRequest,
  CreateTaskResponse,
  DeleteRequest,
  DeleteResponse,
  Empty,
  KillRequest,
  PauseRequest,
  PidsRequest,
  PidsResponse,
  ResizePtyRequest,
  ResumeRequest,
  ShutdownRequest,
  StartRequest,
  StartResponse,
  StateRequest,
  StateResponse,
  StatsRequest,
  StatsResponse,
  UpdateTaskRequest,
  WaitRequest,
  WaitResponse,
} from '../protocol/index.js';
import type { CallContext, ServiceDefinition, TtrpcServer } from '../ttrpc/server.js';
import { method } from '../ttrpc/server.js';
import type { Tracer } from './otel.js';
import { parseTraceparent } from './otel.js';
import type { TaskService } from './shim.js';

/** Service names of the task API: v2 for containerd 1.x and 2.x, v3 when a 2.x shim asks for it. */
export const TASK_SERVICE_NAMES = ['containerd.task.v2.Task', 'containerd.task.v3.Task'] as const;

const empty = (): Empty => ({});

/** The ttrpc method table of `service`. */
export function taskServiceDefinition(service: TaskService): ServiceDefinition {
  return {
    Create: method(CreateTaskRequest, CreateTaskResponse, (req) => service.create(req)),
    Start: method(StartRequest, StartResponse, (req) => service.start(req)),
    Wait: method(WaitRequest, WaitResponse, (req) => service.wait(req)),
    State: method(StateRequest, StateResponse, (req) => service.state(req)),
    Kill: method(KillRequest, Empty, (req) => service.kill(req).then(empty)),
    Pids: method(PidsRequest, PidsResponse, (req) => service.pids(req)),
    CloseIO: method(CloseIORequest, Empty, (req) => service.closeIO(req).then(empty)),
    ResizePty: method(ResizePtyRequest, Empty, (req) => service.resizePty(req).then(empty)),
    Pause: method(PauseRequest, Empty, (req) => service.pause(req).then(empty)),
    Resume: method(ResumeRequest, Empty, (req) => service.resume(req).then(empty)),
    Stats: method(StatsRequest, StatsResponse, (req) => service.stats(req)),
    Update: method(UpdateTaskRequest, Empty, (req) => service.update(req).then(empty)),
    Delete: method(DeleteRequest, DeleteResponse, (req) => service.delete(req)),
    Connect: method(ConnectRequest, ConnectResponse, (req) => service.connect(req)),
    Shutdown: method(ShutdownRequest, Empty, (req) => service.shutdown(req).then(empty)),
  };
}

/**
 * Wraps every method of `definition` in a server span of `tracer`, a child of the W3C
 * `traceparent` containerd sent in the request metadata, if any.
 */
export function tracedDefinition(definition: ServiceDefinition, tracer: Tracer, service: string): ServiceDefinition {
  const traced: ServiceDefinition = {};
  for (const [name, def] of Object.entries(definition)) {
    traced[name] = {
      ...def,
      handler: async (req: unknown, ctx: CallContext) => {
        const span = tracer.startSpan(name, parseTraceparent(ctx.metadata['traceparent']?.[0]));
        span.set('rpc.system', 'ttrpc');
        span.set('rpc.service', service);
        span.set('rpc.method', name);
        const id = (req as { id?: unknown }).id;
        if (typeof id === 'string' && id) span.set('container.id', id);
        try {
          const result = await def.handler(req, ctx);
          span.end();
          return result;
        } catch (err) {
          span.end(err);
          throw err;
        }
      },
    };
  }
  return traced;
}

/** Registers `service` on `server` under every task API name, traced when `tracer` is given. */
export function registerTaskService(server: TtrpcServer, service: TaskService, tracer?: Tracer): void {
  const definition = taskServiceDefinition(service);
  for (const name of TASK_SERVICE_NAMES) {
    server.register(name, tracer ? tracedDefinition(definition, tracer, name) : definition);
  }
}
