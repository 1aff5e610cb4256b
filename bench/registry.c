/* registry.c - registers every case: bpq's equations on each ISA it can run here, then the peers. */
#include <stdio.h>
#include <string.h>

#include "cases.h"

/* Says, once, which of bpq's ISAs this build or CPU cannot run: they are skipped, not hidden. */
static void note_isas(void)
{
    char run[96] = "", skipped[96] = "";
    for (int isa = BPQ_ISA_REFERENCE; isa <= BPQ_ISA_NEON; isa++) {
        char *list = bpq_isa_supported((bpq_isa)isa) ? run : skipped;
        if (list[0])
            strcat(list, ",");
        strcat(list, bpq_isa_name((bpq_isa)isa));
        if (list == skipped)
            printf("bench: skipping bpq ISA %s: not built in or not supported by this CPU\n",
                   bpq_isa_name((bpq_isa)isa));
    }
    bench_context("bpq.isas", run);
    bench_context("bpq.isas_skipped", skipped[0] ? skipped : "none");
    bench_context("bpq.version", bpq_version());
    fflush(stdout);
}

/* Where each shape comes from, for the report's row labels. */
static void note_shapes(void)
{
    size_t count;
    const bench_shape *shapes = bench_registered_shapes(&count);
    for (size_t k = 0; k < count; k++) {
        const bench_shape *s = &shapes[k];
        char key[64];
        snprintf(key, sizeof key, "shape.%zux%zux%zu", s->batch, s->n_in, s->n_out);
        bench_context(key, s->origin);
    }
}

void bench_register_all(void)
{
    note_isas();
    note_shapes();
    bench_register_forward();
    bench_register_bp1();
    bench_register_bp2();
    bench_register_bp3();
    bench_register_bp4();
    bench_register_sgd();
    bench_register_layer();
    bench_register_loops();
#if defined(BENCH_HAVE_OPENBLAS)
    bench_register_openblas();
#else
    puts("bench: OpenBLAS was not found when the build was configured; its cases are skipped");
    bench_context("openblas", "absent");
#endif
#if defined(BENCH_HAVE_ONEDNN)
    bench_register_onednn();
#else
    puts("bench: oneDNN (2.x) was not found when the build was configured; its cases are skipped");
    bench_context("onednn", "absent");
#endif
}
