// Any packing: events go to containerd 1.6 with BARE type URLs, which is all its registry resolves.
import { TaskExit } from '../../src/gen/containerd/events/task.js';
import { Envelope } from '../../src/gen/containerd/services/events/ttrpc/v1/events.js';
import { Any } from '../../src/gen/google/protobuf/any.js';
import { isAnyOf, packAny, unpackAny } from '../../src/protocol/any.js';
import { toTimestamp } from '../../src/protocol/timestamp.js';
import { ShimError } from '../../src/sandbox/error.js';

const exit = { containerId: 'c1', id: 'c1', pid: 42, exitStatus: 3, exitedAt: toTimestamp(new Date(0)) };

describe(packAny, () => {
  it('uses the bare type name as the type URL, with no type.googleapis.com prefix', () => {
    const any = packAny('containerd.events.TaskExit', TaskExit.encode(exit).finish());
    expect(any.typeUrl).toBe('containerd.events.TaskExit');
    const wire = Buffer.from(Any.encode(any).finish());
    expect(wire.subarray(0, 2).toString('hex')).toBe('0a1a');
    expect(wire.subarray(2, 28).toString()).toBe('containerd.events.TaskExit');
  });

  it('accepts a plain Uint8Array and yields an Any that encodes', () => {
    const any = packAny('x.Y', new Uint8Array([1, 2, 3]));
    expect(Buffer.from(Any.encode(any).finish()).toString('hex')).toBe('0a03782e5912' + '03010203');
  });
});

describe(unpackAny, () => {
  it('returns the message bytes of a matching bare type URL', () => {
    const any = packAny('containerd.events.TaskExit', TaskExit.encode(exit).finish());
    expect(TaskExit.decode(unpackAny(any, 'containerd.events.TaskExit'))).toEqual(exit);
  });

  it('accepts the type.googleapis.com/ form of a bare name', () => {
    const any = {
      typeUrl: 'type.googleapis.com/runtimeoptions.v1.Options',
      value: Buffer.from([0x0a, 0x00]),
    };
    expect(Buffer.from(unpackAny(any, 'runtimeoptions.v1.Options')).toString('hex')).toBe('0a00');
  });

  it('throws INVALID_ARGUMENT for another type', () => {
    const any = packAny('containerd.events.TaskStart', new Uint8Array());
    expect(() => unpackAny(any, 'containerd.events.TaskExit')).toThrow(ShimError);
    try {
      unpackAny(any, 'containerd.events.TaskExit');
    } catch (err) {
      expect((err as ShimError).code).toBe('INVALID_ARGUMENT');
    }
  });
});

describe(isAnyOf, () => {
  it('matches a URL-shaped type name only exactly', () => {
    const url = 'types.containerd.io/opencontainers/runtime-spec/1/Process';
    expect(isAnyOf({ typeUrl: url, value: Buffer.alloc(0) }, url)).toBe(true);
    expect(isAnyOf({ typeUrl: `other.io/${url}`, value: Buffer.alloc(0) }, url)).toBe(false);
  });

  it('does not match a name that only shares a suffix', () => {
    expect(isAnyOf({ typeUrl: 'foo.TaskExit', value: Buffer.alloc(0) }, 'TaskExit')).toBe(false);
    expect(
      isAnyOf({ typeUrl: 'x/containerd.events.TaskExit', value: Buffer.alloc(0) }, 'events.TaskExit'),
    ).toBe(false);
  });
});

describe('an Envelope carrying a packed event', () => {
  it('round-trips through Envelope encode and decode', () => {
    const envelope = {
      timestamp: toTimestamp(new Date('2024-01-02T03:04:05.006Z')),
      namespace: 'default',
      topic: '/tasks/exit',
      event: packAny('containerd.events.TaskExit', TaskExit.encode(exit).finish()),
    };
    const decoded = Envelope.decode(Envelope.encode(envelope).finish());
    expect(decoded.topic).toBe('/tasks/exit');
    expect(decoded.event?.typeUrl).toBe('containerd.events.TaskExit');
    expect(TaskExit.decode(unpackAny(decoded.event!, 'containerd.events.TaskExit'))).toEqual(exit);
  });
});
