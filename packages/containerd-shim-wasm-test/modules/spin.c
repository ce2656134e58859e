// Burns CPU forever after announcing itself: used to test kill/timeout/CPU-limit paths on a
// guest that never yields to the host (no WASI calls inside the loop).
#include <stdint.h>
#include <stdio.h>

// Volatile stores are observable side effects, so the optimiser can neither drop the loop
// body nor treat the loop as terminating.
static volatile uint64_t sink;

int main(void) {
  puts("spinning");
  fflush(stdout);
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (;;) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    sink = x;
  }
}
