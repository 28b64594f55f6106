/* Hologram Atlas — CPU feature detection.
 *
 * This file is compiled with baseline flags only, so it must never execute
 * an instruction the CPU might lack: on x86-64 it uses cpuid (always
 * present) and xgetbv only after cpuid reports OSXSAVE; on AArch64 it asks
 * the kernel for the hardware capabilities (getauxval(AT_HWCAP), where the
 * build found it).
 */
#include "atlas/cpu.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define AT_CPU_X86 1
#include <cpuid.h>
#else
#define AT_CPU_X86 0
#endif

#if defined(__aarch64__)
#define AT_CPU_ARM64 1
#if defined(AT_HAVE_GETAUXVAL) && AT_HAVE_GETAUXVAL
#include <sys/auxv.h>
#endif
#else
#define AT_CPU_ARM64 0
#endif

#if AT_CPU_X86

/* XCR0 via inline asm: the _xgetbv intrinsic needs -mxsave, which the core
 * library is not built with. */
static uint64_t read_xcr0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static int bit(uint32_t reg, int n) { return (int)((reg >> n) & 1u); }

/* AVX2 + FMA + the BMI1/BMI2/F16C extras the avx2 kernels are built with,
 * and an OS that saves the XMM/YMM state. */
static int cpu_has_avx2_level(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid_count(1, 0, &a, &b, &c, &d))
        return 0;
    if (!bit(c, 27) || !bit(c, 28) || !bit(c, 12) || !bit(c, 29))
        return 0;                               /* OSXSAVE, AVX, FMA, F16C */
    if ((read_xcr0() & 0x6) != 0x6)
        return 0;                               /* XMM and YMM state       */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return 0;
    return bit(b, 5) && bit(b, 3) && bit(b, 8); /* AVX2, BMI1, BMI2        */
}

static int cpu_has_avx512_level(void)
{
    unsigned a, b, c, d;
    if (!cpu_has_avx2_level())
        return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return 0;
    if (!bit(b, 16) || !bit(b, 17) || !bit(b, 30) || !bit(b, 31))
        return 0;                               /* F, DQ, BW, VL           */
    return (read_xcr0() & 0xe0) == 0xe0;        /* opmask, ZMM hi/upper    */
}

#endif /* AT_CPU_X86 */

#if AT_CPU_ARM64
/* Advanced SIMD (with its fused multiply-add) and scalar FP.  Both are
 * mandatory in AArch64 and every AArch64 OS enables them, but Linux reports
 * them as HWCAP_FP (bit 0) and HWCAP_ASIMD (bit 1), so they are checked
 * where the kernel can be asked; elsewhere (macOS) they are assumed. */
static int cpu_has_neon_level(void)
{
#if defined(AT_HAVE_GETAUXVAL) && AT_HAVE_GETAUXVAL
    unsigned long hw = getauxval(AT_HWCAP);
    return (hw & 3ul) == 3ul;
#else
    return 1;
#endif
}
#endif /* AT_CPU_ARM64 */

int at_cpu_compiled(at_isa isa)
{
    switch (isa) {
        case AT_ISA_BASELINE:
            return 1;   /* the baseline kernel library is always built */
#if defined(AT_HAVE_ISA_AVX2) && AT_HAVE_ISA_AVX2
        case AT_ISA_AVX2:
            return 1;
#endif
#if defined(AT_HAVE_ISA_AVX512) && AT_HAVE_ISA_AVX512
        case AT_ISA_AVX512:
            return 1;
#endif
#if defined(AT_HAVE_ISA_NEON) && AT_HAVE_ISA_NEON
        case AT_ISA_NEON:
            return 1;
#endif
        default:
            return 0;
    }
}

/* Whether the CPU and OS can run the level, ignoring what was compiled. */
static int cpu_can_run(at_isa isa)
{
    switch (isa) {
        case AT_ISA_BASELINE:
            return 1;
#if AT_CPU_X86
        case AT_ISA_AVX2:
            return cpu_has_avx2_level();
        case AT_ISA_AVX512:
            return cpu_has_avx512_level();
#endif
#if AT_CPU_ARM64
        case AT_ISA_NEON:
            return cpu_has_neon_level();
#endif
        default:
            return 0;
    }
}

int at_cpu_supports(at_isa isa)
{
    return at_cpu_compiled(isa) && cpu_can_run(isa);
}

at_isa at_cpu_best_isa(void)
{
    for (int i = AT_ISA_COUNT - 1; i > AT_ISA_BASELINE; i--)
        if (at_cpu_supports((at_isa)i))
            return (at_isa)i;
    return AT_ISA_BASELINE;
}

static const char *const isa_names[AT_ISA_COUNT] = {"baseline", "avx2",
                                                    "avx512", "neon"};

const char *at_isa_name(at_isa isa)
{
    if ((int)isa < 0 || isa >= AT_ISA_COUNT)
        return "unknown";
    return isa_names[isa];
}

int at_isa_parse(const char *name, at_isa *out)
{
    if (name == NULL)
        return -1;
    for (int i = 0; i < AT_ISA_COUNT; i++) {
        if (strcmp(name, isa_names[i]) == 0) {
            if (out != NULL)
                *out = (at_isa)i;
            return 0;
        }
    }
    return -1;
}

/* The CPU's fixed facts (the brand string, the prefetch hints' target) are
 * the one piece of global state in the core: they never change, and reading
 * them once avoids repeated cpuid (which traps in VMs). */
static char brand_buf[49];
static int prefetch_l2 = 1;
static pthread_once_t facts_once = PTHREAD_ONCE_INIT;

#if AT_CPU_X86
static void brand_read(void)
{
    unsigned regs[12];
    unsigned max = __get_cpuid_max(0x80000000u, NULL);
    if (max < 0x80000004u)
        return;
    for (unsigned i = 0; i < 3; i++) {
        unsigned *r = regs + 4 * i;
        __get_cpuid(0x80000002u + i, &r[0], &r[1], &r[2], &r[3]);
    }
    char raw[49];
    memcpy(raw, regs, 48);
    raw[48] = '\0';
    /* Vendors pad with leading and trailing spaces. */
    const char *s = raw;
    while (*s == ' ')
        s++;
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == ' ')
        n--;
    memcpy(brand_buf, s, n);
    brand_buf[n] = '\0';
}

/* AMD cores before Zen 4 load PREFETCHT1 lines into L1 as PREFETCHT0 does;
 * Zen 4 (family 19h, models 10h-1Fh and 60h on) and later, and Intel's
 * cores, stop them at L2. */
static int prefetch_l2_read(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d))
        return 1;
    /* "AuthenticAMD" in ebx, edx, ecx */
    if (b != 0x68747541u || d != 0x69746e65u || c != 0x444d4163u)
        return 1;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 1;
    unsigned family = (a >> 8) & 0xfu, model = (a >> 4) & 0xfu;
    if (family == 0xfu) {
        family += (a >> 20) & 0xffu;
        model |= ((a >> 16) & 0xfu) << 4;
    }
    if (family != 0x19u)
        return family > 0x19u;
    return (model >= 0x10u && model <= 0x1fu) || model >= 0x60u;
}
#endif

static void facts_init(void)
{
    brand_buf[0] = '\0';
#if AT_CPU_X86
    brand_read();
    prefetch_l2 = prefetch_l2_read();
#endif
}

const char *at_cpu_brand(void)
{
    pthread_once(&facts_once, facts_init);
    return brand_buf;
}

int at_cpu_prefetch_l2(void)
{
    pthread_once(&facts_once, facts_init);
    return prefetch_l2;
}
