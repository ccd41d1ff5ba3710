/* Misuse of the C ABI: NULL everywhere, invalid JSON and UTF-8, submit after shutdown,
 * double shutdown, a panic through the test hook, a callback that calls back into the
 * pool, and exactly-once delivery. Prints "misuse: N passed, N failed". */
#define _DEFAULT_SOURCE /* strdup, usleep, dirent under -std=c11 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conveyor.h"

/* A test hook the library exports but leaves out of the public header. */
conveyor_result conveyor_test_panic(void);

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

static const unsigned char GARBAGE[] = "not an image";
static atomic_int calls[1024];
static atomic_int total_calls, inner_calls, inner_submit_rc = -1;
static conveyor_pool *g_pool;

static void count(void *ud, const conveyor_job_result *r) {
    (void)ud;
    if (r->job_id < 1024) atomic_fetch_add(&calls[r->job_id], 1);
    atomic_fetch_add(&total_calls, 1);
}

static void inner(void *ud, const conveyor_job_result *r) {
    (void)ud;
    (void)r;
    atomic_fetch_add(&inner_calls, 1);
}

/* Calls back into the pool from a pool thread. */
static void reentrant(void *ud, const conveyor_job_result *r) {
    (void)ud;
    (void)r;
    conveyor_stats s;
    conveyor_pool_stats(g_pool, &s);
    atomic_store(&inner_submit_rc,
                 (int)conveyor_pool_try_submit(g_pool, GARBAGE, sizeof GARBAGE, NULL, inner, NULL, NULL, NULL));
}

static void wait_for(atomic_int *v, int n) {
    for (int i = 0; i < 2000 && atomic_load(v) < n; i++) usleep(5000);
}

int main(void) {
    conveyor_pool *p = NULL;
    /* NULL parameters */
    CHECK(conveyor_pool_new(NULL, NULL) == CONVEYOR_NULL_PARAMETER);
    CHECK(strlen(conveyor_last_error_message()) > 0);
    CHECK(conveyor_pool_submit(NULL, GARBAGE, 3, NULL, count, NULL, NULL, NULL) == CONVEYOR_NULL_PARAMETER);
    CHECK(conveyor_pool_try_submit(NULL, GARBAGE, 3, NULL, count, NULL, NULL, NULL) == CONVEYOR_NULL_PARAMETER);
    CHECK(conveyor_pool_poll(NULL, 0, NULL) == CONVEYOR_NULL_PARAMETER);
    CHECK(conveyor_pool_stats(NULL, NULL) == CONVEYOR_NULL_PARAMETER);
    CHECK(conveyor_pool_cancel(NULL, 1) == CONVEYOR_NULL_PARAMETER);
    CHECK(conveyor_pool_shutdown(NULL) == CONVEYOR_NULL_PARAMETER);
    conveyor_pool_free(NULL);
    conveyor_job_result_free(NULL);

    /* invalid configuration */
    CHECK(conveyor_pool_new("{not json", &p) == CONVEYOR_INVALID_ARGUMENT && p == NULL);
    CHECK(conveyor_pool_new("{\"workers\":0}", &p) == CONVEYOR_INVALID_ARGUMENT && p == NULL);
    CHECK(strstr(conveyor_last_error_message(), "workers") != NULL);
    CHECK(conveyor_pool_new("{\"wrokers\":2}", &p) == CONVEYOR_INVALID_ARGUMENT);
    CHECK(conveyor_pool_new("\xff\xfe", &p) == CONVEYOR_INVALID_ARGUMENT);

    /* static strings */
    CHECK(strcmp(conveyor_result_str(CONVEYOR_DECODE_FAILED), "decode_failed") == 0);
    CHECK(strcmp(conveyor_result_str(CONVEYOR_OK), "ok") == 0);
    CHECK(strcmp(conveyor_result_str(CONVEYOR_PANIC), "panic") == 0);
    CHECK(strcmp(conveyor_result_str((conveyor_result)9999), "unknown") == 0);
    CHECK(strcmp(conveyor_version(), CONVEYOR_VERSION) == 0);

    /* a panic never crosses the ABI */
    CHECK(conveyor_test_panic() == CONVEYOR_PANIC);
    CHECK(strstr(conveyor_last_error_message(), "panic") != NULL);

    CHECK(conveyor_pool_new("{\"workers\":2,\"queue_capacity\":8}", &p) == CONVEYOR_OK && p != NULL);
    g_pool = p;
    CHECK(strlen(conveyor_last_error_message()) == 0);

    /* bad arguments to a live pool: nothing is accepted, no callback runs */
    CHECK(conveyor_pool_submit(p, NULL, 10, NULL, count, NULL, NULL, NULL) == CONVEYOR_NULL_PARAMETER);
    CHECK(conveyor_pool_submit(p, GARBAGE, 3, "{bad", count, NULL, NULL, NULL) == CONVEYOR_INVALID_RECIPE);
    CHECK(conveyor_pool_submit(p, GARBAGE, 3, "{\"outputs\":[{\"name\":\"a\",\"format\":\"jpeg\",\"quality\":0}]}",
                               count, NULL, NULL, NULL) == CONVEYOR_INVALID_RECIPE);
    CHECK(strstr(conveyor_last_error_message(), "outputs[0].quality") != NULL);
    CHECK(conveyor_pool_submit(p, GARBAGE, 3, "\xff", count, NULL, NULL, NULL) == CONVEYOR_INVALID_RECIPE);
    conveyor_job_result *r = NULL;
    CHECK(conveyor_pool_poll(p, 0, NULL) == CONVEYOR_NULL_PARAMETER);
    CHECK(conveyor_pool_poll(p, 0, &r) == CONVEYOR_TIMED_OUT && r == NULL);
    CHECK(conveyor_pool_stats(p, NULL) == CONVEYOR_NULL_PARAMETER);
    CHECK(conveyor_pool_cancel(p, 999999) == CONVEYOR_INVALID_ARGUMENT);
    CHECK(atomic_load(&total_calls) == 0);
    /* Events and reload: NULLs, bad settings (refused, no event), an empty bus. */
    conveyor_subscription *sub = NULL;
    const conveyor_event *ev = NULL;
    CHECK(conveyor_pool_subscribe(NULL, 0, &sub) == CONVEYOR_NULL_PARAMETER);
    CHECK(conveyor_pool_subscribe(p, 0, NULL) == CONVEYOR_NULL_PARAMETER);
    CHECK(conveyor_subscription_recv(NULL, 0, &ev) == CONVEYOR_NULL_PARAMETER);
    CHECK(conveyor_subscription_try_recv(NULL, &ev) == CONVEYOR_NULL_PARAMETER);
    conveyor_subscription_free(NULL);
    CHECK(conveyor_pool_subscribe(p, 4, &sub) == CONVEYOR_OK && sub != NULL);
    CHECK(conveyor_subscription_recv(sub, 0, NULL) == CONVEYOR_NULL_PARAMETER);
    CHECK(conveyor_pool_reload(NULL, "{}") == CONVEYOR_NULL_PARAMETER);
    CHECK(conveyor_pool_reload(p, NULL) == CONVEYOR_NULL_PARAMETER);
    CHECK(conveyor_pool_reload(p, "{") == CONVEYOR_INVALID_ARGUMENT);
    CHECK(conveyor_pool_reload(p, "{\"bogus\":1}") == CONVEYOR_INVALID_ARGUMENT);
    CHECK(strstr(conveyor_last_error_message(), "bogus") != NULL);
    CHECK(conveyor_pool_reload(p, "\xff") == CONVEYOR_INVALID_ARGUMENT);
    CHECK(conveyor_pool_reload(p, "{\"default_recipe\":{\"outputs\":[]}}") == CONVEYOR_INVALID_RECIPE);
    CHECK(conveyor_subscription_try_recv(sub, &ev) == CONVEYOR_TIMED_OUT && ev == NULL);
    CHECK(conveyor_subscription_recv(sub, 20, &ev) == CONVEYOR_TIMED_OUT && ev == NULL);
    CHECK(conveyor_pool_reload(p, "{}") == CONVEYOR_OK);
    CHECK(conveyor_subscription_recv(sub, 1000, &ev) == CONVEYOR_OK && strcmp(ev->type, "config_reloaded") == 0 &&
          strcmp(ev->json, "{\"type\":\"config_reloaded\"}") == 0 && ev->job_id == 0 && ev->missed == 0);
    conveyor_subscription_free(sub);

    /* exactly once, for many jobs */
    int accepted = 0;
    for (int i = 0; i < 300; i++) {
        uint64_t id = 0;
        if (conveyor_pool_submit(p, GARBAGE, sizeof GARBAGE, NULL, count, NULL, NULL, &id) == CONVEYOR_OK) accepted++;
    }
    CHECK(accepted == 300);
    wait_for(&total_calls, 300);
    CHECK(atomic_load(&total_calls) == 300);
    int once = 1;
    for (int i = 0; i < 1024; i++)
        if (atomic_load(&calls[i]) > 1) once = 0;
    CHECK(once);

    /* a callback that calls back into the pool */
    CHECK(conveyor_pool_submit(p, GARBAGE, sizeof GARBAGE, NULL, reentrant, NULL, NULL, NULL) == CONVEYOR_OK);
    wait_for(&inner_calls, 1);
    CHECK(atomic_load(&inner_submit_rc) == CONVEYOR_OK);
    CHECK(atomic_load(&inner_calls) == 1);

    conveyor_stats s;
    CHECK(conveyor_pool_stats(p, &s) == CONVEYOR_OK && s.workers == 2 && s.accepted == 302 && s.failed == 302);

    /* shutdown twice, then everything is refused cleanly */
    CHECK(conveyor_pool_shutdown(p) == CONVEYOR_OK);
    CHECK(conveyor_pool_shutdown(p) == CONVEYOR_OK);
    CHECK(conveyor_pool_submit(p, GARBAGE, 3, NULL, count, NULL, NULL, NULL) == CONVEYOR_SHUT_DOWN);
    CHECK(conveyor_pool_try_submit(p, GARBAGE, 3, NULL, NULL, NULL, NULL, NULL) == CONVEYOR_SHUT_DOWN);
    CHECK(conveyor_pool_poll(p, -1, &r) == CONVEYOR_SHUT_DOWN);
    conveyor_pool_free(p);

    printf("misuse: %d passed, %d failed\n", passes, failures);
    return failures != 0;
}
