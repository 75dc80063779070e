/* peer.c: a peer in C for the POSIX examples of ipc-labs.
 *
 *   peer send /NAME PRIO TEXT   put TEXT in queue /NAME with priority PRIO
 *   peer recv /NAME             take the most urgent message, print "priority P: TEXT"
 *   peer post /SEMNAME          add 1 to the named semaphore /SEMNAME
 *   peer wait /SEMNAME          take 1 from it, waiting while it is 0
 *
 * The queue and the semaphore must exist already (pmq_send or pmq_recv creates the
 * queue, psem create makes the semaphore):
 * peer opens, never creates, so it never leaves anything behind.
 *
 * Build: cc -Wall -o peer peer.c -lrt -pthread
 */
#define _GNU_SOURCE /* for strerrorname_np: "ENOENT" */
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One line on stderr that names the call, the object and the errno; returns 1. */
static int fail(const char *call, const char *name)
{
    int saved = errno;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 32)
    fprintf(stderr, "peer: %s %s: %s: %s\n", call, name, strerrorname_np(saved),
            strerror(saved));
#else
    fprintf(stderr, "peer: %s %s: errno %d: %s\n", call, name, saved, strerror(saved));
#endif
    return 1;
}

// ANCHOR: send
static int send_message(const char *name, unsigned prio, const char *text)
{
    mqd_t q = mq_open(name, O_WRONLY);          /* no O_CREAT: the queue must exist */
    if (q == (mqd_t)-1)
        return fail("mq_open", name);
    /* The length travels with the message: no '\0' is sent, none is needed. */
    if (mq_send(q, text, strlen(text), prio) == -1) {
        fail("mq_send", name);
        mq_close(q);
        return 1;
    }
    mq_close(q);
    printf("sent with priority %u: %s\n", prio, text);
    return 0;
}
// ANCHOR_END: send

// ANCHOR: recv
static int receive_message(const char *name)
{
    mqd_t q = mq_open(name, O_RDONLY);
    if (q == (mqd_t)-1)
        return fail("mq_open", name);
    struct mq_attr attr;
    if (mq_getattr(q, &attr) == -1) {
        fail("mq_getattr", name);
        mq_close(q);
        return 1;
    }
    /* The buffer must hold mq_msgsize bytes, or mq_receive fails with EMSGSIZE. */
    char *buffer = malloc(attr.mq_msgsize);
    unsigned prio;
    ssize_t got = buffer ? mq_receive(q, buffer, attr.mq_msgsize, &prio) : -1;
    if (got == -1) {
        fail("mq_receive", name);
        free(buffer);
        mq_close(q);
        return 1;
    }
    printf("priority %u: %.*s\n", prio, (int)got, buffer);
    free(buffer);
    mq_close(q);
    return 0;
}
// ANCHOR_END: recv

// ANCHOR: sem
static int post_or_wait(const char *name, int post)
{
    sem_t *sem = sem_open(name, 0);             /* no O_CREAT: it must exist */
    if (sem == SEM_FAILED)
        return fail("sem_open", name);
    int done;
    if (post)
        done = sem_post(sem);                   /* never blocks: no EINTR */
    else
        do
            done = sem_wait(sem);
        while (done == -1 && errno == EINTR);   /* a signal that did not kill us */
    if (done == -1) {
        fail(post ? "sem_post" : "sem_wait", name);
        sem_close(sem);
        return 1;
    }
    sem_close(sem);
    printf("%s %s\n", post ? "posted" : "took 1 from", name);
    return 0;
}
// ANCHOR_END: sem

int main(int argc, char **argv)
{
    const char *usage = "usage: peer send /NAME PRIO TEXT | recv /NAME | post /SEM | wait /SEM\n";
    int ok;
    if (argc == 5 && strcmp(argv[1], "send") == 0) {
        char *end;
        unsigned long prio = strtoul(argv[3], &end, 10);
        if (*argv[3] == '\0' || *end != '\0' || prio >= 32768) {
            fprintf(stderr, "peer: priority %s: a number from 0 to 32767\n", argv[3]);
            return 2;
        }
        ok = send_message(argv[2], (unsigned)prio, argv[4]);
    } else if (argc == 3 && strcmp(argv[1], "recv") == 0) {
        ok = receive_message(argv[2]);
    } else if (argc == 3 && strcmp(argv[1], "post") == 0) {
        ok = post_or_wait(argv[2], 1);
    } else if (argc == 3 && strcmp(argv[1], "wait") == 0) {
        ok = post_or_wait(argv[2], 0);
    } else {
        fputs(usage, stderr);
        return 2;
    }
    /* stdout may be a pipe that closed: a lost line is a failure too. */
    if (fflush(stdout) == EOF)
        return 1;
    return ok;
}
