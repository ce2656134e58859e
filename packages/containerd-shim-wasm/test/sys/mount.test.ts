import { MS } from '../../src/sys/unix/native';
import { parseMountOptions } from '../../src/sys/unix/mount';

describe('parseMountOptions', () => {
  it('keeps overlay options as filesystem data', () => {
    expect(parseMountOptions(['index=off', 'workdir=/w', 'upperdir=/u', 'lowerdir=/a:/b'])).toEqual({
      flags: 0,
      data: 'index=off,workdir=/w,upperdir=/u,lowerdir=/a:/b',
    });
  });

  it('turns a read-only recursive bind into mount flags', () => {
    expect(parseMountOptions(['ro', 'rbind'])).toEqual({ flags: MS.RDONLY | MS.BIND | MS.REC, data: '' });
  });

  it('lets a later rw clear an earlier ro', () => {
    expect(parseMountOptions(['ro', 'rw', 'bind']).flags).toBe(MS.BIND);
  });
});
