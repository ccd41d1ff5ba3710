#include <stdio.h>
#include "conveyor.h"

static void done(void *ud, const conveyor_job_result *r) { /* runs on a pool thread */
    if (r->code != CONVEYOR_OK) { printf("%s: %s (%s)\n", (char *)ud, conveyor_result_str(r->code), r->message); return; }
    for (size_t i = 0; i < r->output_count; i++)
        printf("%s: %s %s %ux%u, %zu bytes\n", (char *)ud, r->outputs[i].name, r->outputs[i].format, r->outputs[i].width, r->outputs[i].height, r->outputs[i].len);
}

int main(int argc, char **argv) {
    conveyor_pool *pool = NULL;
    if (conveyor_pool_new("{\"workers\":2}", &pool) != CONVEYOR_OK) return 1;
    static unsigned char buf[1 << 24];
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb"); if (!f) continue;
        size_t len = fread(buf, 1, sizeof buf, f); fclose(f);
        conveyor_pool_submit(pool, buf, len, NULL, done, argv[i], NULL, NULL); /* copies buf */
    }
    conveyor_pool_shutdown(pool); /* drains: every callback has run when it returns */
    conveyor_pool_free(pool);
    return 0;
}
