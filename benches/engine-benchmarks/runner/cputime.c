/*
 * cputime RESULT_FILE PROGRAM [ARG...]: runs PROGRAM with this process's stdio, then writes
 * "<exit status> <wall µs> <user+sys CPU µs>" of that one child to RESULT_FILE. CPU time moves far
 * less than wall time when other work shares the machine, so the benchmark reports both. Exits
 * 0 when the measurement worked (whatever PROGRAM's status), 127 when PROGRAM could not start.
 */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long micros(struct timespec t) { return (long long)t.tv_sec * 1000000 + t.tv_nsec / 1000; }

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: cputime RESULT_FILE PROGRAM [ARG...]\n");
    return 2;
  }
  struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  pid_t pid = fork();
  if (pid < 0) {
    perror("cputime: fork");
    return 2;
  }
  if (pid == 0) {
    execvp(argv[2], argv + 2);
    perror("cputime: exec");
    _exit(127);
  }
  int status;
  struct rusage usage;
  if (wait4(pid, &status, 0, &usage) < 0) {
    perror("cputime: wait4");
    return 2;
  }
  clock_gettime(CLOCK_MONOTONIC, &end);
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (code == 127) return 127;
  long long cpu = (long long)usage.ru_utime.tv_sec * 1000000 + usage.ru_utime.tv_usec +
                  (long long)usage.ru_stime.tv_sec * 1000000 + usage.ru_stime.tv_usec;
  FILE *out = fopen(argv[1], "w");
  if (!out || fprintf(out, "%d %lld %lld\n", code, micros(end) - micros(start), cpu) < 0 || fclose(out) != 0) {
    perror("cputime: result file");
    return 2;
  }
  return 0;
}
