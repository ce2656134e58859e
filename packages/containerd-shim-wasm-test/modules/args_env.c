// Echoes what the runtime passed in: every argv entry and every environment variable.
// Tests compare the output verbatim, so the format is fixed: `arg[i]=...` then `env NAME=VALUE`.
#include <stdio.h>

extern char **environ;

int main(int argc, char **argv) {
  for (int i = 0; i < argc; i++) {
    printf("arg[%d]=%s\n", i, argv[i]);
  }
  for (char **e = environ; e != NULL && *e != NULL; e++) {
    printf("env %s\n", *e);
  }
  return 0;
}
