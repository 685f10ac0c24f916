/* The floor for reading sshd entries from a journal directory: libsystemd only.
 *
 *   gcc -O2 -o bare-journal bench/bare-journal.c -lsystemd
 *   ./bare-journal DIR          -> "entries=N bytes=B elapsed_seconds=S entries_per_sec=R"
 *
 * Same coarse filtering as banjo's sshd jail: _COMM=sshd OR _COMM=sshd-session OR
 * _COMM=sshd-auth (terms on one field are alternatives), then MESSAGE of every match.
 * The bytes are summed so the compiler cannot drop the read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-journal.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s JOURNAL-DIR\n", argv[0]);
        return 2;
    }
    double t0 = now();
    sd_journal *j;
    int r = sd_journal_open_directory(&j, argv[1], 0);
    if (r < 0) {
        fprintf(stderr, "sd_journal_open_directory: %s\n", strerror(-r));
        return 1;
    }
    sd_journal_set_data_threshold(j, 0);
    const char *m[] = {"_COMM=sshd", "_COMM=sshd-session", "_COMM=sshd-auth"};
    for (int i = 0; i < 3; i++) {
        r = sd_journal_add_match(j, m[i], 0);
        if (r < 0) {
            fprintf(stderr, "sd_journal_add_match: %s\n", strerror(-r));
            return 1;
        }
    }
    unsigned long long n = 0, bytes = 0;
    for (;;) {
        r = sd_journal_next(j);
        if (r < 0) {
            fprintf(stderr, "sd_journal_next: %s\n", strerror(-r));
            return 1;
        }
        if (r == 0)
            break;
        const void *d;
        size_t l;
        if (sd_journal_get_data(j, "MESSAGE", &d, &l) >= 0)
            bytes += l;
        n++;
    }
    sd_journal_close(j);
    double s = now() - t0;
    printf("entries=%llu bytes=%llu elapsed_seconds=%.6f entries_per_sec=%.0f\n", n, bytes, s,
           s > 0 ? n / s : 0.0);
    return 0;
}
