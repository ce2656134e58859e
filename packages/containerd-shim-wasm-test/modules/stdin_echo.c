// Copies stdin to stdout until EOF, then says so on stderr: tests use the stderr line to
// prove that the runtime really closed the guest's stdin rather than leaving it hanging.
#include <stdio.h>
#include <unistd.h>

int main(void) {
  char buf[4096];
  for (;;) {
    ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      perror("stdin_echo: read");
      return 1;
    }
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(STDOUT_FILENO, buf + off, (size_t)(n - off));
      if (w < 0) {
        perror("stdin_echo: write");
        return 1;
      }
      off += w;
    }
  }
  fprintf(stderr, "stdin closed\n");
  return 0;
}
