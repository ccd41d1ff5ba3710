/* Processes every image in a folder without callbacks: submits with cb = NULL, then
 * takes the results with conveyor_pool_poll.   usage: poll_dir FOLDER */
#define _DEFAULT_SOURCE /* strdup, usleep, dirent under -std=c11 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conveyor.h"

static const char *RECIPE =
    "{\"outputs\":[{\"name\":\"small\",\"width\":64,\"height\":64,\"format\":\"png\"}]}";

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
    conveyor_pool *pool = NULL;
    if (conveyor_pool_new("{\"workers\":2}", &pool) != CONVEYOR_OK) {
        fprintf(stderr, "pool: %s\n", conveyor_last_error_message());
        return 1;
    }
    DIR *dir = opendir(argv[1]);
    if (!dir) {
        perror(argv[1]);
        conveyor_pool_free(pool);
        return 1;
    }
    int jobs = 0, failed = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], e->d_name);
        size_t len = 0;
        unsigned char *data = read_file(path, &len);
        if (!data) continue;
        char *name = strdup(e->d_name); /* freed by the library through free() */
        conveyor_result rc = conveyor_pool_submit(pool, data, len, RECIPE, NULL, name, free, NULL);
        free(data);
        if (rc != CONVEYOR_OK) {
            free(name);
            continue;
        }
        jobs++;
    }
    closedir(dir);
    for (int i = 0; i < jobs; i++) {
        conveyor_job_result *r = NULL;
        if (conveyor_pool_poll(pool, -1, &r) != CONVEYOR_OK) {
            fprintf(stderr, "poll: %s\n", conveyor_last_error_message());
            return 1;
        }
        const char *name = r->userdata;
        if (r->code == CONVEYOR_OK)
            printf("ok %s: %s %ux%u -> %s %ux%u\n", name, r->input_format, r->input_width, r->input_height,
                   r->outputs[0].format, r->outputs[0].width, r->outputs[0].height);
        else {
            printf("failed %s: %s\n", name, conveyor_result_str(r->code));
            failed++;
        }
        conveyor_job_result_free(r); /* also frees name */
    }
    conveyor_job_result *none = NULL;
    conveyor_result rc = conveyor_pool_poll(pool, 0, &none);
    conveyor_pool_shutdown(pool);
    conveyor_result after = conveyor_pool_poll(pool, -1, &none);
    conveyor_pool_free(pool);
    printf("done: %d jobs, %d failed; empty poll: %s; after shutdown: %s\n", jobs, failed, conveyor_result_str(rc),
           conveyor_result_str(after));
    return 0;
}
