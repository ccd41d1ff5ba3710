/* Processes every image in a folder with callbacks, waits on a condition variable,
 * and prints one line per job.   usage: process_dir FOLDER */
#define _DEFAULT_SOURCE /* strdup, usleep, dirent under -std=c11 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conveyor.h"

static const char *RECIPE =
    "{\"outputs\":[{\"name\":\"small\",\"width\":64,\"height\":64,\"format\":\"jpeg\"},"
    "{\"name\":\"thumb\",\"width\":32,\"height\":32,\"fit\":\"cover\",\"format\":\"webp\"}]}";

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int pending, failed;
} tracker;

typedef struct {
    tracker *t;
    char name[256];
} job_ctx;

/* Runs on a pool thread, exactly once per accepted job. */
static void on_done(void *userdata, const conveyor_job_result *r) {
    job_ctx *ctx = userdata;
    if (r->code == CONVEYOR_OK) {
        printf("ok %s: %s %ux%u ->", ctx->name, r->input_format, r->input_width, r->input_height);
        for (size_t i = 0; i < r->output_count; i++) {
            const conveyor_output *o = &r->outputs[i];
            printf(" %s=%s:%ux%u:%zu", o->name, o->format, o->width, o->height, o->len);
        }
        printf("\n");
    } else {
        printf("failed %s: %s at %s: %s\n", ctx->name, conveyor_result_str(r->code), r->stage ? r->stage : "-",
               r->message);
    }
    fflush(stdout);
    pthread_mutex_lock(&ctx->t->mu);
    ctx->t->pending--;
    if (r->code != CONVEYOR_OK) ctx->t->failed++;
    pthread_cond_signal(&ctx->t->cv);
    pthread_mutex_unlock(&ctx->t->mu);
}

static unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
    *len = buf ? fread(buf, 1, (size_t)n, f) : 0;
    fclose(f);
    return buf;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s FOLDER\n", argv[0]);
        return 2;
    }
    if (strcmp(conveyor_version(), CONVEYOR_VERSION) != 0) {
        fprintf(stderr, "header %s does not match library %s\n", CONVEYOR_VERSION, conveyor_version());
        return 1;
    }
    conveyor_pool *pool = NULL;
    if (conveyor_pool_new("{\"workers\":2,\"queue_capacity\":4}", &pool) != CONVEYOR_OK) {
        fprintf(stderr, "pool: %s\n", conveyor_last_error_message());
        return 1;
    }
    tracker t = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    DIR *dir = opendir(argv[1]);
    if (!dir) {
        perror(argv[1]);
        conveyor_pool_free(pool);
        return 1;
    }
    int jobs = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], e->d_name);
        size_t len = 0;
        unsigned char *data = read_file(path, &len);
        if (!data) continue;
        job_ctx *ctx = malloc(sizeof *ctx);
        ctx->t = &t;
        snprintf(ctx->name, sizeof ctx->name, "%s", e->d_name);
        pthread_mutex_lock(&t.mu);
        t.pending++; /* before submitting: the callback may run before submit returns */
        pthread_mutex_unlock(&t.mu);
        uint64_t id = 0;
        conveyor_result rc = conveyor_pool_submit(pool, data, len, RECIPE, on_done, ctx, free, &id);
        free(data); /* the library copied it */
        if (rc != CONVEYOR_OK) {
            printf("refused %s: %s\n", e->d_name, conveyor_result_str(rc));
            pthread_mutex_lock(&t.mu);
            t.pending--;
            pthread_mutex_unlock(&t.mu);
            free(ctx); /* not accepted: still ours */
            continue;
        }
        jobs++;
    }
    closedir(dir);
    pthread_mutex_lock(&t.mu);
    while (t.pending > 0) pthread_cond_wait(&t.cv, &t.mu);
    pthread_mutex_unlock(&t.mu);
    conveyor_pool_free(pool);
    printf("done: %d jobs, %d failed\n", jobs, t.failed);
    return 0;
}
