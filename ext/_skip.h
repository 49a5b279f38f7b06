/* Sixteen bytes at a time over the plain runs of character data and attribute values, for
 * ext/_parser_c.pyx. Each function returns the offset of the first byte from `pos` that is not
 * in its class, or the offset where fewer than 16 bytes remain; in that second case the caller
 * finishes the run one byte at a time with its class table, which is the definition: these only
 * go faster. Without SSE2 (not x86-64) they return `pos`, FX_HAVE_SKIP16 is 0, and the table
 * does all the work. */
#ifndef FX_SKIP_H
#define FX_SKIP_H

#include <Python.h>

#if defined(__SSE2__) && (defined(__GNUC__) || defined(__clang__))
#include <emmintrin.h>
#define FX_HAVE_SKIP16 1

/* signed: bytes >= 0x80 are negative, so "< 0x20" also catches every non-ASCII byte */
#define FX_BELOW_SPACE(v) _mm_cmplt_epi8((v), _mm_set1_epi8(0x20))
#define FX_EQ(v, c) _mm_cmpeq_epi8((v), _mm_set1_epi8((char)(c)))

/* C_AVAL: 0x20-0x7F except '<', '&', "'" and '"' */
static inline Py_ssize_t fx_skip_aval(const unsigned char* s, Py_ssize_t pos, Py_ssize_t n) {
    while (n - pos >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i*)(s + pos));
        __m128i m = _mm_or_si128(
            _mm_or_si128(FX_BELOW_SPACE(v), FX_EQ(v, '<')),
            _mm_or_si128(_mm_or_si128(FX_EQ(v, '&'), FX_EQ(v, '\'')), FX_EQ(v, '"')));
        int mask = _mm_movemask_epi8(m);
        if (mask)
            return pos + __builtin_ctz((unsigned int)mask);
        pos += 16;
    }
    return pos;
}

/* C_TEXT: TAB, LF and 0x20-0x7F except '<', '&' and ']' */
static inline Py_ssize_t fx_skip_text(const unsigned char* s, Py_ssize_t pos, Py_ssize_t n) {
    while (n - pos >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i*)(s + pos));
        __m128i ctl = _mm_andnot_si128(_mm_or_si128(FX_EQ(v, '\t'), FX_EQ(v, '\n')), FX_BELOW_SPACE(v));
        __m128i m = _mm_or_si128(
            _mm_or_si128(ctl, FX_EQ(v, '<')), _mm_or_si128(FX_EQ(v, '&'), FX_EQ(v, ']')));
        int mask = _mm_movemask_epi8(m);
        if (mask)
            return pos + __builtin_ctz((unsigned int)mask);
        pos += 16;
    }
    return pos;
}

#else
#define FX_HAVE_SKIP16 0
static inline Py_ssize_t fx_skip_aval(const unsigned char* s, Py_ssize_t pos, Py_ssize_t n) {
    (void)s; (void)n; return pos;
}
static inline Py_ssize_t fx_skip_text(const unsigned char* s, Py_ssize_t pos, Py_ssize_t n) {
    (void)s; (void)n; return pos;
}
#endif

#endif
