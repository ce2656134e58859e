;; Prints "hello world\n" to stdout from the WASI command entry point.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  ;; Hosts such as node:wasi refuse to start an instance without an exported memory.
  (memory (export "memory") 1)
  ;; iovec at 0: { buf = 16, len = 12 }; the text at 16; nwritten lands at 8.
  (data (i32.const 0) "\10\00\00\00\0c\00\00\00")
  (data (i32.const 16) "hello world\n")
  (func $main (export "_start")
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
