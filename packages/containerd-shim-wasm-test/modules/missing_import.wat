;; Imports a function no WASI host provides (`env.nobody_provides`) and calls it from `_start`:
;; an engine must refuse it at create or fail the run with a message naming the import.
(module
  (import "env" "nobody_provides" (func $nobody_provides (param i32) (result i32)))
  (memory (export "memory") 1)
  (func $main (export "_start")
    (drop (call $nobody_provides (i32.const 42)))))
