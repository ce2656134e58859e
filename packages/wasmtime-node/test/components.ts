import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** Test components built by `build:wasm` from modules/ (see scripts/build-components.sh). */
export type TestComponent = 'command' | 'hello_http';

/** Path of a built test component; throws naming the build command when it is missing. */
export function testComponentPath(name: TestComponent): string {
  const path = resolve(__dirname, '..', 'dist-wasm', `${name}.wasm`);
  if (!existsSync(path)) {
    throw new Error(`test component ${name} is not built: run pnpm nx run @runwasi/wasmtime-node:build:wasm`);
  }
  return path;
}

/** Bytes of a built test component. */
export function testComponent(name: TestComponent): Buffer {
  return readFileSync(testComponentPath(name));
}
