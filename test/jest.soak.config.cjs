// Soak tests: minutes-long load and volume runs under a private containerd. Only `test:soak`
// (`pnpm nx run @runwasi/e2e:test:soak`, or `npm run test:soak` at the root) runs them; the
// default config of this package picks only the end-to-end tests.
module.exports = {
  ...require('./jest.config.cjs'),
  testMatch: ['<rootDir>/soak/**/*.soak.test.ts'],
  testTimeout: 30 * 60 * 1000,
};
