/* The standard upload workload through the C ABI (libconveyor), in the shared anchors'
 * format: bench CORPUS --threads N --reps R --warmup W --out DIR -> one JSON line. */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "conveyor.h"

static const char *RECIPE =
    "{\"outputs\":[{\"name\":\"large\",\"width\":1600,\"height\":1600,\"format\":\"jpeg\",\"quality\":80},"
    "{\"name\":\"thumb\",\"width\":320,\"height\":320,\"format\":\"webp\",\"quality\":75}]}";

typedef struct {
    unsigned char *jpeg, *webp;
    size_t jpeg_len, webp_len;
    int failed;
} slot;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int pending;

static void done(void *ud, const conveyor_job_result *r) {
    slot *s = ud;
    if (r->code == CONVEYOR_OK && r->output_count == 2) {
        free(s->jpeg);
        free(s->webp);
        s->jpeg = malloc(r->outputs[0].len);
        memcpy(s->jpeg, r->outputs[0].data, r->outputs[0].len);
        s->jpeg_len = r->outputs[0].len;
        s->webp = malloc(r->outputs[1].len);
        memcpy(s->webp, r->outputs[1].data, r->outputs[1].len);
        s->webp_len = r->outputs[1].len;
    } else {
        s->failed = 1;
        fprintf(stderr, "job failed: %s %s\n", conveyor_result_str(r->code), r->message ? r->message : "");
    }
    pthread_mutex_lock(&mu);
    pending--;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
static int cmpd(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

int main(int argc, char **argv) {
    const char *corpus = "corpus", *out = NULL;
    int threads = 2, reps = 5, warmup = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) warmup = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else corpus = argv[i];
    }
    char *names[256];
    int n = 0;
    DIR *d = opendir(corpus);
    if (!d) { perror(corpus); return 1; }
    struct dirent *e;
    while ((e = readdir(d)) && n < 256) {
        size_t l = strlen(e->d_name);
        if (l > 4 && (!strcmp(e->d_name + l - 4, ".jpg") || !strcmp(e->d_name + l - 4, ".png"))) names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp);
    unsigned char **bufs = calloc(n, sizeof *bufs);
    size_t *lens = calloc(n, sizeof *lens);
    for (int i = 0; i < n; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", corpus, names[i]);
        FILE *f = fopen(p, "rb");
        fseek(f, 0, SEEK_END);
        lens[i] = (size_t)ftell(f);
        fseek(f, 0, SEEK_SET);
        bufs[i] = malloc(lens[i]);
        if (fread(bufs[i], 1, lens[i], f) != lens[i]) return 1;
        fclose(f);
    }
    char cfg[128];
    snprintf(cfg, sizeof cfg, "{\"workers\":%d,\"queue_capacity\":%d}", threads, threads * 2);
    conveyor_pool *pool = NULL;
    if (conveyor_pool_new(cfg, &pool) != CONVEYOR_OK) { fprintf(stderr, "%s\n", conveyor_last_error_message()); return 1; }
    slot *slots = calloc(n, sizeof *slots);
    double *times = calloc(reps, sizeof *times);
    for (int r = 0; r < warmup + reps; r++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        pthread_mutex_lock(&mu);
        pending = n;
        pthread_mutex_unlock(&mu);
        for (int i = 0; i < n; i++)
            if (conveyor_pool_submit(pool, bufs[i], lens[i], RECIPE, done, &slots[i], NULL, NULL) != CONVEYOR_OK) return 1;
        pthread_mutex_lock(&mu);
        while (pending > 0) pthread_cond_wait(&cv, &mu);
        pthread_mutex_unlock(&mu);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double dt = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
        fprintf(stderr, "conveyor-c rep %d: %.3fs\n", r, dt);
        if (r >= warmup) times[r - warmup] = dt;
    }
    conveyor_pool_free(pool);
    if (out) mkdir(out, 0755);
    size_t jb = 0, wb = 0;
    for (int i = 0; i < n; i++) {
        if (slots[i].failed) return 1;
        jb += slots[i].jpeg_len;
        wb += slots[i].webp_len;
        if (out) {
            char p[4096], stem[1024];
            snprintf(stem, sizeof stem, "%s", names[i]);
            stem[strlen(stem) - 4] = 0;
            snprintf(p, sizeof p, "%s/%s.jpg", out, stem);
            FILE *f = fopen(p, "wb");
            if (f) { fwrite(slots[i].jpeg, 1, slots[i].jpeg_len, f); fclose(f); }
            snprintf(p, sizeof p, "%s/%s.webp", out, stem);
            f = fopen(p, "wb");
            if (f) { fwrite(slots[i].webp, 1, slots[i].webp_len, f); fclose(f); }
        }
    }
    double sorted[64];
    memcpy(sorted, times, sizeof(double) * reps);
    qsort(sorted, reps, sizeof(double), cmpd);
    double med = sorted[reps / 2];
    printf("{\"images\": %d, \"reps_s\": [", n);
    for (int r = 0; r < reps; r++) printf("%s%.4f", r ? ", " : "", times[r]);
    printf("], \"median_s\": %.4f, \"ips_median\": %.3f, \"jpeg_bytes\": %zu, \"webp_bytes\": %zu, \"threads\": %d}\n", med,
           n / med, jb, wb, threads);
    return 0;
}
