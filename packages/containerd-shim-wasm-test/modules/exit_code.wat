;; Exits with status 42 through proc_exit, so runtimes must report a non-zero guest exit.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (func $main (export "_start")
    (call $proc_exit (i32.const 42))))
