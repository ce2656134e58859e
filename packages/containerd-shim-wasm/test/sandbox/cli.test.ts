import { parseArgs } from '../../src/sandbox/cli';

describe('parseArgs', () => {
  it('reads the flags containerd passes to start', () => {
    const parsed = parseArgs([
      '-namespace', 'default', '-address', '/run/containerd/containerd.sock',
      '-publish-binary', '/usr/bin/containerd', '-id', 't1', '-debug', 'start',
    ]);
    expect(parsed.action).toBe('start');
    expect(parsed.flags).toMatchObject({
      namespace: 'default',
      address: '/run/containerd/containerd.sock',
      publishBinary: '/usr/bin/containerd',
      id: 't1',
      debug: true,
    });
  });

  it('accepts -flag=value and --flag forms', () => {
    const parsed = parseArgs(['--namespace=k8s.io', '-bundle=/b', '--id', 'x', 'delete']);
    expect(parsed.flags).toMatchObject({ namespace: 'k8s.io', bundle: '/b', id: 'x' });
    expect(parsed.action).toBe('delete');
  });

  it('treats -v and -info as booleans', () => {
    expect(parseArgs(['-v'])).toMatchObject({ version: true, action: '' });
    expect(parseArgs(['-info'])).toMatchObject({ info: true });
  });

  it('rejects an unknown flag the way Go does', () => {
    expect(() => parseArgs(['-bogus', 'start'])).toThrow('flag provided but not defined: -bogus');
  });

  it('rejects a value flag without its value', () => {
    expect(() => parseArgs(['-id'])).toThrow('flag needs an argument: -id');
  });
});
