/*
 * Zero-copy segment bodies for the relay (relay/zero-copy.ts): a body lives in a memfd mapped into
 * the process, and is sent with sendfile(2), so the kernel hands the same pages to every viewer
 * instead of copying the bytes once per response. Linux only; the relay falls back to plain writes
 * when this module is not built.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

/* Far above any segment (the relay refuses objects over half its cache), far below Buffer's limit. */
#define MAX_REGION ((int64_t)1 << 30)

typedef struct {
  int fd;
  void *addr;
  size_t len;
} Region;

static void release(napi_env env, void *data, void *hint) {
  Region *r = (Region *)hint;
  int64_t ignored;
  munmap(r->addr, r->len);
  close(r->fd);
  napi_adjust_external_memory(env, -(int64_t)r->len, &ignored);
  free(r);
}

static napi_value throw_errno(napi_env env, const char *what) {
  char msg[128];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(errno));
  napi_throw_error(env, NULL, msg);
  return NULL;
}

/* alloc(length) -> [ArrayBuffer, fd]: memfd-backed memory, unmapped and closed when collected. */
static napi_value Alloc(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int64_t len;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_int64(env, argv[0], &len) != napi_ok || len <= 0 || len > MAX_REGION) {
    napi_throw_range_error(env, NULL, "alloc(length): length must be from 1 byte to 1 GiB");
    return NULL;
  }
  int fd = memfd_create("ringcast-body", MFD_CLOEXEC);
  if (fd < 0) return throw_errno(env, "memfd_create");
  if (ftruncate(fd, len) < 0) {
    close(fd);
    return throw_errno(env, "ftruncate");
  }
  void *addr = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (addr == MAP_FAILED) {
    close(fd);
    return throw_errno(env, "mmap");
  }
  Region *r = malloc(sizeof *r);
  if (!r) {
    munmap(addr, (size_t)len);
    close(fd);
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  r->fd = fd;
  r->addr = addr;
  r->len = (size_t)len;
  napi_value ab, jfd, out;
  if (napi_create_external_arraybuffer(env, addr, (size_t)len, release, r, &ab) != napi_ok) {
    munmap(addr, (size_t)len);
    close(fd);
    free(r);
    napi_throw_error(env, NULL, "cannot wrap the region in an ArrayBuffer");
    return NULL;
  }
  /* V8 may count the mapping as an ArrayBuffer too: counted twice, GC only comes sooner; not counted,
     collected regions could pile up between major GCs. */
  int64_t ignored;
  napi_adjust_external_memory(env, len, &ignored);
  napi_create_int32(env, fd, &jfd);
  napi_create_array_with_length(env, 2, &out);
  napi_set_element(env, out, 0, ab);
  napi_set_element(env, out, 1, jfd);
  return out;
}

/*
 * send(socketFd, head, fd, length) -> bytes of head + body the kernel took (0 when the socket buffer
 * is full), or -errno when it took none because of an error. The socket is corked meanwhile (and the
 * head goes with MSG_MORE), so head and body leave in the same full packets; the caller writes
 * whatever was not taken.
 */
static napi_value Send(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  int32_t sock, fd;
  int64_t len;
  void *head;
  size_t headLen;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 4 || napi_get_value_int32(env, argv[0], &sock) != napi_ok ||
      napi_get_buffer_info(env, argv[1], &head, &headLen) != napi_ok ||
      napi_get_value_int32(env, argv[2], &fd) != napi_ok || napi_get_value_int64(env, argv[3], &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "send(socketFd, head, fd, length)");
    return NULL;
  }
  int64_t total = 0;
  int err = 0;
  /* Corked like nginx's tcp_nopush: head and body leave in full packets, the last one at uncork. */
  int on = 1, off = 0;
  setsockopt(sock, IPPROTO_TCP, TCP_CORK, &on, sizeof on);
  while ((size_t)total < headLen) {
    ssize_t n = send(sock, (char *)head + total, headLen - total, MSG_MORE | MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    total += n;
  }
  off_t offset = 0;
  while (!err && offset < len) {
    ssize_t n = sendfile(sock, fd, &offset, (size_t)(len - offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    if (n == 0) break;
  }
  total += offset;
  setsockopt(sock, IPPROTO_TCP, TCP_CORK, &off, sizeof off);
  napi_value out;
  napi_create_int64(env, total == 0 && err && err != EAGAIN ? -err : total, &out);
  return out;
}

/* queued(socketFd) -> bytes in the socket's send queue not yet acknowledged, or -errno. */
static napi_value Queued(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t sock;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_int32(env, argv[0], &sock) != napi_ok) {
    napi_throw_type_error(env, NULL, "queued(socketFd)");
    return NULL;
  }
  int n = 0;
  napi_value out;
  napi_create_int32(env, ioctl(sock, SIOCOUTQ, &n) < 0 ? -errno : n, &out);
  return out;
}

NAPI_MODULE_INIT() {
  napi_value f;
  napi_create_function(env, "alloc", NAPI_AUTO_LENGTH, Alloc, NULL, &f);
  napi_set_named_property(env, exports, "alloc", f);
  napi_create_function(env, "send", NAPI_AUTO_LENGTH, Send, NULL, &f);
  napi_set_named_property(env, exports, "send", f);
  napi_create_function(env, "queued", NAPI_AUTO_LENGTH, Queued, NULL, &f);
  napi_set_named_property(env, exports, "queued", f);
  return exports;
}
