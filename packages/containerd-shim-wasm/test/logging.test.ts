import { formatLogLine } from '../src/logging';

describe('formatLogLine', () => {
  const now = new Date('2026-01-02T03:04:05.678Z');

  it('writes logfmt with time, level, msg and fields as containerd shims do', () => {
    expect(formatLogLine('info', 'container created', { id: 'c1', pid: 42 }, now)).toBe(
      'time="2026-01-02T03:04:05.678Z" level=info msg="container created" id=c1 pid=42',
    );
  });

  it('quotes values with spaces or quotes and drops undefined fields', () => {
    expect(formatLogLine('error', 'x', { error: 'a "b" c', skip: undefined }, now)).toBe(
      'time="2026-01-02T03:04:05.678Z" level=error msg="x" error="a \\"b\\" c"',
    );
  });
});
