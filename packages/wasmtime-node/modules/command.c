// world: command
// A wasi:cli/command component whose first argument picks what it does:
//   hello        prints a greeting and returns ok (exit 0)
//   args         prints its arguments and environment
//   fail         returns err from run (exit 1)
//   exit         calls wasi:cli/exit with err (exit 1)
//   code <n>     calls wasi:cli/exit's exit-with-code with n
//   spin         prints "spinning" and loops forever (for interrupts)
//   grow <MiB>   grows its memory by that much; returns err when memory.grow fails
#include "abi.h"

struct str { const char *ptr; size_t len; };
struct pair { struct str name, value; };
struct list { void *ptr; size_t len; };

IMPORT("wasi:cli/environment@0.2.0", "get-arguments") void get_arguments(struct list *ret);
IMPORT("wasi:cli/environment@0.2.0", "get-environment") void get_environment(struct list *ret);
IMPORT("wasi:cli/exit@0.2.0", "exit") void cli_exit(int32_t is_err);
IMPORT("wasi:cli/exit@0.2.0", "exit-with-code") void cli_exit_with_code(int32_t code);

static volatile int forever = 1;

EXPORT("wasi:cli/run@0.2.0#run")
int32_t run(void) {
  struct list args;
  get_arguments(&args);
  struct str *argv = args.ptr;
  if (args.len < 2) {
    print("usage: command hello|args|fail|exit|code <n>|spin|grow <MiB>\n");
    return 1;
  }
  struct str cmd = argv[1];
  if (str_eq(cmd.ptr, cmd.len, "hello")) {
    print("hello from a component\n");
    return 0;
  }
  if (str_eq(cmd.ptr, cmd.len, "args")) {
    for (size_t i = 0; i < args.len; i++) {
      print("arg ");
      print_n(argv[i].ptr, argv[i].len);
      print("\n");
    }
    struct list env;
    get_environment(&env);
    struct pair *vars = env.ptr;
    for (size_t i = 0; i < env.len; i++) {
      print("env ");
      print_n(vars[i].name.ptr, vars[i].name.len);
      print("=");
      print_n(vars[i].value.ptr, vars[i].value.len);
      print("\n");
    }
    return 0;
  }
  if (str_eq(cmd.ptr, cmd.len, "fail")) return 1;
  if (str_eq(cmd.ptr, cmd.len, "exit")) {
    cli_exit(1);
    __builtin_trap();
  }
  if (str_eq(cmd.ptr, cmd.len, "code") && args.len > 2) {
    cli_exit_with_code((int32_t)parse_u32(argv[2].ptr, argv[2].len));
    __builtin_trap();
  }
  if (str_eq(cmd.ptr, cmd.len, "spin")) {
    print("spinning\n");
    while (forever) {
    }
    return 0;
  }
  if (str_eq(cmd.ptr, cmd.len, "grow") && args.len > 2) {
    uint32_t mib = parse_u32(argv[2].ptr, argv[2].len);
    if (__builtin_wasm_memory_grow(0, mib * 16) == (size_t)-1) {
      print("memory.grow failed\n");
      return 1;
    }
    print("memory.grow succeeded\n");
    return 0;
  }
  print("unknown command\n");
  return 1;
}
