/**
 * Ahead-of-time compilation of guests through the framework's precompilation cache.
 *
 * With a compiler in the library, the engine offers a `precompiler`: the framework keeps its
 * artifacts in containerd's content store, labelled on the module's blob, and hands a cached one
 * to the next container of the same module as `ctx.precompiled`. An artifact is WasmEdge's
 * "universal" format: the module with the native code in custom sections named `wasmedge*`.
 * WasmEdge runs such code as it finds it, so the module from the image is first stripped of any
 * such sections: native code only ever comes from our own compiler.
 */

function readLeb(bytes: Uint8Array, at: number): [value: number, next: number] {
  let value = 0;
  let shift = 0;
  for (;;) {
    if (at >= bytes.length) throw new Error('truncated LEB128');
    const byte = bytes[at++]!;
    value += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return [value, at];
    shift += 7;
    if (shift > 35) throw new Error('LEB128 too long');
  }
}

/**
 * `bytes` without custom sections whose name starts with `wasmedge`; the same bytes when it has
 * none. Throws on a malformed section layout (the VM would refuse the module anyway).
 */
export function stripWasmEdgeSections(bytes: Uint8Array): Uint8Array {
  if (bytes.length < 8) throw new Error('shorter than the WebAssembly header');
  const keep: Uint8Array[] = [bytes.subarray(0, 8)];
  let stripped = false;
  let at = 8;
  while (at < bytes.length) {
    const start = at;
    const id = bytes[at++]!;
    const [size, body] = readLeb(bytes, at);
    const end = body + size;
    if (end > bytes.length) throw new Error('section runs past the end of the module');
    let drop = false;
    if (id === 0) {
      const [nameLength, nameAt] = readLeb(bytes, body);
      const name = Buffer.from(bytes.subarray(nameAt, Math.min(nameAt + nameLength, end))).toString('latin1');
      drop = name.startsWith('wasmedge');
    }
    if (drop) stripped = true;
    else keep.push(bytes.subarray(start, end));
    at = end;
  }
  return stripped ? Buffer.concat(keep) : bytes;
}
