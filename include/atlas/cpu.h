/* Hologram Atlas — CPU feature detection and instruction-set levels.
 *
 * Each kernel source under src/kernels is compiled once per ISA level with
 * that level's flags (see meson.build).  At run time an executor picks the
 * best level the CPU supports (or the one the caller forces) and binds that
 * level's kernel table.  No code here runs an instruction the CPU lacks.
 */
#ifndef ATLAS_CPU_H
#define ATLAS_CPU_H

#include "atlas/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum at_isa {
    AT_ISA_BASELINE = 0,  /* x86-64 SSE2 (plain C11 on other CPUs)          */
    AT_ISA_AVX2 = 1,      /* AVX2 + FMA3                                    */
    AT_ISA_AVX512 = 2,    /* AVX-512 F/DQ/BW/VL                             */
    AT_ISA_NEON = 3,      /* AArch64 Advanced SIMD (NEON, with FMA)         */
    AT_ISA_COUNT
} at_isa;

/* Highest level both compiled in and supported by this CPU and OS. */
at_isa at_cpu_best_isa(void);
/* 1 when level isa was compiled in and this CPU/OS can run it. */
int at_cpu_supports(at_isa isa);
/* 1 when level isa was compiled into this build. */
int at_cpu_compiled(at_isa isa);
const char *at_isa_name(at_isa isa);
/* Parse "baseline" / "avx2" / "avx512" / "neon"; returns 0 on success. */
int at_isa_parse(const char *name, at_isa *out);
/* The CPU's brand string (e.g. "AMD EPYC 7B13"), or "" when unknown. */
const char *at_cpu_brand(void);
/* 1 when a prefetch for L2 (PREFETCHT1; PRFM PLDL2KEEP on AArch64) stops at
 * L2 rather than filling L1 as well: every CPU but AMD's before Zen 4. */
int at_cpu_prefetch_l2(void);

#ifdef __cplusplus
}
#endif
#endif /* ATLAS_CPU_H */
