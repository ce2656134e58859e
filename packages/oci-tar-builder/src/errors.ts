/**
 * The caller asked for something that cannot be built: a missing or unreadable input file, a file
 * that is not wasm, conflicting settings, an invalid image name. The CLI maps it to exit code 2;
 * any other error is an unexpected failure (exit code 1).
 */
export class InvalidInputError extends Error {
  override name = 'InvalidInputError';
}
