;; Same output as hello_world.wat, but only reachable through the export "foo":
;; there is deliberately no `_start`, so a runtime must honour `#foo` in the entrypoint.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "\10\00\00\00\0c\00\00\00")
  (data (i32.const 16) "hello world\n")
  (func $foo (export "foo")
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
