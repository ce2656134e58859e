// The WebAssembly global of V8, as far as this package uses it. TypeScript ships its types only in
// the DOM library, which a Node package should not pull in.
declare namespace WebAssembly {
  function validate(bytes: Uint8Array): boolean;
}
