import { createRuntimeContext, envToObject, parseEntrypoint } from '../../src/container/context';

describe('parseEntrypoint', () => {
  it('calls _start of the module named by args[0] when no function is given', () => {
    expect(parseEntrypoint('/app/hello.wasm')).toEqual({
      func: '_start',
      arg0: '/app/hello.wasm',
      name: 'hello',
      source: { kind: 'file', path: '/app/hello.wasm' },
    });
  });

  it('splits a #func suffix off the module path', () => {
    expect(parseEntrypoint('/app/hello.wasm#foo')).toMatchObject({ func: 'foo', arg0: '/app/hello.wasm' });
  });

  it('treats an empty #suffix as _start', () => {
    expect(parseEntrypoint('hello.wasm#').func).toBe('_start');
  });

  it('takes the module from wasm layers when the image has them', () => {
    const layers = [{ mediaType: 'application/wasm', bytes: new Uint8Array([0, 97, 115, 109]) }];
    expect(parseEntrypoint('app.wasm', layers).source).toEqual({ kind: 'oci', layers });
  });
});

describe('createRuntimeContext', () => {
  it('defaults the working directory to / and keeps args and env as given', () => {
    const ctx = createRuntimeContext('c1', { args: ['a.wasm', 'x'], env: ['A=1'] });
    expect(ctx).toMatchObject({ id: 'c1', args: ['a.wasm', 'x'], env: ['A=1'], cwd: '/' });
  });
});

describe('envToObject', () => {
  it('splits on the first = and keeps the last of duplicate names', () => {
    expect(envToObject(['A=1=2', 'B=', 'A=3', 'BROKEN'])).toEqual({ A: '3', B: '' });
  });
});
