/* conveyor_job_options through the C door: the key names the published folder and comes
 * back in the result (polled and in a callback), NULL options take the defaults (the
 * job id names the folder), a deadline times a queued job out, a full queue refuses at
 * once with CONVEYOR_QUEUE_WAIT_NEVER, a bad key fails its job at "validate", and the
 * struct_size rule: too small and unknown trailing fields are refused, zero trailing
 * fields (a newer caller) are accepted. Read-only calls take const pointers.
 * usage: options IMAGE   prints "options: N passed, 0 failed" */
#define _DEFAULT_SOURCE /* mkdtemp, usleep, nftw under -std=c11 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conveyor.h"

static int passes, failures;
#define CHECK(cond)                                                          \
    do {                                                                     \
        if (cond) {                                                          \
            passes++;                                                        \
        } else {                                                             \
            failures++;                                                      \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                    \
    } while (0)

static const char *RECIPE = "{\"outputs\":[{\"name\":\"thumb\",\"width\":64,\"height\":64,\"format\":\"png\"}]}";
/* Several milliseconds of work per job on any machine: full-size WebP and PNG. */
static const char *HEAVY = "{\"outputs\":[{\"name\":\"w\",\"width\":640,\"height\":640,\"format\":\"webp\"},"
                           "{\"name\":\"p\",\"width\":640,\"height\":640,\"format\":\"png\"}]}";

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

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int starts_with(const char *s, const char *prefix) {
    return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* What the callback saw, copied out (the result is valid only during the call). */
static atomic_int cb_done;
static char cb_key[64];
static conveyor_result cb_code;
static void on_done(void *ud, const conveyor_job_result *r) {
    (void)ud;
    snprintf(cb_key, sizeof cb_key, "%s", r->key ? r->key : "(null)");
    cb_code = r->code;
    atomic_store(&cb_done, 1);
}

static atomic_int counted;
static void count(void *ud, const conveyor_job_result *r) {
    (void)ud;
    (void)r;
    atomic_fetch_add(&counted, 1);
}

static atomic_int freed;
static void free_ud(void *ud) {
    (void)ud;
    atomic_fetch_add(&freed, 1);
}

/* Polls one result; NULL (and a failed check) when none came. */
static conveyor_job_result *poll_one(conveyor_pool *pool) {
    conveyor_job_result *r = NULL;
    conveyor_result rc = conveyor_pool_poll(pool, 60000, &r);
    CHECK(rc == CONVEYOR_OK && r != NULL);
    return rc == CONVEYOR_OK ? r : NULL;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s IMAGE\n", argv[0]);
        return 2;
    }
    size_t len = 0;
    unsigned char *data = read_file(argv[1], &len);
    if (!data) {
        perror(argv[1]);
        return 2;
    }
    char dir[] = "/tmp/conveyor-options-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    char config[512], path[1024];
    snprintf(config, sizeof config, "{\"workers\":1,\"queue_capacity\":2,\"output_dir\":\"%s\"}", dir);
    conveyor_pool *pool = NULL;
    if (conveyor_pool_new(config, &pool) != CONVEYOR_OK) {
        fprintf(stderr, "pool: %s\n", conveyor_last_error_message());
        return 1;
    }

    /* init: the defaults are zero; the size is the caller's */
    conveyor_job_options o;
    memset(&o, 0xAB, sizeof o);
    CHECK(conveyor_job_options_init(&o, sizeof o) == CONVEYOR_OK);
    CHECK(o.struct_size == sizeof o && o.key == NULL && o.timeout_ms == 0 && o.queue_wait == CONVEYOR_QUEUE_WAIT_BLOCK &&
          o.queue_wait_ms == 0);
    CHECK(conveyor_job_options_init(NULL, sizeof o) == CONVEYOR_NULL_PARAMETER);
    CHECK(conveyor_job_options_init(&o, 4) == CONVEYOR_INVALID_ARGUMENT && o.struct_size == sizeof o);

    /* a key, polled: the result carries it and the folder has its name */
    uint64_t id = 0;
    o.key = "user-7/avatar";
    CHECK(conveyor_pool_submit_with_options(pool, data, len, RECIPE, &o, NULL, NULL, NULL, &id) == CONVEYOR_OK);
    conveyor_job_result *r = poll_one(pool);
    if (r) {
        CHECK(r->code == CONVEYOR_OK && r->job_id == id);
        CHECK(r->key != NULL && strcmp(r->key, "user-7/avatar") == 0);
        /* the whole wire outcome rides along as JSON */
        CHECK(r->json != NULL && strlen(r->json) == r->json_len);
        CHECK(strstr(r->json, "\"key\":\"user-7/avatar\"") != NULL && strstr(r->json, "\"ok\":true") != NULL);
        CHECK(strstr(r->json, "\"byte_len\"") != NULL && strstr(r->json, "\"timings\"") != NULL);
        snprintf(path, sizeof path, "%s/user-7/avatar/", dir);
        CHECK(r->output_count == 1 && starts_with(r->outputs[0].path, path));
        conveyor_job_result_free(r);
    }
    snprintf(path, sizeof path, "%s/user-7/avatar", dir);
    CHECK(is_dir(path));

    /* a key, in a callback (the options struct is the caller's to reuse at once) */
    o.key = "cb-key";
    CHECK(conveyor_pool_submit_with_options(pool, data, len, RECIPE, &o, on_done, NULL, NULL, NULL) == CONVEYOR_OK);
    o.key = NULL;
    for (int i = 0; i < 12000 && !atomic_load(&cb_done); i++) usleep(5000);
    CHECK(atomic_load(&cb_done) && cb_code == CONVEYOR_OK && strcmp(cb_key, "cb-key") == 0);
    snprintf(path, sizeof path, "%s/cb-key", dir);
    CHECK(is_dir(path));

    /* NULL options: every default; no key, so the job id names the folder */
    CHECK(conveyor_pool_submit_with_options(pool, data, len, RECIPE, NULL, NULL, NULL, NULL, &id) == CONVEYOR_OK);
    r = poll_one(pool);
    if (r) {
        CHECK(r->code == CONVEYOR_OK && r->key == NULL);
        conveyor_job_result_free(r);
    }
    snprintf(path, sizeof path, "%s/%llu", dir, (unsigned long long)id);
    CHECK(is_dir(path));

    /* a key that breaks the core's rules fails its job, and nothing escapes */
    CHECK(conveyor_job_options_init(&o, sizeof o) == CONVEYOR_OK);
    o.key = "../escape";
    CHECK(conveyor_pool_submit_with_options(pool, data, len, RECIPE, &o, NULL, NULL, NULL, NULL) == CONVEYOR_OK);
    r = poll_one(pool);
    if (r) {
        CHECK(r->code == CONVEYOR_INVALID_ARGUMENT && r->stage && strcmp(r->stage, "validate") == 0);
        CHECK(r->key && strcmp(r->key, "../escape") == 0);
        CHECK(r->json && strstr(r->json, "\"ok\":false") && strstr(r->json, "\"code\":\"invalid_argument\""));
        conveyor_job_result_free(r);
    }
    snprintf(path, sizeof path, "%s/../escape", dir);
    CHECK(!is_dir(path));

    /* the struct_size rule: too small is refused, the job is not accepted */
    CHECK(conveyor_job_options_init(&o, sizeof o) == CONVEYOR_OK);
    o.struct_size = 8;
    int before = atomic_load(&freed);
    CHECK(conveyor_pool_submit_with_options(pool, data, len, RECIPE, &o, count, NULL, free_ud, NULL) ==
          CONVEYOR_INVALID_ARGUMENT);
    CHECK(strstr(conveyor_last_error_message(), "struct_size") != NULL);
    o.struct_size = 0;
    CHECK(conveyor_pool_submit_with_options(pool, data, len, RECIPE, &o, count, NULL, free_ud, NULL) ==
          CONVEYOR_INVALID_ARGUMENT);
    CHECK(atomic_load(&freed) == before);
    /* ... an unknown queue_wait too */
    CHECK(conveyor_job_options_init(&o, sizeof o) == CONVEYOR_OK);
    o.queue_wait = 7;
    CHECK(conveyor_pool_submit_with_options(pool, data, len, RECIPE, &o, count, NULL, NULL, NULL) ==
          CONVEYOR_INVALID_ARGUMENT);

    /* a caller built against a newer header: zero trailing fields are fine, a set one
     * this library does not know is refused */
    struct {
        conveyor_job_options o;
        uint64_t future_field;
    } newer;
    CHECK(conveyor_job_options_init(&newer.o, sizeof newer) == CONVEYOR_OK && newer.future_field == 0);
    CHECK(newer.o.struct_size == sizeof newer);
    newer.o.key = "newer";
    CHECK(conveyor_pool_submit_with_options(pool, data, len, RECIPE, &newer.o, NULL, NULL, NULL, NULL) == CONVEYOR_OK);
    r = poll_one(pool);
    if (r) {
        CHECK(r->code == CONVEYOR_OK && r->key && strcmp(r->key, "newer") == 0);
        conveyor_job_result_free(r);
    }
    newer.future_field = 1;
    CHECK(conveyor_pool_submit_with_options(pool, data, len, RECIPE, &newer.o, NULL, NULL, NULL, NULL) ==
          CONVEYOR_INVALID_ARGUMENT);
    CHECK(strstr(conveyor_last_error_message(), "does not know") != NULL);

    /* a deadline: behind two heavy jobs on the one worker, 1 ms passes in the queue */
    CHECK(conveyor_job_options_init(&o, sizeof o) == CONVEYOR_OK);
    int busy = 0;
    for (int i = 0; i < 2; i++)
        busy += conveyor_pool_submit_with_options(pool, data, len, HEAVY, &o, count, NULL, NULL, NULL) == CONVEYOR_OK;
    CHECK(busy == 2);
    o.timeout_ms = 1;
    o.key = "late";
    CHECK(conveyor_pool_submit_with_options(pool, data, len, RECIPE, &o, NULL, NULL, NULL, &id) == CONVEYOR_OK);
    r = poll_one(pool);
    if (r) {
        CHECK(r->job_id == id && r->code == CONVEYOR_TIMED_OUT);
        CHECK(r->key && strcmp(r->key, "late") == 0);
        conveyor_job_result_free(r);
    }
    snprintf(path, sizeof path, "%s/late", dir);
    CHECK(!is_dir(path));

    /* CONVEYOR_QUEUE_WAIT_NEVER: a full queue (capacity 2, one worker) refuses at once */
    CHECK(conveyor_job_options_init(&o, sizeof o) == CONVEYOR_OK);
    o.queue_wait = CONVEYOR_QUEUE_WAIT_NEVER;
    int accepted = 0, full = 0;
    for (int i = 0; i < 20; i++) {
        conveyor_result rc = conveyor_pool_submit_with_options(pool, data, len, HEAVY, &o, count, NULL, NULL, NULL);
        accepted += rc == CONVEYOR_OK;
        full += rc == CONVEYOR_QUEUE_FULL;
    }
    CHECK(full > 0 && accepted + full == 20);
    /* CONVEYOR_QUEUE_WAIT_TIMEOUT: the same, after waiting */
    o.queue_wait = CONVEYOR_QUEUE_WAIT_TIMEOUT;
    o.queue_wait_ms = 1;
    int timed_out = 0;
    for (int i = 0; i < 20; i++) {
        conveyor_result rc = conveyor_pool_submit_with_options(pool, data, len, HEAVY, &o, count, NULL, NULL, NULL);
        accepted += rc == CONVEYOR_OK;
        timed_out += rc == CONVEYOR_TIMED_OUT;
    }
    CHECK(timed_out > 0);

    /* read-only calls take const pointers */
    const conveyor_pool *cpool = pool;
    conveyor_stats s;
    CHECK(conveyor_pool_stats(cpool, &s) == CONVEYOR_OK && s.workers == 1);

    conveyor_pool_shutdown(pool);
    CHECK(atomic_load(&counted) == 2 + accepted);
    conveyor_pool_free(pool);
    free(data);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    printf("options: %d passed, %d failed\n", passes, failures);
    return failures == 0 ? 0 : 1;
}
