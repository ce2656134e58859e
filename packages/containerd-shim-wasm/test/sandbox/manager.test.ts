import { socketPath } from '../../src/sandbox/manager';

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
