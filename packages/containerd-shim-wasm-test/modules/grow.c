// `grow <MiB>`: allocates and touches memory 1 MiB at a time, to test memory limits.
// Progress goes to stdout every 16 MiB (flushed, since the host may kill us at any moment).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIB (1024 * 1024)

// Each block stores a pointer to the previous one and the newest lives in a volatile global:
// without an observable use, clang is allowed to elide malloc+memset pairs entirely (it did),
// and the "allocation" would then never fail.
static void *volatile head;

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "grow: usage: grow <MiB>\n");
    return 1;
  }
  long target = strtol(argv[1], NULL, 10);
  if (target < 0) {
    fprintf(stderr, "grow: invalid size %s\n", argv[1]);
    return 1;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  for (long i = 0; i < target; i++) {
    // The blocks are never freed on purpose: the point is to keep the memory alive.
    void **block = malloc(MIB);
    if (block == NULL) {
      printf("malloc failed after %ld MiB\n", i);
      return 1;
    }
    // Writing every byte makes the pages resident even on hosts that commit lazily.
    memset(block, (int)(i & 0xff) | 1, MIB);
    block[0] = head;
    head = block;
    if ((i + 1) % 16 == 0) {
      printf("allocated %ld MiB\n", i + 1);
    }
  }
  printf("done\n");
  return 0;
}
