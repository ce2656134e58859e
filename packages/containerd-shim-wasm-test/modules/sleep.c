// `sleep [secs]` (default 1, fractions allowed): prints `sleeping <secs>`, sleeps through
// WASI's clock poll, then prints `woke`. Lets tests observe a guest blocked in the host.
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv) {
  const char *arg = argc > 1 ? argv[1] : "1";
  char *end = NULL;
  double secs = strtod(arg, &end);
  if (end == arg || *end != '\0' || secs < 0) {
    fprintf(stderr, "sleep: invalid duration %s\n", arg);
    return 1;
  }
  printf("sleeping %s\n", arg);
  fflush(stdout);
  struct timespec ts;
  ts.tv_sec = (time_t)secs;
  ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
  if (nanosleep(&ts, NULL) != 0) {
    perror("sleep: nanosleep");
    return 1;
  }
  printf("woke\n");
  return 0;
}
