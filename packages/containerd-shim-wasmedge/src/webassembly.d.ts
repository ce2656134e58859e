// The WebAssembly global of V8, as far as this package uses it (validation and the import list at
// Create). TypeScript ships its types only in the DOM library, which a Node package should not pull in.
declare namespace WebAssembly {
  interface ModuleImportDescriptor {
    module: string;
    name: string;
    kind: string;
  }
  class Module {
    constructor(bytes: Uint8Array);
    static imports(module: Module): ModuleImportDescriptor[];
  }
}
