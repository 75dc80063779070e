/*
 * futex_pingpong.c: bench's plain-C reference for a futex round trip.
 *
 * Two 32-bit counters in a shared anonymous mapping, one each way. To send, a process stores
 * the next count and calls futex(FUTEX_WAKE) on it; to receive, it calls futex(FUTEX_WAIT) for
 * as long as the other counter still holds the count it last saw, with no timeout. No data,
 * nothing else: the least a round trip that sleeps can cost, as a C programmer writes it. bench
 * runs this in the same run as its own futex floor, so that the two can be compared.
 *
 * bench links this file in (bench/build.rs, with the cc crate) and runs it in a process of its
 * own: `bench --c-reference futex ARGS` calls bench_c_futex_main and nothing else. On its own:
 *
 *     cc -O2 -Wall -Wextra -D_GNU_SOURCE -DBENCH_C_STANDALONE futex_pingpong.c -o futex_pingpong
 *     ./futex_pingpong 0 1 0 20 80 100000
 *
 * Arguments and output as pipe_pingpong.c's (the size must be 0: no data travels).
 *
 * SIGINT, SIGTERM and SIGHUP end it cleanly, and so does the child's death (SIGCHLD): the
 * handler kills the child and bumps the counter the parent waits on, so that a wait that has
 * not begun yet returns at once (the count it expects is no longer there) and one that has
 * begun is interrupted; the parent reaps the child and exits with 128 + the signal's number.
 */

#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Each counter on a cache line of its own. */
struct counters {
	uint32_t to_child;
	char pad[60];
	uint32_t to_parent;
};

#define END UINT32_MAX /* to_child's value that tells the child to exit */

static volatile sig_atomic_t stop_signal, child_gone;
static volatile pid_t child_pid;
static struct counters *shared;

static void on_signal(int sig)
{
	if (sig == SIGCHLD) {
		child_gone = 1;
	} else {
		stop_signal = sig;
		if (child_pid > 0)
			kill(child_pid, SIGKILL);
	}
	__atomic_fetch_add(&shared->to_parent, 1, __ATOMIC_SEQ_CST);
}

static long futex(uint32_t *word, int op, uint32_t value)
{
	return syscall(SYS_futex, word, op, value, NULL, NULL, 0);
}

static void send_count(uint32_t *word, uint32_t count)
{
	__atomic_store_n(word, count, __ATOMIC_RELEASE);
	futex(word, FUTEX_WAKE, 1);
}

/* Sleeps until *word holds something else than `seen`; returns it. */
static uint32_t wait_change(uint32_t *word, uint32_t seen, int parent)
{
	uint32_t now;
	while ((now = __atomic_load_n(word, __ATOMIC_ACQUIRE)) == seen) {
		if (parent && (stop_signal || child_gone))
			break;
		futex(word, FUTEX_WAIT, seen); /* EAGAIN, EINTR or woken: look again */
	}
	return now;
}

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int pin(int cpu)
{
	cpu_set_t set;
	if (cpu < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof set, &set);
}

/* voluntary_ctxt_switches in /proc/PID/status: how often the process went to sleep. */
static long long voluntary_switches(pid_t pid)
{
	char path[64], line[256];
	long long n = -1;
	FILE *status;
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	status = fopen(path, "r");
	if (!status)
		return -1;
	while (fgets(line, sizeof line, status))
		if (sscanf(line, "voluntary_ctxt_switches: %lld", &n) == 1)
			break;
	fclose(status);
	return n;
}

static int compare(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* The nearest-rank percentile, per mille: the ceil(n * per_mille / 1000)-th smallest. */
static uint64_t rank(const uint64_t *sorted, size_t n, size_t per_mille)
{
	size_t r = (n * per_mille + 999) / 1000;
	if (r < 1)
		r = 1;
	if (r > n)
		r = n;
	return sorted[r - 1];
}

int bench_c_futex_main(int argc, char **argv)
{
	int parent_cpu, child_cpu, status, broken = 0, died;
	size_t max, n = 0;
	uint64_t warmup_ns, measure_ns, counted_from, until;
	uint32_t count = 0;
	long long switches_before = 0, switches_after;
	uint64_t *samples;
	struct sigaction action;
	pid_t child, parent = getpid();

	if (argc != 7 || strcmp(argv[3], "0") != 0) {
		fprintf(stderr, "usage: %s PARENT_CPU CHILD_CPU 0 WARMUP_MS MEASURE_MS MAX\n", argv[0]);
		return 2;
	}
	parent_cpu = atoi(argv[1]);
	child_cpu = atoi(argv[2]);
	warmup_ns = strtoull(argv[4], NULL, 10) * 1000000u;
	measure_ns = strtoull(argv[5], NULL, 10) * 1000000u;
	max = strtoull(argv[6], NULL, 10);
	samples = malloc((max ? max : 1) * sizeof *samples);
	if (max == 0 || !samples) {
		fprintf(stderr, "%s: bad count, or out of memory\n", argv[0]);
		return 2;
	}
	shared = mmap(NULL, sizeof *shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED) {
		perror("mmap");
		return 1;
	}

	/* Die with whoever started us (bench), and stop on its signals without SA_RESTART. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	memset(&action, 0, sizeof action);
	action.sa_handler = on_signal;
	sigemptyset(&action.sa_mask);
	sigaction(SIGINT, &action, NULL);
	sigaction(SIGTERM, &action, NULL);
	sigaction(SIGHUP, &action, NULL);
	sigaction(SIGCHLD, &action, NULL);

	child = fork();
	if (child < 0) {
		perror("fork");
		return 1;
	}
	if (child == 0) {
		/* The child: answers every count with the same count, until END. */
		uint32_t seen = 0;
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent) /* it died before we asked */
			_exit(1);
		if (pin(child_cpu))
			_exit(1);
		while ((seen = wait_change(&shared->to_child, seen, 0)) != END)
			send_count(&shared->to_parent, seen);
		_exit(0);
	}
	child_pid = child;
	if (pin(parent_cpu)) {
		perror("sched_setaffinity");
		broken = 1;
	}

	counted_from = now_ns() + warmup_ns;
	until = counted_from + measure_ns;
	while (!broken && !stop_signal && !child_gone) {
		uint64_t before, after;
		uint32_t answer;
		if (n == 0 && now_ns() >= counted_from)
			switches_before = voluntary_switches(getpid()) + voluntary_switches(child);
		count++;
		before = now_ns();
		send_count(&shared->to_child, count);
		answer = wait_change(&shared->to_parent, count - 1, 1);
		after = now_ns();
		if (stop_signal || child_gone)
			break;
		if (answer != count) {
			fprintf(stderr, "%s: sent %u, got %u back\n", argv[0], count, answer);
			broken = 1;
			break;
		}
		if (before >= counted_from)
			samples[n++] = after - before;
		if ((after >= until && n > 0) || n >= max)
			break; /* at least one counted, however late */
	}
	switches_after = voluntary_switches(getpid()) + voluntary_switches(child);
	died = child_gone; /* before END, whose exit raises SIGCHLD too */

	send_count(&shared->to_child, END);
	if (broken || stop_signal)
		kill(child, SIGKILL);
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	if (stop_signal)
		return 128 + stop_signal;
	if (broken || died || n == 0) {
		if (!broken)
			fprintf(stderr, "%s: the child ended after %u round trips\n", argv[0], count);
		return 1;
	}
	qsort(samples, n, sizeof *samples, compare);
	printf("samples %zu p50 %llu p99 %llu p999 %llu max %llu ctxt %lld\n", n,
	       (unsigned long long)rank(samples, n, 500), (unsigned long long)rank(samples, n, 990),
	       (unsigned long long)rank(samples, n, 999), (unsigned long long)samples[n - 1],
	       switches_after - switches_before);
	fflush(stdout);
	free(samples);
	return 0;
}

#ifdef BENCH_C_STANDALONE
int main(int argc, char **argv)
{
	return bench_c_futex_main(argc, argv);
}
#endif
