// wasi-demo-app: the small WASI command used by demos, smoke tests and the example images.
//
//   wasi-demo-app echo <words...>          print the words joined by spaces, then "exiting" on stderr
//   wasi-demo-app sleep <secs>             sleep (fractions allowed)
//   wasi-demo-app exit <code>              exit with that status
//   wasi-demo-app write <file> <words...>  write the words, joined by spaces, into <file>
//   wasi-demo-app daemon                   print a line every second, forever (the default)
//
// argv[0] is the program name, so the command is argv[1]. Unknown commands print
// "unknown command: X" on stderr and exit 1.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void print_joined(FILE *out, int count, char **words) {
  for (int i = 0; i < count; i++) {
    if (i > 0) fputc(' ', out);
    fputs(words[i], out);
  }
}

static int sleep_seconds(double secs) {
  struct timespec ts;
  ts.tv_sec = (time_t)secs;
  ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
  // nanosleep can be cut short; keep sleeping for whatever is left.
  while (nanosleep(&ts, &ts) != 0) {
    if (errno != EINTR) return -1;
  }
  return 0;
}

static int cmd_echo(int argc, char **argv) {
  print_joined(stdout, argc - 2, argv + 2);
  fputc('\n', stdout);
  // Flushed before the stderr line so the two streams arrive in a predictable order.
  fflush(stdout);
  fputs("exiting\n", stderr);
  return 0;
}

static int cmd_sleep(int argc, char **argv) {
  const char *arg = argc > 2 ? argv[2] : "";
  char *end = NULL;
  double secs = strtod(arg, &end);
  if (end == arg || *end != '\0' || secs < 0) {
    fprintf(stderr, "sleep: invalid duration: %s\n", arg);
    return 1;
  }
  if (sleep_seconds(secs) != 0) {
    perror("sleep");
    return 1;
  }
  return 0;
}

static int cmd_exit(int argc, char **argv) {
  const char *arg = argc > 2 ? argv[2] : "";
  char *end = NULL;
  long code = strtol(arg, &end, 10);
  if (end == arg || *end != '\0') {
    fprintf(stderr, "exit: invalid code: %s\n", arg);
    return 1;
  }
  exit((int)code);
}

static int cmd_write(int argc, char **argv) {
  if (argc < 3) {
    fputs("write: missing file\n", stderr);
    return 1;
  }
  FILE *f = fopen(argv[2], "w");
  if (f == NULL) {
    fprintf(stderr, "write: %s: %s\n", argv[2], strerror(errno));
    return 1;
  }
  print_joined(f, argc - 3, argv + 3);
  // Write errors (read-only or full file system) only surface when the buffer is flushed.
  if (ferror(f) || fclose(f) != 0) {
    fprintf(stderr, "write: %s: %s\n", argv[2], strerror(errno));
    return 1;
  }
  return 0;
}

static int cmd_daemon(void) {
  for (;;) {
    puts("This is a song that never ends.");
    // stdout is a pipe or file under a container, i.e. fully buffered: flush every line so
    // logs show up while the app runs.
    fflush(stdout);
    if (sleep_seconds(1.0) != 0) {
      perror("daemon");
      return 1;
    }
  }
}

int main(int argc, char **argv) {
  const char *cmd = argc > 1 ? argv[1] : "daemon";
  if (strcmp(cmd, "echo") == 0) return cmd_echo(argc, argv);
  if (strcmp(cmd, "sleep") == 0) return cmd_sleep(argc, argv);
  if (strcmp(cmd, "exit") == 0) return cmd_exit(argc, argv);
  if (strcmp(cmd, "write") == 0) return cmd_write(argc, argv);
  if (strcmp(cmd, "daemon") == 0) return cmd_daemon();
  fprintf(stderr, "unknown command: %s\n", cmd);
  return 1;
}
