/* Bounded jobs through the C door (run by ffi/tests/c_programs.rs): the hostile
 * shared inputs get their typed codes, messages are one short line, failed jobs carry their timings, a deadline
 * stops a running AVIF encode, and a pool's memory budget refuses a job whose estimate exceeds it.
 *
 * Usage: bounds DIR   (DIR: testdata/vectors/inputs)
 * Prints one line per check and exits 1 on the first failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conveyor.h"

static unsigned char *slurp(const char *dir, const char *name, size_t *len) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(2); }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
    *len = fread(buf, 1, (size_t)n, f);
    fclose(f);
    return buf;
}

static int failures = 0;

static void check(int ok, const char *what) {
    printf("%s %s\n", ok ? "ok" : "FAIL", what);
    if (!ok) failures++;
}

/* Submits one file without a callback and polls its result. */
static conveyor_job_result *run(conveyor_pool *pool, const char *dir, const char *name,
                                const char *recipe) {
    size_t len = 0;
    unsigned char *data = slurp(dir, name, &len);
    conveyor_result rc = conveyor_pool_submit(pool, data, len, recipe, NULL, NULL, NULL, NULL);
    free(data);
    if (rc != CONVEYOR_OK) { printf("submit %s: %s\n", name, conveyor_result_str(rc)); exit(1); }
    conveyor_job_result *r = NULL;
    rc = conveyor_pool_poll(pool, 60000, &r);
    if (rc != CONVEYOR_OK) { printf("poll %s: %s\n", name, conveyor_result_str(rc)); exit(1); }
    return r;
}

static void expect(conveyor_pool *pool, const char *dir, const char *name, conveyor_result code) {
    const char *recipe = "{\"outputs\":[{\"name\":\"o\",\"width\":32,\"format\":\"jpeg\"}]}";
    conveyor_job_result *r = run(pool, dir, name, recipe);
    char what[512];
    snprintf(what, sizeof what, "%s -> %s (got %s: %s)", name, conveyor_result_str(code),
             conveyor_result_str(r->code), r->message ? r->message : "");
    check(r->code == code, what);
    if (r->message) {
        check(strlen(r->message) <= 600 && !strchr(r->message, '\n'), "one short line");
    }
    check(r->timings.total_us > 0, "the outcome carries its timings");
    conveyor_job_result_free(r);
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: bounds DIR\n"); return 2; }
    const char *dir = argv[1];
    conveyor_pool *pool = NULL;
    if (conveyor_pool_new("{\"workers\":2}", &pool) != CONVEYOR_OK) return 1;
    expect(pool, dir, "scan_flood_600.jpg", CONVEYOR_LIMIT_EXCEEDED);
    expect(pool, dir, "truncated_40.jpg", CONVEYOR_DECODE_FAILED);
    expect(pool, dir, "jpeg_12bit.jpg", CONVEYOR_UNSUPPORTED_FORMAT);
    expect(pool, dir, "jpeg_lossless.jpg", CONVEYOR_UNSUPPORTED_FORMAT);
    expect(pool, dir, "iccp_bomb_16m.png", CONVEYOR_OK);
    expect(pool, dir, "bmp_size_bomb.bmp", CONVEYOR_DECODE_FAILED);
    conveyor_pool_free(pool);

    /* The same flood with the scan limit raised decodes. */
    if (conveyor_pool_new("{\"workers\":1,\"limits\":{\"max_scans\":1000}}", &pool) != CONVEYOR_OK)
        return 1;
    const char *lenient = "{\"outputs\":[{\"name\":\"o\",\"width\":32,\"format\":\"jpeg\"}],"
                          "\"fail_on\":\"none\"}";
    conveyor_job_result *r = run(pool, dir, "scan_flood_600.jpg", lenient);
    check(r->code == CONVEYOR_OK, "scan limit raised: the flood decodes");
    conveyor_job_result_free(r);
    conveyor_pool_free(pool);

    /* A deadline that passes inside a running AVIF encode (rav1e at its slowest speed
     * takes seconds on this photo) ends the job within about 100 ms, in the encode. */
    if (conveyor_pool_new("{\"workers\":1}", &pool) != CONVEYOR_OK) return 1;
    {
        size_t len = 0;
        unsigned char *data = slurp(dir, "photo_640x480.jpg", &len);
        conveyor_job_options o;
        if (conveyor_job_options_init(&o, sizeof o) != CONVEYOR_OK) return 1;
        o.timeout_ms = 400;
        const char *avif = "{\"outputs\":[{\"name\":\"o\",\"format\":\"avif\",\"speed\":1}]}";
        conveyor_result rc =
            conveyor_pool_submit_with_options(pool, data, len, avif, &o, NULL, NULL, NULL, NULL);
        free(data);
        check(rc == CONVEYOR_OK, "the AVIF job is accepted");
        r = NULL;
        rc = conveyor_pool_poll(pool, 60000, &r);
        check(rc == CONVEYOR_OK && r != NULL, "the AVIF job finishes");
        if (r) {
            char what[512];
            snprintf(what, sizeof what,
                     "a deadline inside an AVIF encode: timed_out in encode within 400 + 300 ms "
                     "(got %s at %s after %llu us)",
                     conveyor_result_str(r->code), r->stage ? r->stage : "-",
                     (unsigned long long)r->timings.total_us);
            /* Valgrind is too slow for the bounds: the deadline may pass before the encode. */
            int slow = getenv("CONVEYOR_UNDER_VALGRIND") != NULL;
            check(r->code == CONVEYOR_TIMED_OUT &&
                      (slow || (r->stage && strcmp(r->stage, "encode") == 0 &&
                                r->timings.total_us < 700000)),
                  what);
            conveyor_job_result_free(r);
        }
    }
    conveyor_pool_free(pool);

    /* A 1 MiB budget: every real job's estimate exceeds it. */
    if (conveyor_pool_new("{\"workers\":1,\"memory_budget\":1048576}", &pool) != CONVEYOR_OK)
        return 1;
    r = run(pool, dir, "photo_640x480.jpg", NULL);
    check(r->code == CONVEYOR_LIMIT_EXCEEDED && r->message && strstr(r->message, "budget"),
          "over the memory budget: limit_exceeded naming the budget");
    conveyor_job_result_free(r);
    conveyor_pool_free(pool);

    printf("%s\n", failures ? "FAILED" : "all bounds checks passed");
    return failures ? 1 : 0;
}
