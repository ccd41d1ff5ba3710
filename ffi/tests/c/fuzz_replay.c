/* Replays fuzz inputs of the ffi_submit target through the real C library, as the
 * target does in-process: each file is `recipe NUL image` (a leading NUL: NULL recipe,
 * the pool's default; no NUL: all recipe, empty image). One pool, created from the
 * configuration in argv[1]; every file is submitted with a callback and a userdata
 * finaliser, and the program waits for both before the next file.
 *
 * Prints one line per file: "<path> submit=<code> job=<code|-> outputs=<n>", then
 * "replayed: N files, A accepted, C callbacks, F frees". Exits 1 on any broken
 * promise: a refused submit that calls back, an accepted one without exactly one
 * callback followed by exactly one free, or an inconsistent result.
 *
 * With `-o`, a successful job also prints "  input <format> <w>x<h>" and, per output
 * K, "  output K <name> <format> <w>x<h> <len>", and the callback writes that
 * output's bytes (`outputs[K].data`, as the C door hands them over) to
 * "<path>.outK", for the shared vectors' pixel checks (ffi/tests/fuzz_regressions.rs).
 *
 * usage: fuzz_replay [-o] CONFIG_JSON FILE...
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conveyor.h"

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int callbacks;
    int frees;
    int bad;
    conveyor_result code;
    size_t outputs;
    const char *path; /* with -o: the input file, the outputs' path prefix */
    char *detail;     /* with -o: the input and output lines, printed by main */
} slot;

/* With -o: describes a successful result in s->detail and writes each output's bytes
 * to "<s->path>.outK". A failed write marks the slot bad. */
static void dump(slot *s, const conveyor_job_result *r) {
    size_t size = 0;
    FILE *text = open_memstream(&s->detail, &size);
    if (!text) {
        s->bad = 1;
        return;
    }
    fprintf(text, "  input %s %ux%u\n", r->input_format ? r->input_format : "-",
            (unsigned)r->input_width, (unsigned)r->input_height);
    for (size_t i = 0; i < r->output_count; i++) {
        const conveyor_output *o = &r->outputs[i];
        fprintf(text, "  output %zu %s %s %ux%u %zu\n", i, o->name ? o->name : "-",
                o->format ? o->format : "-", (unsigned)o->width, (unsigned)o->height, o->len);
        char file[4096];
        snprintf(file, sizeof file, "%s.out%zu", s->path, i);
        FILE *f = fopen(file, "wb");
        if (!f || !o->data || fwrite(o->data, 1, o->len, f) != o->len) s->bad = 1;
        if (f && fclose(f) != 0) s->bad = 1;
    }
    if (fclose(text) != 0) s->bad = 1;
}

static atomic_int total_callbacks, total_frees;

static void on_result(void *userdata, const conveyor_job_result *r) {
    slot *s = userdata;
    pthread_mutex_lock(&s->mu);
    s->callbacks++;
    total_callbacks++;
    s->code = r->code;
    s->outputs = r->output_count;
    if (r->userdata != userdata || s->frees != 0) s->bad = 1;
    if ((r->code == CONVEYOR_OK) != (r->message == NULL)) s->bad = 1;
    if (r->code != CONVEYOR_OK && r->output_count != 0) s->bad = 1;
    for (size_t i = 0; i < r->output_count; i++) {
        const conveyor_output *o = &r->outputs[i];
        if (!o->name || !o->format || !o->data || o->len == 0 || o->width == 0 || o->height == 0)
            s->bad = 1;
    }
    if (s->path && r->code == CONVEYOR_OK) dump(s, r);
    pthread_mutex_unlock(&s->mu);
}

static void on_free(void *userdata) {
    slot *s = userdata;
    pthread_mutex_lock(&s->mu);
    s->frees++;
    total_frees++;
    if (s->callbacks != 1) s->bad = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(n > 0 ? (size_t)n + 1 : 1);
    if (buf && n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = n > 0 ? (size_t)n : 0;
    return buf;
}

int main(int argc, char **argv) {
    int dumping = argc > 1 && strcmp(argv[1], "-o") == 0;
    if (dumping) {
        argv++;
        argc--;
    }
    if (argc < 2) {
        fprintf(stderr, "usage: fuzz_replay [-o] CONFIG_JSON FILE...\n");
        return 2;
    }
    conveyor_pool *pool = NULL;
    if (conveyor_pool_new(argv[1], &pool) != CONVEYOR_OK) {
        fprintf(stderr, "pool: %s\n", conveyor_last_error_message());
        return 1;
    }
    int failures = 0, accepted = 0;
    for (int i = 2; i < argc; i++) {
        size_t len = 0;
        unsigned char *data = read_file(argv[i], &len);
        if (!data) {
            fprintf(stderr, "cannot read %s\n", argv[i]);
            return 1;
        }
        unsigned char *nul = memchr(data, 0, len);
        const char *recipe;
        const unsigned char *image;
        size_t image_len;
        if (nul == data) {
            recipe = NULL;
            image = data + 1;
            image_len = len - 1;
        } else if (nul) {
            recipe = (const char *)data;
            image = nul + 1;
            image_len = len - (size_t)(nul - data) - 1;
        } else {
            data[len] = 0; /* read_file left room for the terminator */
            recipe = (const char *)data;
            image = NULL;
            image_len = 0;
        }
        slot *s = calloc(1, sizeof *s);
        pthread_mutex_init(&s->mu, NULL);
        pthread_cond_init(&s->cv, NULL);
        if (dumping) s->path = argv[i];
        uint64_t id = 0;
        conveyor_result rc =
            conveyor_pool_submit(pool, image, image_len, recipe, on_result, s, on_free, &id);
        if (rc == CONVEYOR_OK) {
            accepted++;
            struct timespec deadline;
            clock_gettime(CLOCK_REALTIME, &deadline);
            deadline.tv_sec += 60;
            pthread_mutex_lock(&s->mu);
            while (s->frees == 0) {
                if (pthread_cond_timedwait(&s->cv, &s->mu, &deadline) != 0) break;
            }
            int ok = s->callbacks == 1 && s->frees == 1 && !s->bad;
            printf("%s submit=%s job=%s outputs=%zu\n", argv[i], conveyor_result_str(rc),
                   conveyor_result_str(s->code), s->outputs);
            if (s->detail) fputs(s->detail, stdout);
            pthread_mutex_unlock(&s->mu);
            if (!ok) {
                printf("BROKEN %s: callbacks=%d frees=%d bad=%d\n", argv[i], s->callbacks, s->frees, s->bad);
                failures++;
            }
            /* The slot stays allocated: a late second callback would still find it. */
        } else {
            printf("%s submit=%s job=- outputs=0\n", argv[i], conveyor_result_str(rc));
            pthread_mutex_lock(&s->mu);
            if (s->callbacks || s->frees) {
                printf("BROKEN %s: a refused submit called back\n", argv[i]);
                failures++;
            }
            pthread_mutex_unlock(&s->mu);
        }
        free(data);
    }
    conveyor_pool_free(pool);
    int callbacks = atomic_load(&total_callbacks), frees = atomic_load(&total_frees);
    printf("replayed: %d files, %d accepted, %d callbacks, %d frees\n", argc - 2, accepted,
           callbacks, frees);
    if (callbacks != accepted || frees != accepted) failures++;
    return failures ? 1 : 0;
}
