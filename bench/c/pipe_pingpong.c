/*
 * pipe_pingpong.c: bench's plain-C reference for a pipe round trip.
 *
 * Two pipes, one each way. The parent writes a message into the first; the child reads it and
 * writes it back into the second; the parent times each round trip with
 * clock_gettime(CLOCK_MONOTONIC). Nothing else: no library, no checks on the timed path. bench
 * runs this in the same run as its own pipe round trip, so that "Rust against C" is a ratio
 * of two figures measured minutes apart on the same machine, not a number from another day.
 *
 * bench links this file in (bench/build.rs, with the cc crate) and runs it in a process of its
 * own: `bench --c-reference pipe ARGS` calls bench_c_pipe_main and nothing else. On its own:
 *
 *     cc -O2 -Wall -Wextra -D_GNU_SOURCE -DBENCH_C_STANDALONE pipe_pingpong.c -o pipe_pingpong
 *     ./pipe_pingpong 0 1 8 20 80 100000
 *
 * Arguments: the parent's CPU, the child's CPU (-1: not pinned), the message size in bytes,
 * the warm-up in ms, the counted stretch in ms, and at most this many counted round trips.
 * It prints one line, the nearest-rank percentiles of the counted round trips in ns, and the
 * voluntary context switches of both processes while they were counted:
 *
 *     samples 9141 p50 2104 p99 3050 p999 6120 max 70311 ctxt 18290
 *
 * SIGINT, SIGTERM and SIGHUP end it cleanly: the handler kills the child, whose end of the
 * pipe closes, so the parent's read returns; the parent reaps the child and exits with
 * 128 + the signal's number.
 */

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop_signal;
static volatile pid_t child_pid;

static void on_stop(int sig)
{
	stop_signal = sig;
	if (child_pid > 0)
		kill(child_pid, SIGKILL); /* its pipe ends close: our read returns */
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

/* read(2) or write(2) until all `len` bytes are through; 0 on end of file or error. */
static int all(int fd, char *bytes, size_t len, int writing)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = writing ? write(fd, bytes + done, len - done)
				    : read(fd, bytes + done, len - done);
		if (n <= 0)
			return 0;
		done += (size_t)n;
	}
	return 1;
}

int bench_c_pipe_main(int argc, char **argv)
{
	int to_child[2], to_parent[2];
	int parent_cpu, child_cpu;
	size_t size, max, n = 0;
	uint64_t warmup_ns, measure_ns, counted_from, until, round = 0;
	long long switches_before = 0, switches_after;
	char *sent, *reply;
	uint64_t *samples;
	struct sigaction action;
	pid_t child, parent = getpid();
	int status, broken = 0;

	if (argc != 7) {
		fprintf(stderr, "usage: %s PARENT_CPU CHILD_CPU SIZE WARMUP_MS MEASURE_MS MAX\n", argv[0]);
		return 2;
	}
	parent_cpu = atoi(argv[1]);
	child_cpu = atoi(argv[2]);
	size = strtoull(argv[3], NULL, 10);
	warmup_ns = strtoull(argv[4], NULL, 10) * 1000000u;
	measure_ns = strtoull(argv[5], NULL, 10) * 1000000u;
	max = strtoull(argv[6], NULL, 10);
	sent = calloc(size ? size : 1, 1);
	reply = calloc(size ? size : 1, 1);
	samples = malloc((max ? max : 1) * sizeof *samples);
	if (size == 0 || max == 0 || !sent || !reply || !samples) {
		fprintf(stderr, "%s: bad size or count, or out of memory\n", argv[0]);
		return 2;
	}

	/* Die with whoever started us (bench), and stop on its signals without SA_RESTART. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	memset(&action, 0, sizeof action);
	action.sa_handler = on_stop;
	sigemptyset(&action.sa_mask);
	sigaction(SIGINT, &action, NULL);
	sigaction(SIGTERM, &action, NULL);
	sigaction(SIGHUP, &action, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (pipe(to_child) || pipe(to_parent)) {
		perror("pipe");
		return 1;
	}
	child = fork();
	if (child < 0) {
		perror("fork");
		return 1;
	}
	if (child == 0) {
		/* The child: every message straight back, until end of file. */
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent) /* it died before we asked */
			_exit(1);
		close(to_child[1]);
		close(to_parent[0]);
		if (pin(child_cpu))
			_exit(1);
		while (all(to_child[0], reply, size, 0))
			if (!all(to_parent[1], reply, size, 1))
				_exit(1);
		_exit(0);
	}
	child_pid = child;
	close(to_child[0]);
	close(to_parent[1]);
	if (pin(parent_cpu)) {
		perror("sched_setaffinity");
		broken = 1;
	}

	counted_from = now_ns() + warmup_ns;
	until = counted_from + measure_ns;
	while (!broken && !stop_signal) {
		uint64_t before, after;
		if (n == 0 && now_ns() >= counted_from)
			switches_before = voluntary_switches(getpid()) + voluntary_switches(child);
		memcpy(sent, &round, size < 8 ? size : 8);
		before = now_ns();
		if (!all(to_child[1], sent, size, 1) || !all(to_parent[0], reply, size, 0)) {
			broken = 1;
			break;
		}
		after = now_ns();
		if (memcmp(sent, reply, size) != 0) {
			fprintf(stderr, "%s: round trip %llu came back different\n", argv[0],
				(unsigned long long)round);
			broken = 1;
			break;
		}
		if (before >= counted_from)
			samples[n++] = after - before;
		if ((after >= until && n > 0) || n >= max)
			break; /* at least one counted, however late */
		round++;
	}
	switches_after = voluntary_switches(getpid()) + voluntary_switches(child);

	close(to_child[1]); /* end of file for the child, which exits */
	if (broken || stop_signal)
		kill(child, SIGKILL);
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	if (stop_signal)
		return 128 + stop_signal;
	if (broken || n == 0) {
		fprintf(stderr, "%s: the exchange ended after %llu round trips\n", argv[0],
			(unsigned long long)round);
		return 1;
	}
	qsort(samples, n, sizeof *samples, compare);
	printf("samples %zu p50 %llu p99 %llu p999 %llu max %llu ctxt %lld\n", n,
	       (unsigned long long)rank(samples, n, 500), (unsigned long long)rank(samples, n, 990),
	       (unsigned long long)rank(samples, n, 999), (unsigned long long)samples[n - 1],
	       switches_after - switches_before);
	fflush(stdout);
	free(sent);
	free(reply);
	free(samples);
	return 0;
}

#ifdef BENCH_C_STANDALONE
int main(int argc, char **argv)
{
	return bench_c_pipe_main(argc, argv);
}
#endif
