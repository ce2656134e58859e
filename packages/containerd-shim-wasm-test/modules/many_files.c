// `many_files <hold> <cycle>`: creates <hold> files under /many and keeps all of them open at
// once, writes each its own index and reads it back through its descriptor, closes them; then
// opens, writes and closes a file <cycle> times. Prints `held <hold> files, cycled <cycle> opens`
// and exits 0; the first failure prints `many_files: <what> <n>: <error>` on stderr and exits 2.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(const char *what, long n) {
  fprintf(stderr, "many_files: %s %ld: %s\n", what, n, strerror(errno));
  return 2;
}

int main(int argc, char **argv) {
  long hold = argc > 1 ? strtol(argv[1], NULL, 10) : 1000;
  long cycle = argc > 2 ? strtol(argv[2], NULL, 10) : 0;
  if (mkdir("/many", 0755) != 0 && errno != EEXIST) return fail("mkdir", 0);
  int *fds = calloc((size_t)(hold > 0 ? hold : 1), sizeof *fds);
  if (fds == NULL) return fail("calloc", hold);
  char path[64], text[32], back[32];
  for (long i = 0; i < hold; i++) {
    snprintf(path, sizeof path, "/many/f%ld", i);
    fds[i] = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
    if (fds[i] < 0) return fail("open", i);
    int len = snprintf(text, sizeof text, "%ld", i);
    if (write(fds[i], text, (size_t)len) != len) return fail("write", i);
  }
  for (long i = 0; i < hold; i++) {
    int len = snprintf(text, sizeof text, "%ld", i);
    if (lseek(fds[i], 0, SEEK_SET) != 0) return fail("lseek", i);
    memset(back, 0, sizeof back);
    if (read(fds[i], back, sizeof back - 1) != len || strcmp(back, text) != 0) {
      errno = EIO;
      return fail("read back", i);
    }
  }
  for (long i = 0; i < hold; i++) {
    if (close(fds[i]) != 0) return fail("close", i);
  }
  for (long i = 0; i < cycle; i++) {
    int fd = open("/many/cycle", O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0) return fail("cycle open", i);
    if (write(fd, "x", 1) != 1) return fail("cycle write", i);
    if (close(fd) != 0) return fail("cycle close", i);
  }
  printf("held %ld files, cycled %ld opens\n", hold, cycle);
  return 0;
}
