// world: hello-http
// A wasi:http/proxy component: answers every request with 200 and a greeting, and prints one
// line per request to its stdout. `/slow` says so on stdout, then sleeps a second and a half
// before answering (for drain tests); `/spin` says so, then computes forever (for interrupts).
#include "abi.h"

#define HTTP "wasi:http/types@0.2.0"

IMPORT(HTTP, "[constructor]fields") int32_t fields_new(void);
IMPORT(HTTP, "[constructor]outgoing-response") int32_t response_new(int32_t headers);
IMPORT(HTTP, "[method]outgoing-response.body") void response_body(int32_t response, uint32_t *ret);
IMPORT(HTTP, "[method]outgoing-body.write") void body_write(int32_t body, uint32_t *ret);
IMPORT(HTTP, "[static]outgoing-body.finish")
void body_finish(int32_t body, int32_t has_trailers, int32_t trailers, uint32_t *ret);
// result<own<outgoing-response>, error-code>, flattened: case, then the joined payload slots.
IMPORT(HTTP, "[static]response-outparam.set")
void outparam_set(int32_t param, int32_t is_err, int32_t response, int32_t p1, int64_t p2, int32_t p3,
                  int32_t p4, int32_t p5, int32_t p6);
IMPORT(HTTP, "[method]incoming-request.path-with-query") void request_path(int32_t request, uint32_t *ret);
IMPORT(HTTP, "[resource-drop]incoming-request") void request_drop(int32_t request);
IMPORT("wasi:clocks/monotonic-clock@0.2.0", "subscribe-duration") int32_t subscribe_duration(uint64_t ns);
IMPORT("wasi:io/poll@0.2.0", "[method]pollable.block") void pollable_block(int32_t pollable);
IMPORT("wasi:io/poll@0.2.0", "[resource-drop]pollable") void pollable_drop(int32_t pollable);

EXPORT("wasi:http/incoming-handler@0.2.0#handle")
void handle(int32_t request, int32_t outparam) {
  uint32_t path[3];
  request_path(request, path);
  int slow = path[0] == 1 && path[2] >= 5 && str_eq((const char *)path[1], 5, "/slow");
  int spin = path[0] == 1 && path[2] >= 5 && str_eq((const char *)path[1], 5, "/spin");
  request_drop(request);
  if (spin) {
    print("spin request started\n");
    for (volatile uint32_t i = 0;; i++) {
    }
  }
  if (slow) {
    print("slow request started\n");
    int32_t timer = subscribe_duration(1500000000ull);
    pollable_block(timer);
    pollable_drop(timer);
  }

  int32_t response = response_new(fields_new());
  uint32_t body[2];
  response_body(response, body);
  outparam_set(outparam, 0, response, 0, 0, 0, 0, 0, 0);

  uint32_t stream[2];
  body_write(body[1], stream);
  const char *text = slow ? "hello after a while\n" : "hello from a wasi:http component\n";
  write_to(stream[1], text, str_len(text));
  stream_drop(stream[1]);
  uint32_t finished[8];
  body_finish(body[1], 0, 0, finished);
  print("handled a request\n");
}
