// Sandbox-escape probe: tries to open every path given on the command line and reports,
// per path, either `<path>: <first line>` or `<path>: error <strerror>`. It always exits 0
// so a test sees the outcome for every path, not just the first one that failed.
#include <errno.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    FILE *f = fopen(argv[i], "r");
    if (f == NULL) {
      printf("%s: error %s\n", argv[i], strerror(errno));
      continue;
    }
    char line[1024];
    if (fgets(line, sizeof line, f) == NULL) {
      line[0] = '\0';
    }
    line[strcspn(line, "\n")] = '\0';
    printf("%s: %s\n", argv[i], line);
    fclose(f);
  }
  return 0;
}
