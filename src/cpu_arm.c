/* cpu_arm.c - AArch64 feature detection: Advanced SIMD is part of the base ISA. */
#if defined(__aarch64__)

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"

/*
 * Every AArch64 CPU that runs a general-purpose OS has NEON (it carries the
 * floating-point registers), so there is nothing to ask the CPU or the OS.
 */
unsigned bpq_cpu_features(void) { return BPQ_CPU_NEON; }

/* One number from a sysfs file, 0 if absent; "48K" and "1M" suffixes scale it. */
static size_t read_size(const char *dir, const char *name)
{
    char path[160], text[32] = "";
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t got = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[got] = '\0';
    char *end;
    unsigned long v = strtoul(text, &end, 10);
    if (*end == 'K')
        v <<= 10;
    else if (*end == 'M')
        v <<= 20;
    return (size_t)v;
}

/*
 * The OS's description of cpu0's caches (Linux sysfs: one directory per
 * cache with its level, type, size, ways and the CPUs sharing it); the
 * defaults where a value is missing. Userspace cannot read the cache ID
 * registers (CCSIDR_EL1) on AArch64, so there is nothing to ask the CPU.
 */
void bpq_cpu_caches(bpq_caches *out)
{
    bpq_caches k = {0, 0, 0, 0, 0, 0, 0, 1};
    int found = 0;
    for (int i = 0; i < 8; i++) {
        char dir[96], type[16] = "";
        snprintf(dir, sizeof dir, "/sys/devices/system/cpu/cpu0/cache/index%d", i);
        char path[128];
        snprintf(path, sizeof path, "%s/type", dir);
        FILE *f = fopen(path, "r");
        if (!f)
            break;
        size_t got = fread(type, 1, sizeof type - 1, f);
        fclose(f);
        type[got] = '\0';
        if (strncmp(type, "Instruction", 11) == 0)
            continue;
        const size_t level = read_size(dir, "level"), size = read_size(dir, "size");
        const unsigned ways = (unsigned)read_size(dir, "ways_of_associativity");
        if (level == 1)
            k.l1 = size, k.l1_ways = ways, k.line = read_size(dir, "coherency_line_size");
        else if (level == 2)
            k.l2 = size, k.l2_ways = ways;
        else if (level == 3)
            k.l3 = size, k.l3_ways = ways;
        found |= size > 0;
    }
    if (!found)
        k = bpq_caches_default();
    bpq_caches_sanitize(&k);
    *out = k;
}

#else
/* ISO C forbids an empty translation unit. */
typedef int bpq_cpu_arm_unused;
#endif
