/*
 * Sieve of Eratosthenes over a byte array, repeated: memory stores with strides, and branches.
 * Arguments: repeats (default 30) over 8 Mi numbers. Prints the prime count and the largest prime.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  long repeats = argc > 1 ? strtol(argv[1], NULL, 10) : 30;
  long limit = 8L << 20;
  unsigned char *composite = malloc((size_t)limit + 1);
  if (!composite) return 1;
  long count = 0, largest = 0, total = 0;
  for (long r = 0; r < repeats; r++) {
    memset(composite, 0, (size_t)limit + 1);
    count = 0;
    for (long i = 2; i <= limit; i++) {
      if (composite[i]) continue;
      count++;
      largest = i;
      if (i > limit / i) continue; /* i * i would pass the limit (and overflow a 32-bit long on wasm32) */
      for (long j = i * i; j <= limit; j += i) composite[j] = 1;
    }
    total += count;
  }
  printf("sieve(%ld) checksum=%ld %ld %ld\n", repeats, count, largest, total);
  free(composite);
  return 0;
}
