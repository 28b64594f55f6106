/* Hologram Atlas — the kernel object, shared by ir.c, ir_text.c, lower.c. */
#ifndef ATLAS_IR_INTERNAL_H
#define ATLAS_IR_INTERNAL_H

#include "atlas/ir.h"

/* How a buffer param is addressed; derived by the verifier. */
typedef enum at_role {
    AT_ROLE_NONE = 0,     /* scalar param, or buffer never touched       */
    AT_ROLE_ELEM,         /* rows*cols elements, element index           */
    AT_ROLE_ROW,          /* rows elements, row index                    */
    AT_ROLE_COL,          /* cols elements, column index (load.col)      */
    AT_ROLE_ONE,          /* >= 1 element, index 0 (uniform stores)      */
    AT_ROLE_GATHER,       /* any length, computed index only             */
    AT_ROLE_GEMM          /* gemm operand; sizes checked by the gemm op  */
} at_role;

struct at_kernel {
    char name[48];
    at_param *params;
    int nparams, cap_params;
    at_instr *instrs;
    int ninstrs, cap_instrs;
    int nvalues;
    /* per value, filled as values are created (type) and by verify (rest) */
    at_dtype *vtype;
    at_level *vlevel;
    unsigned char *vpost;   /* computed from a whole-launch reduction */
    unsigned char *vcol;    /* computed from a column reduction       */
    int cap_values;
    /* per param, filled by verify */
    at_role *role;
    unsigned char *stored, *gathered;
    int frozen;
    at_status build_status;     /* first builder error, reported by verify */
    char build_msg[200];
};

/* The axis-reduction intrinsics (ir.h): argmax/argmin along a row, and
 * every reduction over the rows (one result per column). */
static inline int at_is_axis_red(at_irop op)
{
    return op >= AT_IR_REDUCE_ARGMAX_ROW && op <= AT_IR_REDUCE_ARGMIN_COL;
}
static inline int at_is_col_red(at_irop op)
{
    return op >= AT_IR_REDUCE_SUM_COL && op <= AT_IR_REDUCE_ARGMIN_COL;
}
static inline int at_is_arg_red(at_irop op)
{
    return op == AT_IR_REDUCE_ARGMAX_ROW || op == AT_IR_REDUCE_ARGMIN_ROW
           || op == AT_IR_REDUCE_ARGMAX_COL || op == AT_IR_REDUCE_ARGMIN_COL;
}

#endif
