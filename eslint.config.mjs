// Lint rules shared by every package. Library code never writes to stdout: containerd reads a
// shim's stdout as protocol, so `console` is banned outside scripts and tests.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/*.cjs', '**/*.js', '**/dist/**', '**/src/gen/**', '**/native/index.*', '**/node_modules/**', '**/dist-wasm/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      'no-console': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/test/**/*.ts', '**/scripts/**/*.ts', 'benches/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
);
