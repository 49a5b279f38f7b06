/* Short copies and comparisons without the call into libc, for the writer (ext/_escape.h) and
 * the parser (ext/_parser_c.pyx): the strings of XML names, attribute values and keys are
 * mostly a few bytes to a few dozen, for which the call and libc's dispatch on the size cost
 * more than the work. Each reads and writes nothing outside the spans it is given. */
#ifndef FX_BYTES_H
#define FX_BYTES_H

#include <Python.h>
#include <stdint.h>
#include <string.h>

/* memcpy(d, s, n): up to 32 bytes as two overlapping loads and stores of the widest size that
 * fits; longer ones go to memcpy. */
static inline void fx_copy(unsigned char* d, const unsigned char* s, Py_ssize_t n) {
    if (n >= 8) {
        if (n <= 16) {
            uint64_t a, b;
            memcpy(&a, s, 8);
            memcpy(&b, s + n - 8, 8);
            memcpy(d, &a, 8);
            memcpy(d + n - 8, &b, 8);
        } else if (n <= 32) {
            unsigned char a[16], b[16];
            memcpy(a, s, 16);
            memcpy(b, s + n - 16, 16);
            memcpy(d, a, 16);
            memcpy(d + n - 16, b, 16);
        } else {
            memcpy(d, s, (size_t)n);
        }
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        memcpy(d, &a, 4);
        memcpy(d + n - 4, &b, 4);
    } else if (n > 0) {
        unsigned char a = s[0], b = s[n >> 1], c = s[n - 1];
        d[0] = a;
        d[n >> 1] = b;
        d[n - 1] = c;
    }
}

/* memcmp(a, b, n) == 0, the same way: up to 32 bytes as overlapping words of each, compared
 * together; longer ones go to memcmp. */
static inline int fx_eq(const unsigned char* a, const unsigned char* b, Py_ssize_t n) {
    if (n >= 8) {
        uint64_t a0, a1, b0, b1, x;
        if (n > 32)
            return memcmp(a, b, (size_t)n) == 0;
        memcpy(&a0, a, 8);
        memcpy(&b0, b, 8);
        memcpy(&a1, a + n - 8, 8);
        memcpy(&b1, b + n - 8, 8);
        x = (a0 ^ b0) | (a1 ^ b1);
        if (n > 16) {
            memcpy(&a0, a + 8, 8);
            memcpy(&b0, b + 8, 8);
            memcpy(&a1, a + n - 16, 8);
            memcpy(&b1, b + n - 16, 8);
            x |= (a0 ^ b0) | (a1 ^ b1);
        }
        return x == 0;
    }
    if (n >= 4) {
        uint32_t a0, a1, b0, b1;
        memcpy(&a0, a, 4);
        memcpy(&b0, b, 4);
        memcpy(&a1, a + n - 4, 4);
        memcpy(&b1, b + n - 4, 4);
        return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }
    return n == 0 || (a[0] == b[0] && a[n >> 1] == b[n >> 1] && a[n - 1] == b[n - 1]);
}

#endif
