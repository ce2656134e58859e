/**
 * @runwasi/containerd-shim-wasm-test: what an engine package needs to test itself the way the
 * built-in engines are tested: shared wasm test modules, a bundle harness, the conformance suite,
 * and a private containerd for end-to-end tests.
 *
 * @packageDocumentation
 */
export type { ConformanceOptions } from './conformance.js';
export { canRunContainers, describeConformance } from './conformance.js';
export type { TestModuleName } from './modules.js';
export { TEST_MODULES, testModule, testModulePath } from './modules.js';
export type { EngineUnderTest, WasiTestOptions, WasiTestResult } from './wasi_test.js';
export { WasiTest } from './wasi_test.js';
export { GuestFiles } from './guest_files.js';
export type { ContainerdOptions, CommandResult, CriOptions } from './containerd.js';
export { criConfig, mountsUnder, PrivateContainerd, run } from './containerd.js';
