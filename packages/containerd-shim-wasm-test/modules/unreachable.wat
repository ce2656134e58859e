;; Traps immediately: exercises the "guest crashed" path rather than a clean exit.
(module
  (memory (export "memory") 1)
  (func $main (export "_start")
    unreachable))
