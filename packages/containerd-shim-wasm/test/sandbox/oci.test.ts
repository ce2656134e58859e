import { groupId, rootfsPath, validateSpec } from '../../src/sandbox/oci';

describe('validateSpec', () => {
  it('accepts a minimal spec', () => {
    expect(validateSpec({ process: { args: ['a.wasm'], env: [] } })).toBeDefined();
  });

  it.each([
    ['a non-object', [], 'must be a JSON object'],
    ['args that are not strings', { process: { args: [1] } }, 'process.args'],
    ['env that is a string', { process: { env: 'A=1' } }, 'process.env'],
    ['a root without path', { root: {} }, 'root.path'],
    ['non-string annotations', { annotations: { a: 1 } }, 'annotations'],
  ])('rejects %s with INVALID_ARGUMENT naming the field', (_what, spec, field) => {
    expect(() => validateSpec(spec)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining(field) }));
  });
});

describe('rootfsPath', () => {
  it('resolves a relative root.path against the bundle', () => {
    expect(rootfsPath('/b', { root: { path: 'rootfs' } })).toBe('/b/rootfs');
  });

  it('keeps an absolute root.path', () => {
    expect(rootfsPath('/b', { root: { path: '/elsewhere' } })).toBe('/elsewhere');
  });
});

describe('groupId', () => {
  it('prefers the runc group annotation, then the CRI sandbox id, then the container id', () => {
    const both = { annotations: { 'io.containerd.runc.v2.group': 'g', 'io.kubernetes.cri.sandbox-id': 's' } };
    expect(groupId(both, 'c')).toBe('g');
    expect(groupId({ annotations: { 'io.kubernetes.cri.sandbox-id': 's' } }, 'c')).toBe('s');
    expect(groupId(undefined, 'c')).toBe('c');
  });
});
