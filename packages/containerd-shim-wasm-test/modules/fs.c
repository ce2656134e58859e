// Minimal file-system probe for preopen/rootfs tests:
//   fs read <path>          prints the file's content
//   fs write <path> <text>  writes <text> exactly (no newline added), truncating the file
//   fs ls <dir>             prints the entry names, sorted, one per line ("." and ".." omitted)
// Any failure prints one `fs: ...` line on stderr and exits 1, so tests can assert on both.
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *op, const char *path) {
  fprintf(stderr, "fs: %s %s: %s\n", op, path, strerror(errno));
  return 1;
}

static int do_read(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return fail("read", path);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
    fwrite(buf, 1, n, stdout);
  }
  int bad = ferror(f);
  fclose(f);
  return bad ? fail("read", path) : 0;
}

static int do_write(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  if (f == NULL) return fail("write", path);
  size_t len = strlen(text);
  if (fwrite(text, 1, len, f) != len) {
    int saved = errno;
    fclose(f);
    errno = saved;
    return fail("write", path);
  }
  // fclose flushes, so a full disk or read-only mount only shows up here.
  if (fclose(f) != 0) return fail("write", path);
  return 0;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int do_ls(const char *path) {
  DIR *d = opendir(path);
  if (d == NULL) return fail("ls", path);
  char **names = NULL;
  size_t count = 0, cap = 0;
  struct dirent *ent;
  while ((ent = readdir(d)) != NULL) {
    if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0) continue;
    if (count == cap) {
      cap = cap ? cap * 2 : 16;
      char **grown = realloc(names, cap * sizeof *names);
      if (grown == NULL) {
        closedir(d);
        return fail("ls", path);
      }
      names = grown;
    }
    names[count] = strdup(ent->d_name);
    if (names[count] == NULL) {
      closedir(d);
      return fail("ls", path);
    }
    count++;
  }
  closedir(d);
  // readdir order depends on the host file system; sorting keeps test expectations stable.
  qsort(names, count, sizeof *names, cmp_names);
  for (size_t i = 0; i < count; i++) {
    puts(names[i]);
    free(names[i]);
  }
  free(names);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "read") == 0) return do_read(argv[2]);
  if (argc == 4 && strcmp(argv[1], "write") == 0) return do_write(argv[2], argv[3]);
  if (argc == 3 && strcmp(argv[1], "ls") == 0) return do_ls(argv[2]);
  fprintf(stderr, "fs: usage: fs read <path> | fs write <path> <text> | fs ls <dir>\n");
  return 1;
}
