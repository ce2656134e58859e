import { Any, BootstrapParams, encodeMessage } from '../../src/protocol';
import { parseStartInput, socketPath } from '../../src/sandbox/manager';

describe('socketPath', () => {
  it('hashes containerd address, namespace and group as containerd shims do', () => {
    expect(socketPath('/run/containerd/containerd.sock', 'default', 'mycontainer')).toBe(
      '/run/containerd/s/3272bea47699920557fd8e0ecc9b0fbad8bbcd98de96f30b484690cc72ca67be',
    );
  });

  it('gives two containerds on one host different sockets for the same group', () => {
    expect(socketPath('/a/containerd.sock', 'default', 'g')).not.toBe(socketPath('/b/containerd.sock', 'default', 'g'));
  });

  it('stays within the 108-byte unix socket path limit', () => {
    expect(Buffer.byteLength(socketPath('/run/containerd/containerd.sock', 'ns', 'g'))).toBeLessThan(107);
  });
});

describe('parseStartInput', () => {
  const flags = { id: 'c1', namespace: 'default' };

  it('reads nothing from empty stdin (containerd passes /dev/null without options)', () => {
    expect(parseStartInput(new Uint8Array(), flags)).toEqual({});
  });

  it('takes socket_dir and the options extension from containerd 2.3 BootstrapParams', () => {
    const options = { typeUrl: 'runtimeoptions.v1.Options', value: Buffer.from([0x12, 0x01, 0x61]) };
    const bytes = encodeMessage(
      BootstrapParams,
      BootstrapParams.fromPartial({ instanceId: 'c1', namespace: 'default', socketDir: '/run/s', extensions: [{ value: options }] }),
    );
    const input = parseStartInput(bytes, flags);
    expect(input.socketDir).toBe('/run/s');
    expect(input.options?.typeUrl).toBe('runtimeoptions.v1.Options');
  });

  it('treats a legacy Any as runtime options even though it also parses as BootstrapParams', () => {
    const bytes = encodeMessage(Any, { typeUrl: 'runtimeoptions.v1.Options', value: Buffer.from([]) });
    expect(parseStartInput(bytes, flags)).toEqual({ options: { typeUrl: 'runtimeoptions.v1.Options', value: Buffer.from([]) } });
  });

  it('ignores bytes that are neither', () => {
    expect(parseStartInput(Buffer.from([0xff, 0xff, 0xff]), flags)).toEqual({});
  });
});
