#include <stdio.h>
#include "conveyor.h"

static void done(void *ud, const conveyor_job_result *r) { /* on a pool thread, once per job */
    if (r->code != CONVEYOR_OK) printf("%s: %s (%s)\n", (char *)ud, conveyor_result_str(r->code), r->message);
    for (size_t i = 0; i < r->output_count; i++) printf("%s: %s %s %ux%u, %zu bytes\n", (char *)ud,
        r->outputs[i].name, r->outputs[i].format, r->outputs[i].width, r->outputs[i].height, r->outputs[i].len);
}

int main(int argc, char **argv) {
    static unsigned char buf[1 << 24];
    conveyor_pool *pool = NULL;
    if (conveyor_pool_new("{\"workers\":2}", &pool) != CONVEYOR_OK) return 1;
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) continue;
        size_t len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        conveyor_pool_submit(pool, buf, len, NULL, done, argv[i], NULL, NULL); /* copies buf */
    }
    conveyor_pool_free(pool); /* drains first: every callback has run when it returns */
    return 0;
}
