/*
 * nfq-delay: hold every packet of one netfilter queue for a fixed time, then accept it.
 *
 * The lab has no sch_netem, so delay is added in user space: an nft rule sends the packets
 * to delay to "queue num N", and this program gives each one its verdict D ms after it
 * arrived. Verdicts go out in order of arrival (one fixed delay keeps the FIFO sorted),
 * timed with CLOCK_MONOTONIC; the only wait is ppoll() on the queue socket with a timeout
 * to the next due packet.
 *
 * Usage: nfq-delay --queue N --delay-ms D [--pidfile PATH]
 * The pid file is written once the queue is bound, so a caller can wait for it as a
 * readiness signal. SIGTERM or SIGINT: accept what is held, unbind, exit 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <arpa/inet.h>
#include <limits.h>
#include <linux/netfilter.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libnetfilter_queue/libnetfilter_queue.h>

/* The kernel queue holds at most QUEUE_MAXLEN packets (beyond that it accepts them at once,
 * fail-open); the FIFO here is larger, so a packet the kernel handed over always fits. */
#define QUEUE_MAXLEN 4096u
#define FIFO_CAP 8192u

struct held {
    uint32_t id;
    uint64_t due_ns;
};

static struct held fifo[FIFO_CAP];
static unsigned fifo_head, fifo_len;
static uint64_t delay_ns;
static volatile sig_atomic_t stop_requested;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void accept_packet(struct nfq_q_handle *qh, uint32_t id)
{
    if (nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL) < 0)
        fprintf(stderr, "nfq-delay: verdict for packet %u failed: %s\n", id, strerror(errno));
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa, void *data)
{
    (void)msg;
    (void)data;
    struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
    if (ph == NULL)
        return 0;
    uint32_t id = ntohl(ph->packet_id);
    if (fifo_len == FIFO_CAP) {
        /* Cannot happen while FIFO_CAP >= QUEUE_MAXLEN; never hold a packet we cannot track. */
        accept_packet(qh, id);
        return 0;
    }
    fifo[(fifo_head + fifo_len) % FIFO_CAP] = (struct held){ .id = id, .due_ns = now_ns() + delay_ns };
    fifo_len++;
    return 0;
}

static void release_due(struct nfq_q_handle *qh, uint64_t now)
{
    while (fifo_len > 0 && fifo[fifo_head].due_ns <= now) {
        accept_packet(qh, fifo[fifo_head].id);
        fifo_head = (fifo_head + 1) % FIFO_CAP;
        fifo_len--;
    }
}

static int parse_uint(const char *text, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v > max)
        return -1;
    *out = v;
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: nfq-delay --queue N --delay-ms D [--pidfile PATH]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        { "queue", required_argument, NULL, 'q' },
        { "delay-ms", required_argument, NULL, 'd' },
        { "pidfile", required_argument, NULL, 'p' },
        { NULL, 0, NULL, 0 },
    };
    unsigned long queue_num = ULONG_MAX, delay_ms = ULONG_MAX;
    const char *pidfile = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'q':
            if (parse_uint(optarg, 65535, &queue_num) < 0)
                usage();
            break;
        case 'd':
            if (parse_uint(optarg, 60000, &delay_ms) < 0)
                usage();
            break;
        case 'p':
            pidfile = optarg;
            break;
        default:
            usage();
        }
    }
    if (optind != argc || queue_num == ULONG_MAX || delay_ms == ULONG_MAX)
        usage();
    delay_ns = (uint64_t)delay_ms * 1000000u;

    /* Signals are blocked except inside ppoll, so a SIGTERM can never slip in between the
     * check of stop_requested and the wait. */
    sigset_t blocked, wait_mask;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGTERM);
    sigaddset(&blocked, SIGINT);
    sigprocmask(SIG_BLOCK, &blocked, &wait_mask);
    sigdelset(&wait_mask, SIGTERM);
    sigdelset(&wait_mask, SIGINT);
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    struct nfq_handle *h = nfq_open();
    if (h == NULL) {
        fprintf(stderr, "nfq-delay: nfq_open: %s\n", strerror(errno));
        return 1;
    }
    struct nfq_q_handle *qh = nfq_create_queue(h, (uint16_t)queue_num, on_packet, NULL);
    if (qh == NULL) {
        fprintf(stderr, "nfq-delay: cannot bind queue %lu: %s\n", queue_num, strerror(errno));
        nfq_close(h);
        return 1;
    }
    /* Metadata only: the verdict needs the packet id, never the payload. */
    if (nfq_set_mode(qh, NFQNL_COPY_META, 0) < 0
        || nfq_set_queue_maxlen(qh, QUEUE_MAXLEN) < 0
        || nfq_set_queue_flags(qh, NFQA_CFG_F_FAIL_OPEN, NFQA_CFG_F_FAIL_OPEN) < 0) {
        fprintf(stderr, "nfq-delay: cannot configure queue %lu: %s\n", queue_num, strerror(errno));
        nfq_destroy_queue(qh);
        nfq_close(h);
        return 1;
    }
    int fd = nfq_fd(h);
    /* A burst larger than the socket buffer must not stop the loop: lost notifications
     * are packets the kernel keeps until the queue is torn down, so make the buffer big
     * and ignore ENOBUFS rather than exit. */
    int rcvbuf = 4 * 1024 * 1024, on = 1;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
    setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &on, sizeof on);

    if (pidfile != NULL) {
        FILE *f = fopen(pidfile, "w");
        if (f == NULL || fprintf(f, "%ld\n", (long)getpid()) < 0 || fclose(f) != 0) {
            fprintf(stderr, "nfq-delay: cannot write %s: %s\n", pidfile, strerror(errno));
            nfq_destroy_queue(qh);
            nfq_close(h);
            return 1;
        }
    }

    static char buf[65536] __attribute__((aligned));
    while (!stop_requested) {
        struct timespec timeout, *tp = NULL;
        if (fifo_len > 0) {
            uint64_t now = now_ns(), due = fifo[fifo_head].due_ns;
            uint64_t wait = due > now ? due - now : 0;
            timeout.tv_sec = (time_t)(wait / 1000000000u);
            timeout.tv_nsec = (long)(wait % 1000000000u);
            tp = &timeout;
        }
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int ready = ppoll(&pfd, 1, tp, &wait_mask);
        if (ready < 0 && errno != EINTR) {
            fprintf(stderr, "nfq-delay: ppoll: %s\n", strerror(errno));
            break;
        }
        if (ready > 0 && (pfd.revents & POLLIN)) {
            /* Drain what is there without blocking; each message may hold a packet. */
            for (int i = 0; i < 64; i++) {
                ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
                if (n < 0) {
                    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS && errno != EINTR)
                        fprintf(stderr, "nfq-delay: recv: %s\n", strerror(errno));
                    break;
                }
                nfq_handle_packet(h, buf, (int)n);
            }
        }
        release_due(qh, now_ns());
    }

    release_due(qh, UINT64_MAX);
    nfq_destroy_queue(qh);
    nfq_close(h);
    if (pidfile != NULL)
        unlink(pidfile);
    return 0;
}
