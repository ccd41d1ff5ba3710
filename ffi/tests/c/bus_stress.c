/*
 * The event bus through the C API under load: 8 subscriptions that never read, 3
 * threads that keep up (blocking recv), 2 slow ones with a capacity of 8 (try_recv and
 * a nap), while trivial jobs run at full speed and another thread reloads the settings.
 * Every subscriber must account for every event (received + missed = emitted), and a
 * stalled one must hold no more than the pool's event_capacity.
 */
#define _POSIX_C_SOURCE 199309L /* nanosleep under -std=c11 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "conveyor.h"

#define JOBS 400
#define RELOADS 10
#define STALLED 8
#define READERS 5
#define EVENT_CAPACITY 256
/* queued + started + finished per job, the reloads, then shutting_down. */
#define TOTAL (3 * JOBS + RELOADS + 1)

typedef struct {
    conveyor_subscription *sub;
    int slow;
    unsigned long long got, missed, errors;
} reader;

static void *read_all(void *arg) {
    reader *r = arg;
    struct timespec nap = {0, 200000};
    for (;;) {
        const conveyor_event *ev = NULL;
        conveyor_result rc = r->slow ? conveyor_subscription_try_recv(r->sub, &ev)
                                     : conveyor_subscription_recv(r->sub, -1, &ev);
        if (rc == CONVEYOR_SHUT_DOWN) return NULL;
        if (rc == CONVEYOR_TIMED_OUT && r->slow) {
            nanosleep(&nap, NULL);
            continue;
        }
        if (rc != CONVEYOR_OK) {
            r->errors++;
            return NULL;
        }
        if (ev->missed) {
            r->missed += ev->missed;
        } else {
            r->got++;
            if (r->slow) nanosleep(&nap, NULL);
        }
    }
}

static void *reload_some(void *arg) {
    conveyor_pool *pool = arg;
    struct timespec nap = {0, 1000000};
    int failed = 0;
    for (int i = 0; i < RELOADS; i++) {
        if (conveyor_pool_reload(pool, "{\"limits\":{\"max_pixels\":50000000}}") != CONVEYOR_OK) failed++;
        nanosleep(&nap, NULL);
    }
    return failed ? (void *)1 : NULL;
}

int main(void) {
    conveyor_pool *pool = NULL;
    if (conveyor_pool_new("{\"workers\":2,\"queue_capacity\":64,\"event_capacity\":256}", &pool) != CONVEYOR_OK) {
        printf("pool_new failed: %s\n", conveyor_last_error_message());
        return 1;
    }
    conveyor_subscription *stalled[STALLED];
    for (int i = 0; i < STALLED; i++) conveyor_pool_subscribe(pool, 0, &stalled[i]);
    reader readers[READERS];
    pthread_t threads[READERS], reloader;
    memset(readers, 0, sizeof readers);
    for (int i = 0; i < READERS; i++) {
        readers[i].slow = i >= 3;
        conveyor_pool_subscribe(pool, readers[i].slow ? 8 : 0, &readers[i].sub);
        pthread_create(&threads[i], NULL, read_all, &readers[i]);
    }
    pthread_create(&reloader, NULL, reload_some, pool);
    int failures = 0;
    for (int i = 0; i < JOBS; i++) {
        if (conveyor_pool_submit(pool, NULL, 0, NULL, NULL, NULL, NULL, NULL) != CONVEYOR_OK) failures++;
    }
    for (int i = 0; i < JOBS; i++) {
        conveyor_job_result *r = NULL;
        if (conveyor_pool_poll(pool, -1, &r) != CONVEYOR_OK) {
            failures++;
            break;
        }
        conveyor_job_result_free(r);
    }
    void *reload_failed = NULL;
    pthread_join(reloader, &reload_failed);
    if (reload_failed) failures++;
    conveyor_pool_shutdown(pool);
    for (int i = 0; i < READERS; i++) {
        pthread_join(threads[i], NULL);
        if (readers[i].errors || readers[i].got + readers[i].missed != TOTAL) {
            printf("reader %d: got %llu + missed %llu != %d\n", i, readers[i].got, readers[i].missed, TOTAL);
            failures++;
        }
        conveyor_subscription_free(readers[i].sub);
    }
    unsigned long long most_kept = 0;
    for (int i = 0; i < STALLED; i++) {
        reader r = {stalled[i], 1, 0, 0, 0};
        read_all(&r);
        if (r.errors || r.got + r.missed != TOTAL || r.got > EVENT_CAPACITY) {
            printf("stalled %d: got %llu + missed %llu != %d\n", i, r.got, r.missed, TOTAL);
            failures++;
        }
        if (r.got > most_kept) most_kept = r.got;
        conveyor_subscription_free(stalled[i]);
    }
    conveyor_pool_free(pool);
    printf("bus_stress: %d jobs, %d events, %d stalled kept at most %llu; %d failures\n", JOBS, TOTAL, STALLED,
           most_kept, failures);
    return failures ? 1 : 0;
}
