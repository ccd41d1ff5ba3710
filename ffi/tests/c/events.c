/*
 * Replays the shared event script (testdata/events/events.json) through the C API.
 * ffi/tests/c_programs.rs turns the JSON into one command per line (fields separated
 * by tabs) and compares what this prints with the expected streams:
 *
 *   pool <config-json>             -> conveyor_pool_new
 *   subscribe <name> <capacity>    -> conveyor_pool_subscribe
 *   submit <path> <recipe-json|->  -> submit without a callback, wait with poll;
 *                                     prints "outcome ok <name,...>" or "outcome <code>"
 *   reload <settings-json>         -> prints "reload ok" or "reload <code>"
 *   shutdown                       -> conveyor_pool_shutdown
 *   drain <name>                   -> prints "event <name> <json>" for every event,
 *                                     alternating recv and try_recv, until SHUT_DOWN
 *
 * Then it frees everything; valgrind and ASan check that nothing leaks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conveyor.h"

#define MAX_SUBS 8

static struct {
    char name[32];
    conveyor_subscription *sub;
} subs[MAX_SUBS];
static int nsubs;

static conveyor_subscription *find(const char *name) {
    for (int i = 0; i < nsubs; i++)
        if (strcmp(subs[i].name, name) == 0) return subs[i].sub;
    return NULL;
}

static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
    *len = fread(buf, 1, (size_t)n, f);
    fclose(f);
    return buf;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s COMMANDS\n", argv[0]);
        return 2;
    }
    FILE *in = fopen(argv[1], "r");
    if (!in) return 2;
    static char line[65536];
    conveyor_pool *pool = NULL;
    int failures = 0;
    while (fgets(line, sizeof line, in)) {
        line[strcspn(line, "\n")] = 0;
        char *op = strtok(line, "\t");
        char *a = strtok(NULL, "\t");
        char *b = strtok(NULL, "\t");
        if (!op) continue;
        if (strcmp(op, "pool") == 0) {
            conveyor_result rc = conveyor_pool_new(a, &pool);
            if (rc != CONVEYOR_OK) {
                printf("pool %s\n", conveyor_result_str(rc));
                return 1;
            }
        } else if (strcmp(op, "subscribe") == 0 && nsubs < MAX_SUBS) {
            snprintf(subs[nsubs].name, sizeof subs[nsubs].name, "%s", a);
            conveyor_result rc = conveyor_pool_subscribe(pool, (size_t)atol(b), &subs[nsubs].sub);
            if (rc != CONVEYOR_OK) failures++;
            nsubs++;
        } else if (strcmp(op, "submit") == 0) {
            size_t len = 0;
            unsigned char *data = slurp(a, &len);
            const char *recipe = strcmp(b, "-") == 0 ? NULL : b;
            conveyor_result rc = conveyor_pool_submit(pool, data, len, recipe, NULL, NULL, NULL, NULL);
            free(data);
            conveyor_job_result *r = NULL;
            if (rc == CONVEYOR_OK) rc = conveyor_pool_poll(pool, -1, &r);
            if (rc != CONVEYOR_OK) {
                printf("outcome call-failed %s\n", conveyor_result_str(rc));
                failures++;
                continue;
            }
            if (r->code == CONVEYOR_OK) {
                printf("outcome ok ");
                for (size_t i = 0; i < r->output_count; i++)
                    printf("%s%s", i ? "," : "", r->outputs[i].name);
                printf("\n");
            } else {
                printf("outcome %s\n", conveyor_result_str(r->code));
            }
            conveyor_job_result_free(r);
        } else if (strcmp(op, "reload") == 0) {
            conveyor_result rc = conveyor_pool_reload(pool, a);
            printf("reload %s\n", rc == CONVEYOR_OK ? "ok" : conveyor_result_str(rc));
        } else if (strcmp(op, "shutdown") == 0) {
            conveyor_pool_shutdown(pool);
        } else if (strcmp(op, "drain") == 0) {
            conveyor_subscription *s = find(a);
            for (int i = 0;; i++) {
                const conveyor_event *ev = NULL;
                conveyor_result rc = i % 2 ? conveyor_subscription_try_recv(s, &ev)
                                           : conveyor_subscription_recv(s, 1000, &ev);
                if (rc == CONVEYOR_SHUT_DOWN) break;
                if (rc != CONVEYOR_OK) {
                    printf("drain %s: %s\n", a, conveyor_result_str(rc));
                    failures++;
                    break;
                }
                /* The struct's fields agree with the JSON. */
                if (strlen(ev->json) != ev->json_len || strstr(ev->json, ev->type) == NULL ||
                    (strcmp(ev->type, "lagged") == 0) != (ev->missed > 0)) {
                    printf("bad event struct: %s\n", ev->json);
                    failures++;
                }
                printf("event %s %s\n", a, ev->json);
            }
        } else {
            printf("unknown command %s\n", op);
            failures++;
        }
    }
    fclose(in);
    /* A subscription may outlive its pool: free half of them after the pool. */
    for (int i = 0; i < nsubs; i += 2) conveyor_subscription_free(subs[i].sub);
    conveyor_pool_free(pool);
    for (int i = 1; i < nsubs; i += 2) conveyor_subscription_free(subs[i].sub);
    printf("events: done, %d failures\n", failures);
    return failures ? 1 : 0;
}
