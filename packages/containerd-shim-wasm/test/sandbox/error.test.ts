import { fromAddonError, ShimError } from '../../src/sandbox/error';

describe('fromAddonError', () => {
  const napiError = (code: string, message: string): Error => Object.assign(new Error(message), { code });

  it("maps napi's InvalidArg to INVALID_ARGUMENT and keeps the message behind the prefix", () => {
    const err = fromAddonError(napiError('InvalidArg', 'invalid WebAssembly module: bad magic'), '/app.wasm: ');
    expect(err).toBeInstanceOf(ShimError);
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', message: '/app.wasm: invalid WebAssembly module: bad magic' });
  });

  it('maps any other failure to INTERNAL', () => {
    expect(fromAddonError(napiError('GenericFailure', 'boom'))).toMatchObject({ code: 'INTERNAL', message: 'boom' });
    expect(fromAddonError('a string')).toMatchObject({ code: 'INTERNAL', message: 'a string' });
  });

  it('leaves a ShimError as it is', () => {
    const original = new ShimError('NOT_FOUND', 'gone');
    expect(fromAddonError(original, 'ignored: ')).toBe(original);
  });
});
