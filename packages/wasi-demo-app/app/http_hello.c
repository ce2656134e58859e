/*
 * wasi-http-demo: a wasi:http/proxy component that answers every request with
 *
 *     200 OK, content-type: text/plain
 *     hello from wasi:http: <METHOD> <path-with-query>
 *
 * and logs one line per request to stdout, so a test sees both the HTTP answer and the
 * container's output. The bindings (proxy.h) are generated at build time from the WIT the
 * engine links.
 */
#include <stdio.h>
#include <string.h>

#include "proxy.h"

static const char *const METHOD_NAMES[] = {"GET",    "HEAD",    "POST",  "PUT",  "DELETE",
                                           "CONNECT", "OPTIONS", "TRACE", "PATCH"};

/* Writes the method name into buf (methods outside the standard set carry their own name). */
static void method_name(wasi_http_types_borrow_incoming_request_t request, char *buf, size_t size) {
  wasi_http_types_method_t method;
  wasi_http_types_method_incoming_request_method(request, &method);
  if (method.tag == WASI_HTTP_TYPES_METHOD_OTHER) {
    snprintf(buf, size, "%.*s", (int)method.val.other.len, (const char *)method.val.other.ptr);
    proxy_string_free(&method.val.other);
  } else if (method.tag < sizeof(METHOD_NAMES) / sizeof(METHOD_NAMES[0])) {
    snprintf(buf, size, "%s", METHOD_NAMES[method.tag]);
  } else {
    snprintf(buf, size, "?");
  }
}

/* Writes the path and query into buf ("/" when the request has none). */
static void request_path(wasi_http_types_borrow_incoming_request_t request, char *buf, size_t size) {
  proxy_string_t path;
  if (wasi_http_types_method_incoming_request_path_with_query(request, &path)) {
    snprintf(buf, size, "%.*s", (int)path.len, (const char *)path.ptr);
    proxy_string_free(&path);
  } else {
    snprintf(buf, size, "/");
  }
}

/* Answers 500 with no body: used when building the real answer failed half way. */
static void fail(wasi_http_types_own_response_outparam_t out) {
  wasi_http_types_result_own_outgoing_response_error_code_t result;
  result.is_err = true;
  result.val.err.tag = WASI_HTTP_TYPES_ERROR_CODE_INTERNAL_ERROR;
  result.val.err.val.internal_error.is_some = false;
  wasi_http_types_static_response_outparam_set(out, &result);
}

void exports_wasi_http_incoming_handler_handle(exports_wasi_http_incoming_handler_own_incoming_request_t request,
                                               exports_wasi_http_incoming_handler_own_response_outparam_t out) {
  char method[32], path[1024], body[1200];
  wasi_http_types_borrow_incoming_request_t borrowed = wasi_http_types_borrow_incoming_request(request);
  method_name(borrowed, method, sizeof method);
  request_path(borrowed, path, sizeof path);
  wasi_http_types_incoming_request_drop_own(request);

  int body_len = snprintf(body, sizeof body, "hello from wasi:http: %s %s\n", method, path);
  if (body_len < 0 || (size_t)body_len >= sizeof body) body_len = (int)strlen(body);

  wasi_http_types_own_fields_t headers = wasi_http_types_constructor_fields();
  wasi_http_types_field_name_t name;
  wasi_http_types_field_value_t value;
  proxy_string_set(&name, "content-type");
  value.ptr = (uint8_t *)"text/plain";
  value.len = strlen("text/plain");
  wasi_http_types_header_error_t header_error;
  wasi_http_types_method_fields_append(wasi_http_types_borrow_fields(headers), &name, &value, &header_error);

  wasi_http_types_own_outgoing_response_t response = wasi_http_types_constructor_outgoing_response(headers);
  wasi_http_types_borrow_outgoing_response_t response_ref = wasi_http_types_borrow_outgoing_response(response);
  wasi_http_types_method_outgoing_response_set_status_code(response_ref, 200);
  wasi_http_types_own_outgoing_body_t outgoing_body;
  if (!wasi_http_types_method_outgoing_response_body(response_ref, &outgoing_body)) {
    wasi_http_types_outgoing_response_drop_own(response);
    fail(out);
    return;
  }

  /* The response goes out first: the host streams the body as it is written. */
  wasi_http_types_result_own_outgoing_response_error_code_t result;
  result.is_err = false;
  result.val.ok = response;
  wasi_http_types_static_response_outparam_set(out, &result);

  wasi_http_types_own_output_stream_t stream;
  if (wasi_http_types_method_outgoing_body_write(wasi_http_types_borrow_outgoing_body(outgoing_body), &stream)) {
    proxy_list_u8_t contents = {(uint8_t *)body, (size_t)body_len};
    wasi_io_streams_stream_error_t stream_error;
    if (!wasi_io_streams_method_output_stream_blocking_write_and_flush(wasi_io_streams_borrow_output_stream(stream),
                                                                        &contents, &stream_error)) {
      fprintf(stderr, "wasi-http-demo: writing the body failed\n");
    }
    wasi_io_streams_output_stream_drop_own(stream);
  }
  wasi_http_types_error_code_t finish_error;
  wasi_http_types_static_outgoing_body_finish(outgoing_body, NULL, &finish_error);

  printf("wasi-http-demo: %s %s\n", method, path);
  fflush(stdout);
}
