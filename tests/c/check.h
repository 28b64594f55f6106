/* Hologram Atlas — the C tests' one assertion: count, report, carry on. */
#ifndef ATLAS_TESTS_CHECK_H
#define ATLAS_TESTS_CHECK_H

#include <stdio.h>

static int n_pass, n_fail;

#define CHECK(cond)                                                         \
    do {                                                                    \
        if (cond) {                                                         \
            n_pass++;                                                       \
        } else {                                                            \
            n_fail++;                                                       \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                   \
    } while (0)

#endif
