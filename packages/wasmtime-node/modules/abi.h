// Helpers shared by the test components: they are freestanding (no libc), so they bring the
// canonical ABI's allocator and a few string routines of their own.
#pragma once
#include <stddef.h>
#include <stdint.h>

#define IMPORT(module, name) __attribute__((import_module(module), import_name(name)))
#define EXPORT(name) __attribute__((export_name(name)))

// A bump allocator: a component instance lives for one command run or one HTTP request.
static unsigned char heap[64 * 1024];
static size_t heap_used;

EXPORT("cabi_realloc")
void *cabi_realloc(void *old, size_t old_size, size_t align, size_t new_size) {
  size_t start = (heap_used + align - 1) & ~(align - 1);
  if (start + new_size > sizeof heap) __builtin_trap();
  unsigned char *p = heap + start;
  heap_used = start + new_size;
  for (size_t i = 0; old && i < old_size && i < new_size; i++) p[i] = ((unsigned char *)old)[i];
  return p;
}

static inline size_t str_len(const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}

static inline int str_eq(const char *a, size_t a_len, const char *b) {
  size_t n = str_len(b);
  if (a_len != n) return 0;
  for (size_t i = 0; i < n; i++)
    if (a[i] != b[i]) return 0;
  return 1;
}

static inline uint32_t parse_u32(const char *s, size_t len) {
  uint32_t n = 0;
  for (size_t i = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++) n = n * 10 + (uint32_t)(s[i] - '0');
  return n;
}

IMPORT("wasi:cli/stdout@0.2.0", "get-stdout") int32_t get_stdout(void);
IMPORT("wasi:io/streams@0.2.0", "[method]output-stream.blocking-write-and-flush")
void stream_write(int32_t stream, const void *ptr, size_t len, void *ret);
IMPORT("wasi:io/streams@0.2.0", "[resource-drop]output-stream") void stream_drop(int32_t stream);

static inline void write_to(int32_t stream, const char *ptr, size_t len) {
  uint32_t ret[3];
  stream_write(stream, ptr, len, ret);
}

static inline void print(const char *s) {
  int32_t out = get_stdout();
  write_to(out, s, str_len(s));
  stream_drop(out);
}

static inline void print_n(const char *s, size_t len) {
  int32_t out = get_stdout();
  write_to(out, s, len);
  stream_drop(out);
}
