// The generated messages, reached through src/protocol, against byte vectors and field numbers of
// the reference; a wrong field number in our .proto files fails here.
import {
  Any,
  BootstrapParams,
  ConnectRequest,
  ConnectResponse,
  CreateTaskRequest,
  Empty,
  Mount,
  ProcessStatus,
  RuntimeInfo,
  RuntimeOptions,
  StateResponse,
  Status,
  TaskDelete,
  UpdateTaskRequest,
  encodeMessage,
  decodeMessage,
  packAny,
  toTimestamp,
} from '../../src/protocol/index.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

describe('task v2 messages', () => {
  it('encode ConnectRequest{id:"t1"} as in the reference Connect vector', () => {
    expect(hex(encodeMessage(ConnectRequest, { id: 't1' }))).toBe('0a027431');
  });

  it('encode ConnectResponse{shim_pid:4242, task_pid:4250} as in the reference vector', () => {
    expect(hex(encodeMessage(ConnectResponse, { shimPid: 4242, taskPid: 4250, version: '' }))).toBe(
      '089221109a21',
    );
  });

  it('encode an empty message to zero bytes', () => {
    expect(encodeMessage(Empty, {})).toHaveLength(0);
  });

  it('put StateResponse.status at field 4 and exec_id at field 11', () => {
    const bytes = encodeMessage(
      StateResponse,
      StateResponse.fromPartial({
        status: ProcessStatus.STOPPED,
        execId: 'e',
        exitedAt: toTimestamp(undefined),
      }),
    );
    expect(hex(bytes)).toBe('2003' + '520b088092b8c398feffffff01' + '5a0165');
  });

  it('round-trips a CreateTaskRequest with rootfs mounts and options', () => {
    const request = CreateTaskRequest.fromPartial({
      id: 'c1',
      bundle: '/run/containerd/io.containerd.runtime.v2.task/default/c1',
      rootfs: [{ type: 'overlay', source: 'overlay', target: '', options: ['lowerdir=/a:/b', 'index=off'] }],
      stdout: '/tmp/out',
      options: packAny(
        'runtimeoptions.v1.Options',
        encodeMessage(RuntimeOptions, RuntimeOptions.fromPartial({})),
      ),
    });
    expect(decodeMessage(CreateTaskRequest, encodeMessage(CreateTaskRequest, request))).toEqual(request);
  });

  it('encode UpdateTaskRequest annotations as map entries at field 3', () => {
    const bytes = encodeMessage(UpdateTaskRequest, { id: '', resources: undefined, annotations: { k: 'v' } });
    expect(hex(bytes)).toBe('1a06' + '0a016b' + '120176');
    expect(decodeMessage(UpdateTaskRequest, bytes).annotations).toEqual({ k: 'v' });
  });
});

describe('event messages', () => {
  it('put TaskDelete.id at field 5 after exited_at at field 4', () => {
    const bytes = encodeMessage(
      TaskDelete,
      TaskDelete.fromPartial({ containerId: 'c', exitedAt: { seconds: 1, nanos: 0 }, id: 'e' }),
    );
    expect(hex(bytes)).toBe('0a0163' + '22020801' + '2a0165');
  });
});

describe('shared types', () => {
  it('encode Mount fields 1 to 4', () => {
    expect(hex(encodeMessage(Mount, { type: 'b', source: 's', target: 't', options: ['o'] }))).toBe(
      '0a0162' + '120173' + '1a0174' + '22016f',
    );
  });

  it('encode google.rpc.Status as in the reference NotFound vector', () => {
    const bytes = encodeMessage(Status, {
      code: 5,
      message: 'container not created: not found',
      details: [],
    });
    expect(hex(bytes)).toBe(
      '0805' + '1220' + Buffer.from('container not created: not found').toString('hex'),
    );
  });

  it('encode runtimeoptions.v1.Options with config_body at field 3', () => {
    const bytes = encodeMessage(RuntimeOptions, {
      typeUrl: 't',
      configPath: '/p',
      configBody: Buffer.from('x'),
    });
    expect(hex(bytes)).toBe('0a0174' + '12022f70' + '1a0178');
  });

  it('decode an empty -info output as an empty RuntimeInfo', () => {
    expect(decodeMessage(RuntimeInfo, new Uint8Array())).toEqual(RuntimeInfo.fromPartial({}));
  });
});

describe('BootstrapParams', () => {
  it('distinguishes an absent socket_dir from an empty one', () => {
    const absent = decodeMessage(
      BootstrapParams,
      encodeMessage(BootstrapParams, BootstrapParams.fromPartial({})),
    );
    const empty = decodeMessage(
      BootstrapParams,
      encodeMessage(BootstrapParams, BootstrapParams.fromPartial({ socketDir: '' })),
    );
    expect(absent.socketDir).toBeUndefined();
    expect(empty.socketDir).toBe('');
  });

  it('encodes a negative log level as a 10-byte varint at field 3', () => {
    const bytes = encodeMessage(BootstrapParams, BootstrapParams.fromPartial({ logLevel: -4 }));
    expect(hex(bytes)).toBe('18fcffffffffffffffff01');
    expect(decodeMessage(BootstrapParams, bytes).logLevel).toBe(-4);
  });

  it('decodes a legacy options Any with its type URL landing in instance_id', () => {
    // This is why start must compare instance_id with -id before trusting the bootstrap form.
    const anyBytes = encodeMessage(Any, packAny('runtimeoptions.v1.Options', new Uint8Array([0x0a, 0x00])));
    expect(decodeMessage(BootstrapParams, anyBytes).instanceId).toBe('runtimeoptions.v1.Options');
  });
});
