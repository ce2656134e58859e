/* Recursive Fibonacci: function calls and integer adds, nothing else. Argument: n (default 38). */
#include <stdio.h>
#include <stdlib.h>

static unsigned long fib(unsigned n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

int main(int argc, char **argv) {
  unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 38;
  printf("fib(%u) checksum=%lu\n", n, fib(n));
  return 0;
}
