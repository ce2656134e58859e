/**
 * `google.protobuf.Any` packing with containerd's type URL rules.
 *
 * containerd 1.6 resolves event type URLs with gogo's registry, which only knows BARE full names
 * (`containerd.events.TaskExit`), so this module never adds the `type.googleapis.com/` prefix. On the
 * way in, both forms are accepted because containerd 2.x and other clients may send either.
 */
import type { Any } from '../gen/google/protobuf/any.js';
import { ShimError } from '../sandbox/error.js';
import { asBuffer } from './message.js';

/**
 * Wraps already-encoded message bytes in an Any whose type URL is exactly `typeName`.
 *
 * @param typeName - the bare full name (`containerd.events.TaskExit`), or a full URL for
 *   JSON-encoded registered types (`types.containerd.io/opencontainers/runtime-spec/1/Process`)
 * @param value - the encoded message; kept by reference, not copied
 */
export function packAny(typeName: string, value: Uint8Array): Any {
  return { typeUrl: typeName, value: asBuffer(value) };
}

/**
 * True when `any` carries a message of type `typeName`.
 *
 * A bare `typeName` (no `/`) also matches any URL prefix such as `type.googleapis.com/`; a name
 * containing `/` must match the type URL exactly.
 */
export function isAnyOf(any: Any, typeName: string): boolean {
  if (any.typeUrl === typeName) return true;
  if (typeName.includes('/')) return false;
  return any.typeUrl.endsWith(`/${typeName}`);
}

/**
 * Returns the encoded message inside `any` after checking its type.
 *
 * @throws ShimError INVALID_ARGUMENT when the type URL does not match `typeName` (see {@link isAnyOf})
 */
export function unpackAny(any: Any, typeName: string): Uint8Array {
  if (!isAnyOf(any, typeName)) {
    throw new ShimError(
      'INVALID_ARGUMENT',
      `expected an Any of type ${typeName}, got ${JSON.stringify(any.typeUrl)}`,
    );
  }
  return any.value;
}
