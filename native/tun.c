/*
 * link-emulator: forwards IPv4 packets between namespace hosts through TUN devices, holding each for
 * its directed link's delay (+ jitter), dropping by the link's loss rate, pacing by its rate through a
 * bounded queue, and dropping everything while the link is down (harness/net/, docs/network-lab.md).
 * The kernel here has no netem; packets really lost here make TCP really retransmit.
 *
 * One process serves one lab. Control is line-based on stdin, one reply line per command on stdout:
 *   host ID NAME A.B.C.D      open TUN NAME (then moved into the host's namespace by the harness)
 *   link SRC DST DELAY_US JITTER_US LOSS_PPM RATE_BPS QUEUE_BYTES UP   (RATE_BPS 0: unpaced)
 *   seed N                    seed the loss/jitter generator (runs can be repeated)
 *   stats                     one line: "stats UNROUTABLE HELD LATE_SUM_US LATE_MAX_US H0,…,H17
 *                             S,D,fwd,lost,qdrop,down,wdrop;…" (HELD: packets delayed, written LATE
 *                             after due; Hi: how many were late by less than 2^i µs, H17 the rest)
 *   quit                      exit 0 (so does EOF on stdin, and the parent's death)
 * Replies: "ok", "stats ...", or "err MESSAGE". Runs at SCHED_FIFO 1 unless given --no-realtime.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define MAX_HOSTS 64
#define MAX_PKT 65536
#define READ_BATCH 64

typedef struct Pkt {
  struct Pkt *next;
  uint64_t due_ns;
  uint32_t len;
  uint32_t held; /* due later than it came in: its lateness measures the emulator's timers */
  unsigned char data[];
} Pkt;

typedef struct {
  uint64_t delay_ns, jitter_ns, rate_bps, queue_bytes;
  uint32_t loss_ppm;
  int up;
  uint64_t busy_until_ns; /* when the pacer has sent the last queued byte */
  uint64_t last_due_ns;   /* deliveries stay in order: jitter never reorders a link */
  Pkt *head, *tail;
  uint64_t fwd, lost, qdrop, down, wdrop;
} Link;

typedef struct {
  int fd;
  uint32_t addr; /* network order */
} Host;

static Host hosts[MAX_HOSTS];
static int nhosts;
static Link links[MAX_HOSTS][MAX_HOSTS];
static uint64_t unroutable;
/* How late held packets were written (after their due time): the emulator's own timing error. */
static uint64_t late_n, late_sum_ns, late_max_ns;
#define LATE_BUCKETS 18 /* bucket i: late by less than 2^i µs; the last one holds the rest */
static uint64_t late_hist[LATE_BUCKETS];
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static unsigned char buf[MAX_PKT];

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: fast, and seedable so a run's losses can be repeated. */
static uint64_t next_rand(void) {
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return rng * 0x2545F4914F6CDD1Dull;
}

static void reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void reply(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fflush(stdout);
}

static int open_tun(const char *name) {
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return -1;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  memcpy(ifr.ifr_name, name, strnlen(name, IFNAMSIZ - 1));
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

static void cmd_host(char *args) {
  int id;
  char name[IFNAMSIZ + 1], ip[32];
  struct in_addr a;
  if (sscanf(args, "%d %16s %31s", &id, name, ip) != 3 || id != nhosts || id >= MAX_HOSTS ||
      strlen(name) >= IFNAMSIZ || inet_pton(AF_INET, ip, &a) != 1) {
    reply("err host: expected 'host ID NAME A.B.C.D' with ID %d (at most %d hosts)", nhosts, MAX_HOSTS);
    return;
  }
  int fd = open_tun(name);
  if (fd < 0) {
    reply("err host %s: %s", name, strerror(errno));
    return;
  }
  hosts[id].fd = fd;
  hosts[id].addr = a.s_addr;
  nhosts++;
  reply("ok");
}

static void cmd_link(char *args) {
  int s, d, up;
  unsigned long long delay, jitter, loss, rate, queue;
  if (sscanf(args, "%d %d %llu %llu %llu %llu %llu %d", &s, &d, &delay, &jitter, &loss, &rate, &queue,
             &up) != 8 ||
      s < 0 || d < 0 || s >= nhosts || d >= nhosts || loss > 1000000) {
    reply("err link: expected 'link SRC DST DELAY_US JITTER_US LOSS_PPM RATE_BPS QUEUE_BYTES UP'");
    return;
  }
  Link *l = &links[s][d];
  l->delay_ns = delay * 1000ull;
  l->jitter_ns = jitter * 1000ull;
  l->loss_ppm = (uint32_t)loss;
  l->rate_bps = rate;
  l->queue_bytes = queue;
  l->up = up != 0;
  reply("ok");
}

static void cmd_stats(void) {
  static char out[MAX_HOSTS * MAX_HOSTS * 64];
  size_t n = (size_t)snprintf(out, sizeof out, "stats %llu %llu %llu %llu ", (unsigned long long)unroutable,
                              (unsigned long long)late_n, (unsigned long long)(late_sum_ns / 1000),
                              (unsigned long long)(late_max_ns / 1000));
  for (int i = 0; i < LATE_BUCKETS; i++)
    n += (size_t)snprintf(out + n, sizeof out - n, "%llu%c", (unsigned long long)late_hist[i],
                          i == LATE_BUCKETS - 1 ? ' ' : ',');
  for (int s = 0; s < nhosts; s++)
    for (int d = 0; d < nhosts; d++) {
      Link *l = &links[s][d];
      if (s == d || n >= sizeof out - 128) continue;
      n += (size_t)snprintf(out + n, sizeof out - n, "%d,%d,%llu,%llu,%llu,%llu,%llu;", s, d,
                            (unsigned long long)l->fwd, (unsigned long long)l->lost,
                            (unsigned long long)l->qdrop, (unsigned long long)l->down,
                            (unsigned long long)l->wdrop);
    }
  reply("%s", out);
}

/* Returns 0 to go on, 1 to exit. */
static int control_line(char *line) {
  line[strcspn(line, "\r\n")] = 0;
  if (strncmp(line, "host ", 5) == 0) cmd_host(line + 5);
  else if (strncmp(line, "link ", 5) == 0) cmd_link(line + 5);
  else if (strncmp(line, "seed ", 5) == 0) {
    unsigned long long seed = strtoull(line + 5, NULL, 10);
    rng = seed ? seed : 1;
    reply("ok");
  } else if (strcmp(line, "stats") == 0) cmd_stats();
  else if (strcmp(line, "quit") == 0) return 1;
  else reply("err unknown command: %.60s", line);
  return 0;
}

static int host_of(uint32_t addr) {
  for (int i = 0; i < nhosts; i++)
    if (hosts[i].addr == addr) return i;
  return -1;
}

/* One packet from host `src`: through its link's up/loss/queue/pacing checks into the delay line. */
static void admit(int src, const unsigned char *p, size_t len, uint64_t now) {
  uint32_t dst_addr;
  if (len < 20 || (p[0] >> 4) != 4) return; /* IPv4 only; the hosts' IPv6 chatter is dropped */
  memcpy(&dst_addr, p + 16, 4);
  int dst = host_of(dst_addr);
  if (dst < 0 || dst == src) {
    unroutable++;
    return;
  }
  Link *l = &links[src][dst];
  if (!l->up) {
    l->down++;
    return;
  }
  if (l->loss_ppm && next_rand() % 1000000 < l->loss_ppm) {
    l->lost++;
    return;
  }
  uint64_t depart = now;
  if (l->rate_bps) {
    uint64_t start = l->busy_until_ns > now ? l->busy_until_ns : now;
    /* Bytes still waiting for the pacer: a bounded queue, tail-dropped like a router's. */
    if ((unsigned __int128)(start - now) * l->rate_bps / 8000000000ull > l->queue_bytes) {
      l->qdrop++;
      return;
    }
    l->busy_until_ns = start + (uint64_t)len * 8000000000ull / l->rate_bps;
    depart = l->busy_until_ns;
  }
  uint64_t due = depart + l->delay_ns;
  if (l->jitter_ns) {
    int64_t j = (int64_t)(next_rand() % (2 * l->jitter_ns + 1)) - (int64_t)l->jitter_ns;
    due = (int64_t)due + j < (int64_t)depart ? depart : (uint64_t)((int64_t)due + j);
  }
  if (due < l->last_due_ns) due = l->last_due_ns;
  l->last_due_ns = due;
  Pkt *k = malloc(sizeof *k + len);
  if (!k) {
    l->qdrop++;
    return;
  }
  k->next = NULL;
  k->due_ns = due;
  k->held = due > now;
  k->len = (uint32_t)len;
  memcpy(k->data, p, len);
  if (l->tail) l->tail->next = k;
  else l->head = k;
  l->tail = k;
}

static void note_late(uint64_t late) {
  late_n++;
  late_sum_ns += late;
  if (late > late_max_ns) late_max_ns = late;
  int i = 0;
  while (i < LATE_BUCKETS - 1 && late >= (1000ull << i)) i++;
  late_hist[i]++;
}

/* Writes every packet that is due; returns the earliest due time still held (UINT64_MAX: none). */
static uint64_t deliver(uint64_t now) {
  uint64_t next = UINT64_MAX;
  for (int s = 0; s < nhosts; s++)
    for (int d = 0; d < nhosts; d++) {
      Link *l = &links[s][d];
      while (l->head && l->head->due_ns <= now) {
        Pkt *k = l->head;
        l->head = k->next;
        if (!l->head) l->tail = NULL;
        if (k->held) note_late(now > k->due_ns ? now - k->due_ns : 0);
        if (write(hosts[d].fd, k->data, k->len) == (ssize_t)k->len) l->fwd++;
        else l->wdrop++; /* the host's interface is full or gone: a drop, as on a wire */
        free(k);
      }
      if (l->head && l->head->due_ns < next) next = l->head->due_ns;
    }
  return next;
}

static void read_host(int h) {
  for (int i = 0; i < READ_BATCH; i++) {
    ssize_t n = read(hosts[h].fd, buf, sizeof buf);
    if (n <= 0) return;
    admit(h, buf, (size_t)n, now_ns());
  }
}

/* Reads what the harness sent and runs each complete line; returns 1 when the emulator must exit. */
static int read_control(void) {
  static char line[512];
  static size_t have;
  ssize_t n = read(0, line + have, sizeof line - 1 - have);
  if (n <= 0) return 1; /* the harness closed the pipe or died */
  have += (size_t)n;
  line[have] = 0;
  char *nl;
  while ((nl = memchr(line, '\n', have))) {
    *nl = 0;
    if (control_line(line)) return 1;
    size_t used = (size_t)(nl - line) + 1;
    memmove(line, nl + 1, have - used);
    have -= used;
    line[have] = 0;
  }
  if (have == sizeof line - 1) have = 0; /* an overlong line is dropped rather than wedging */
  return 0;
}

/* Waits for input or for the next held packet's due time (`next`, UINT64_MAX: none); returns the
   number of hosts polled, -1 on a fatal error. */
static int wait_events(struct pollfd *pfds, uint64_t next) {
  pfds[0].fd = 0;
  pfds[0].events = POLLIN;
  for (int i = 0; i < nhosts; i++) {
    pfds[i + 1].fd = hosts[i].fd;
    pfds[i + 1].events = POLLIN;
  }
  struct timespec ts, *tsp = NULL;
  if (next != UINT64_MAX) {
    uint64_t now = now_ns(), wait = next > now ? next - now : 0;
    ts.tv_sec = (time_t)(wait / 1000000000ull);
    ts.tv_nsec = (long)(wait % 1000000000ull);
    tsp = &ts;
  }
  int polled = nhosts; /* a host added by this round's commands is polled from the next round */
  if (ppoll(pfds, (nfds_t)polled + 1, tsp, NULL) < 0) {
    if (errno != EINTR) return -1;
    for (int i = 0; i <= polled; i++) pfds[i].revents = 0;
  }
  return polled;
}

int main(int argc, char **argv) {
  prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the harness that owns the lab */
  /* A network does not wait for a CPU: on a busy machine a normal-priority emulator wrote held
     packets up to 30 ms late (p99), at SCHED_FIFO 1 within 1 ms (docs/network-lab.md). Its CPU
     use follows the traffic, and the kernel's RT throttling bounds it. Failure is not fatal. */
  if (!(argc > 1 && strcmp(argv[1], "--no-realtime") == 0)) {
    struct sched_param sp = {.sched_priority = 1};
    sched_setscheduler(0, SCHED_FIFO, &sp);
  }
  prctl(PR_SET_TIMERSLACK, 1UL); /* wake when a packet is due, not up to 50 µs later */
  signal(SIGPIPE, SIG_IGN);
  rng ^= (uint64_t)getpid() << 17 ^ now_ns();
  struct pollfd pfds[MAX_HOSTS + 1];
  uint64_t next = UINT64_MAX;
  for (;;) {
    int polled = wait_events(pfds, next);
    if (polled < 0) return 2;
    if (pfds[0].revents && read_control()) return 0;
    for (int i = 0; i < polled; i++) {
      /* The host's namespace was deleted under us: its device is gone, stop polling it (else
         ppoll would return at once, forever); writes to it now count as write drops. */
      if (pfds[i + 1].revents & (POLLERR | POLLHUP | POLLNVAL)) hosts[i].fd = -1;
      else if (pfds[i + 1].revents & POLLIN) read_host(i);
    }
    next = deliver(now_ns());
  }
}
