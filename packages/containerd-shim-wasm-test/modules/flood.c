// `flood <MiB>`: writes <MiB> MiB to stdout as 16-byte lines `%015u\n` counting up from 0, in
// 64 KiB writes, then exits 0. A test can check every byte of the output: its size and that line
// n reads n. A failed or short write ends it with exit 1 and a line on stderr.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LINE 16
#define BUF (64 * 1024)

static char buf[BUF];

int main(int argc, char **argv) {
  long mib = argc > 1 ? strtol(argv[1], NULL, 10) : 1;
  if (mib <= 0) {
    fprintf(stderr, "flood: usage: flood <MiB>\n");
    return 1;
  }
  unsigned long long lines = (unsigned long long)mib * 1024 * 1024 / LINE;
  unsigned long long n = 0;
  while (n < lines) {
    size_t used = 0;
    while (used < BUF && n < lines) {
      unsigned long long v = n++;
      char *line = buf + used;
      for (int d = LINE - 2; d >= 0; d--) {
        line[d] = (char)('0' + v % 10);
        v /= 10;
      }
      line[LINE - 1] = '\n';
      used += LINE;
    }
    size_t off = 0;
    while (off < used) {
      ssize_t w = write(1, buf + off, used - off);
      if (w <= 0) {
        fprintf(stderr, "flood: write failed after %llu lines: %s\n", n, strerror(errno));
        return 1;
      }
      off += (size_t)w;
    }
  }
  return 0;
}
