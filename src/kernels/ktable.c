/* Hologram Atlas — assemble one ISA level's kernel table. */
#include <string.h>
#include "simd.h"
#include "ktable.h"

void AT_ISA_FN(at_ktable_init)(at_ktable *t)
{
    memset(t, 0, sizeof *t);
#if AT_ISA_LEVEL == 2
    t->isa_name = "avx512";
#elif AT_ISA_LEVEL == 1
    t->isa_name = "avx2";
#else
    t->isa_name = "baseline";
#endif
    t->vector_bytes = (unsigned)(VL * sizeof(float));
    AT_ISA_FN(at_register_elementwise)(t);
    AT_ISA_FN(at_register_vmath)(t);
    AT_ISA_FN(at_register_reduce)(t);
    AT_ISA_FN(at_register_gemm)(t);
    AT_ISA_FN(at_register_intops)(t);
}
