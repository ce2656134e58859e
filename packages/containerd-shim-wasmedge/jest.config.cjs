// globalSetup fetches WasmEdge (scripts/fetch-wasmedge.sh) when no install is found, and fails
// the run when that fetch fails: the suite never silently skips for want of WasmEdge.
module.exports = { ...require('../../jest.preset.cjs'), globalSetup: '<rootDir>/test/global-setup.cjs' };
