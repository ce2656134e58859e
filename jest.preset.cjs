// Shared jest settings: TypeScript through ts-jest (transpile only; `tsc -b` type-checks),
// `.js` import specifiers mapped back to the `.ts` sources.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.spec.json', diagnostics: false }],
  },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '\\.e2e\\.test\\.ts$'],
  reporters: ['default', require.resolve('./scripts/jest-summary-reporter.cjs')],
};
