import { readFileSync } from 'node:fs';

import { TEST_MODULES, testModule, testModulePath } from '../src/modules';

describe('test modules', () => {
  it.each(TEST_MODULES)('%s is built and starts with the wasm magic', (name) => {
    const bytes = readFileSync(testModulePath(name));
    expect([...bytes.subarray(0, 4)]).toEqual([0x00, 0x61, 0x73, 0x6d]);
    expect(testModule(name).equals(bytes)).toBe(true);
  });
});
