/** Version of this shim, printed by `containerd-shim-wasmer-v1 -v`. */
export const VERSION = '0.1.0';
