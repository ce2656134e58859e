/*
 * Dense double matrix multiply C = A x B, n x n, i-k-j loop order (row-major streaming).
 * Argument: n (default 640). Prints the sum of C and one element.
 */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  long n = argc > 1 ? strtol(argv[1], NULL, 10) : 640;
  double *a = malloc(sizeof(double) * n * n), *b = malloc(sizeof(double) * n * n);
  double *c = calloc((size_t)(n * n), sizeof(double));
  if (!a || !b || !c) return 1;
  for (long i = 0; i < n * n; i++) {
    a[i] = (double)(i % 17) * 0.25 - 2.0;
    b[i] = (double)(i % 13) * 0.5 - 3.0;
  }
  for (long i = 0; i < n; i++) {
    for (long k = 0; k < n; k++) {
      double aik = a[i * n + k];
      for (long j = 0; j < n; j++) c[i * n + j] += aik * b[k * n + j];
    }
  }
  double sum = 0;
  for (long i = 0; i < n * n; i++) sum += c[i];
  printf("matmul(%ld) checksum=%.6f %.6f\n", n, sum, c[(n / 2) * n + n / 3]);
  free(a), free(b), free(c);
  return 0;
}
