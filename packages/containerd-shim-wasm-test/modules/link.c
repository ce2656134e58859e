// Link probe: arguments come in triples `hard|soft <target> <linkpath>`. For each, creates the
// link and prints `<kind> <target> <linkpath>: ok: <first line read through linkpath>` or
// `<kind> <target> <linkpath>: error <strerror>` (also when the link was made but does not read).
// Always exits 0, so a test sees the outcome of every attempt.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  for (int i = 1; i + 2 < argc; i += 3) {
    const char *kind = argv[i], *target = argv[i + 1], *linkpath = argv[i + 2];
    int rc = strcmp(kind, "soft") == 0 ? symlink(target, linkpath) : link(target, linkpath);
    printf("%s %s %s: ", kind, target, linkpath);
    if (rc != 0) {
      printf("error %s\n", strerror(errno));
      continue;
    }
    FILE *f = fopen(linkpath, "r");
    if (f == NULL) {
      printf("error %s\n", strerror(errno));
      continue;
    }
    char line[1024];
    if (fgets(line, sizeof line, f) == NULL) line[0] = '\0';
    line[strcspn(line, "\n")] = '\0';
    printf("ok: %s\n", line);
    fclose(f);
  }
  return 0;
}
