// globalSetup fetches Debian 13's WasmEdge (scripts/fetch-wasmedge.sh) when the system has no
// libwasmedge, and fails the run when that fetch fails.
module.exports = { ...require('../../jest.preset.cjs'), globalSetup: '<rootDir>/test/global-setup.cjs' };
