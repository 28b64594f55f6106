/* Hologram Atlas — the IR's text form: printer and parser.
 *
 *   kernel NAME(p: f32, q: i64 scalar, ...) {
 *     %v = OP operands...        one instruction per line
 *     store p, %v
 *   }
 *
 * Operands are %values or param names; constants are `const.f32 X` /
 * `const.i64 N`; casts spell their target (`cast.f32 %v`).  Value names in
 * parsed text may be any identifier; the printer numbers them %0, %1, ... */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ir_internal.h"
#include "util.h"

/* ---- printer ------------------------------------------------------------- */

typedef struct outbuf {
    char *buf;
    size_t cap, len;
} outbuf;

static void put(outbuf *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void put(outbuf *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = o->len < o->cap ? o->cap - o->len : 0;
    int n = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len += (size_t)n;
}

static const char *short_type(at_dtype t)
{
    switch (t) {
        case AT_F32:
            return "f32";
        case AT_I32:
            return "i32";
        case AT_I64:
            return "i64";
        default:
            return "bool";
    }
}

static void put_f32(outbuf *o, float v)
{
    if (isnan(v))
        put(o, "nan");
    else if (isinf(v))
        put(o, v < 0 ? "-inf" : "inf");
    else
        put(o, "%.9g", (double)v);
}

size_t at_kernel_print(const at_kernel *k, char *buf, size_t cap)
{
    outbuf o = {buf, cap, 0};
    if (cap)
        buf[0] = '\0';
    put(&o, "kernel %s(", k->name);
    for (int p = 0; p < k->nparams; p++)
        put(&o, "%s%s: %s%s", p ? ", " : "", k->params[p].name,
            short_type(k->params[p].dtype),
            k->params[p].is_scalar ? " scalar" : "");
    put(&o, ") {\n");
    for (int i = 0; i < k->ninstrs; i++) {
        const at_instr *in = &k->instrs[i];
        put(&o, "  ");
        if (in->result != AT_NO_VALUE)
            put(&o, "%%%d = ", (int)in->result);
        switch (in->op) {
            case AT_IR_CONST:
                if (in->type == AT_F32) {
                    put(&o, "const.f32 ");
                    put_f32(&o, in->imm.f32);
                } else
                    put(&o, "const.i64 %lld", (long long)in->imm.i64);
                break;
            case AT_IR_CAST:
                put(&o, "cast.%s %%%d", short_type(in->type),
                    (int)in->operands[0]);
                break;
            case AT_IR_PARAM:
            case AT_IR_LOAD:
            case AT_IR_LOAD_ROW:
            case AT_IR_LOAD_COL:
                put(&o, "%s %s", at_irop_name(in->op),
                    k->params[in->param].name);
                break;
            case AT_IR_GATHER:
            case AT_IR_STORE:
                put(&o, "%s %s, %%%d", at_irop_name(in->op),
                    k->params[in->param].name, (int)in->operands[0]);
                break;
            case AT_IR_GEMM:
                put(&o, "gemm %s, %s, %s, %s", k->params[in->params3[0]].name,
                    k->params[in->params3[1]].name,
                    k->params[in->params3[2]].name,
                    k->params[in->imm.i64].name);
                if (in->flags & AT_GEMM_TRANS_A)
                    put(&o, " trans_a");
                if (in->flags & AT_GEMM_TRANS_B)
                    put(&o, " trans_b");
                break;
            default:
                put(&o, "%s", at_irop_name(in->op));
                for (int j = 0;
                     j < AT_IR_MAX_OPERANDS && in->operands[j] != AT_NO_VALUE;
                     j++)
                    put(&o, "%s%%%d", j ? ", " : " ", (int)in->operands[j]);
        }
        put(&o, "\n");
    }
    put(&o, "}\n");
    return o.len;
}

/* ---- parser -------------------------------------------------------------- */

typedef struct parser {
    const char *s;          /* cursor */
    int line;
    at_kernel *k;
    char (*names)[32];      /* value names, by value id */
    int cap_names;
    at_error *err;
} parser;

static at_status perr(parser *ps, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static at_status perr(parser *ps, const char *fmt, ...)
{
    char msg[240];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return at_error_set(ps->err, AT_E_VERIFY, "IR syntax error, line %d: %s",
                        ps->line, msg);
}

static void skip_space(parser *ps, int newlines)
{
    for (;;) {
        char c = *ps->s;
        if (c == '#') {
            while (*ps->s && *ps->s != '\n')
                ps->s++;
            continue;
        }
        if (c == '\n' && !newlines)
            return;
        if (!isspace((unsigned char)c))
            return;
        if (c == '\n')
            ps->line++;
        ps->s++;
    }
}

/* Read an identifier (letters, digits, '_', '.') into out. */
static int ident(parser *ps, char *out, size_t cap)
{
    skip_space(ps, 0);
    size_t n = 0;
    while (isalnum((unsigned char)*ps->s) || *ps->s == '_' || *ps->s == '.') {
        if (n + 1 >= cap)
            return 0;
        out[n++] = *ps->s++;
    }
    out[n] = '\0';
    return n > 0;
}

static int accept(parser *ps, char c)
{
    skip_space(ps, 0);
    if (*ps->s == c) {
        ps->s++;
        return 1;
    }
    return 0;
}

static int parse_type(const char *w, at_dtype *t)
{
    if (!strcmp(w, "f32"))
        *t = AT_F32;
    else if (!strcmp(w, "i32"))
        *t = AT_I32;
    else if (!strcmp(w, "i64"))
        *t = AT_I64;
    else if (!strcmp(w, "bool"))
        *t = AT_BOOL;
    else
        return 0;
    return 1;
}

static int find_param(parser *ps, const char *name)
{
    for (int p = 0; p < ps->k->nparams; p++)
        if (!strcmp(ps->k->params[p].name, name))
            return p;
    return -1;
}

static at_status value_ref(parser *ps, at_value *out)
{
    char name[32];
    if (!accept(ps, '%') || !ident(ps, name, sizeof name))
        return perr(ps, "expected a %%value");
    for (int v = ps->k->nvalues - 1; v >= 0; v--)
        if (v < ps->cap_names && !strcmp(ps->names[v], name)) {
            *out = v;
            return AT_OK;
        }
    return perr(ps, "value %%%s is not defined", name);
}

static at_status param_ref(parser *ps, int *out)
{
    char name[32];
    if (!ident(ps, name, sizeof name))
        return perr(ps, "expected a param name");
    *out = find_param(ps, name);
    if (*out < 0)
        return perr(ps, "unknown param '%s'", name);
    return AT_OK;
}

static at_irop lookup_op(const char *w)
{
    for (int op = 0; op < AT_IR_OP_COUNT; op++)
        if (!strcmp(at_irop_name((at_irop)op), w))
            return (at_irop)op;
    return AT_IR_OP_COUNT;
}

/* One instruction; `dest` is the defined value's name or "" for none. */
static at_status parse_instr(parser *ps, const char *dest)
{
    at_kernel *k = ps->k;
    char w[40];
    if (!ident(ps, w, sizeof w))
        return perr(ps, "expected an instruction");
    at_value r = AT_NO_VALUE, ops[3] = {AT_NO_VALUE, AT_NO_VALUE, AT_NO_VALUE};
    int p = -1;
    at_status st;
    at_irop op = lookup_op(w);
    if (!strcmp(w, "const.f32") || !strcmp(w, "const.i64")) {
        skip_space(ps, 0);
        char *end;
        errno = 0;
        if (w[6] == 'f') {
            float v = strtof(ps->s, &end);
            if (end == ps->s)
                return perr(ps, "expected a number after const.f32");
            r = at_ir_const_f32(k, v);
        } else {
            long long v = strtoll(ps->s, &end, 10);
            if (end == ps->s || errno)
                return perr(ps, "expected an integer after const.i64");
            r = at_ir_const_i64(k, v);
        }
        ps->s = end;
    } else if (!strncmp(w, "cast.", 5)) {
        at_dtype t;
        if (!parse_type(w + 5, &t))
            return perr(ps, "unknown cast target '%s'", w + 5);
        if ((st = value_ref(ps, &ops[0])))
            return st;
        r = at_ir_cast(k, t, ops[0]);
    } else if (op == AT_IR_OP_COUNT) {
        return perr(ps, "unknown instruction '%s'", w);
    } else if (op == AT_IR_PARAM) {
        if ((st = param_ref(ps, &p)))
            return st;
        r = at_ir_param(k, p);
    } else if (op == AT_IR_LOAD || op == AT_IR_LOAD_ROW || op == AT_IR_LOAD_COL)
    {
        if ((st = param_ref(ps, &p)))
            return st;
        r = at_ir_load(k, op, p);
    } else if (op == AT_IR_GATHER || op == AT_IR_STORE) {
        if ((st = param_ref(ps, &p)))
            return st;
        if (!accept(ps, ','))
            return perr(ps, "expected ',' after param");
        if ((st = value_ref(ps, &ops[0])))
            return st;
        if (op == AT_IR_GATHER)
            r = at_ir_gather(k, p, ops[0]);
        else
            at_ir_store(k, p, ops[0]);
    } else if (op == AT_IR_GEMM) {
        int q[4];
        for (int j = 0; j < 4; j++) {
            if (j && !accept(ps, ','))
                return perr(ps, "gemm takes a, b, c, k");
            if ((st = param_ref(ps, &q[j])))
                return st;
        }
        /* then the flags, each at most once */
        int flags = 0;
        char f[16];
        while (ident(ps, f, sizeof f)) {
            int bit = !strcmp(f, "trans_a")   ? AT_GEMM_TRANS_A
                      : !strcmp(f, "trans_b") ? AT_GEMM_TRANS_B
                                              : 0;
            if (!bit)
                return perr(ps, "unknown gemm flag '%s' (trans_a, trans_b)", f);
            if (flags & bit)
                return perr(ps, "gemm flag '%s' given twice", f);
            flags |= bit;
        }
        at_ir_gemm_flags(k, q[0], q[1], q[2], q[3], flags);
    } else if (op == AT_IR_ROW_INDEX || op == AT_IR_NROWS || op == AT_IR_NCOLS)
    {
        r = at_ir_nullary(k, op);
    } else {
        int n = op == AT_IR_SELECT || op == AT_IR_CHECK_RANGE ? 3
                : (op >= AT_IR_ADD && op <= AT_IR_NE)         ? 2
                                                              : 1;
        for (int j = 0; j < n; j++) {
            if (j && !accept(ps, ','))
                return perr(ps, "%s takes %d operands", w, n);
            if ((st = value_ref(ps, &ops[j])))
                return st;
        }
        if (op == AT_IR_SELECT)
            r = at_ir_select(k, ops[0], ops[1], ops[2]);
        else if (op == AT_IR_CHECK_RANGE)
            at_ir_check_range(k, ops[0], ops[1], ops[2]);
        else if (n == 2)
            r = at_ir_binary(k, op, ops[0], ops[1]);
        else if (op >= AT_IR_REDUCE_SUM_ROW)
            r = at_ir_reduce(k, op, ops[0]);
        else
            r = at_ir_unary(k, op, ops[0]);
    }
    if (k->build_status != AT_OK)
        return at_error_set(ps->err, AT_E_VERIFY, "kernel '%s', line %d: %s",
                            k->name, ps->line, k->build_msg);
    int defines = r != AT_NO_VALUE;
    if (dest[0] && !defines)
        return perr(ps, "'%s' defines no value", w);
    if (!dest[0] && defines)
        return perr(ps, "the value of '%s' must be named (%%v = ...)", w);
    if (defines) {
        for (int v = 0; v < r && v < ps->cap_names; v++)
            if (!strcmp(ps->names[v], dest))
                return perr(ps, "value %%%s is defined twice", dest);
        if (at_grow((void **)&ps->names, &ps->cap_names, r + 1,
                    sizeof *ps->names))
            return at_error_set(ps->err, AT_E_NOMEM, "out of memory");
        snprintf(ps->names[r], sizeof ps->names[r], "%s", dest);
    }
    skip_space(ps, 0);
    if (*ps->s && *ps->s != '\n' && *ps->s != '}')
        return perr(ps, "unexpected text after instruction");
    return AT_OK;
}

static at_status parse_kernel(parser *ps)
{
    char w[40], name[48];
    at_status st;
    skip_space(ps, 1);
    if (!ident(ps, w, sizeof w) || strcmp(w, "kernel"))
        return perr(ps, "expected 'kernel'");
    if (!ident(ps, name, sizeof name))
        return perr(ps, "expected a kernel name");
    ps->k = at_kernel_new(name);
    if (!ps->k)
        return at_error_set(ps->err, AT_E_NOMEM, "out of memory");
    if (!accept(ps, '('))
        return perr(ps, "expected '('");
    if (!accept(ps, ')')) {
        do {
            char pname[32], tname[8], scalar[8];
            at_dtype t;
            if (!ident(ps, pname, sizeof pname))
                return perr(ps, "expected a param name");
            if (!accept(ps, ':'))
                return perr(ps, "expected ':' after param '%s'", pname);
            if (!ident(ps, tname, sizeof tname) || !parse_type(tname, &t))
                return perr(ps, "param '%s': expected f32, i32, i64 or bool",
                            pname);
            const char *save = ps->s;
            int is_scalar =
                ident(ps, scalar, sizeof scalar) && !strcmp(scalar, "scalar");
            if (!is_scalar)
                ps->s = save;
            if (at_kernel_add_param(ps->k, pname, t, is_scalar) < 0)
                return at_error_set(ps->err, AT_E_VERIFY, "kernel '%s': %s",
                                    name, ps->k->build_msg);
        } while (accept(ps, ','));
        if (!accept(ps, ')'))
            return perr(ps, "expected ')'");
    }
    if (!accept(ps, '{'))
        return perr(ps, "expected '{'");
    for (;;) {
        skip_space(ps, 1);
        if (accept(ps, '}'))
            break;
        if (!*ps->s)
            return perr(ps, "missing '}'");
        char dest[32] = "";
        if (*ps->s == '%') {
            ps->s++;
            if (!ident(ps, dest, sizeof dest))
                return perr(ps, "expected a value name after '%%'");
            if (!accept(ps, '='))
                return perr(ps, "expected '=' after %%%s", dest);
        }
        if ((st = parse_instr(ps, dest)))
            return st;
    }
    skip_space(ps, 1);
    if (*ps->s)
        return perr(ps, "text after the kernel's closing '}'");
    return at_kernel_verify(ps->k, ps->err);
}

at_status at_kernel_parse(const char *text, at_kernel **out, at_error *err)
{
    parser ps = {text ? text : "", 1, NULL, NULL, 0, err};
    *out = NULL;
    at_status st = parse_kernel(&ps);
    free(ps.names);
    if (st != AT_OK) {
        at_kernel_free(ps.k);
        return st;
    }
    *out = ps.k;
    return AT_OK;
}
