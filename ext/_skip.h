/* Sixteen bytes at a time over the plain runs of character data and attribute values, for
 * ext/_parser_c.pyx (and fx_utf8_count, the first pass of its _decode_valid). Each skip
 * function returns the offset of the first byte from `pos` that is not
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

/* For _decode_valid: the number of characters of the (valid) UTF-8 p[0:n], that is of bytes
 * that are not continuation bytes, and in *top its largest byte. */
static inline Py_ssize_t fx_utf8_count(const unsigned char* p, Py_ssize_t n, unsigned char* top) {
    Py_ssize_t i = 0, cont = 0;
    unsigned char t = 0;
    if (n >= 16) {
        const __m128i zero = _mm_setzero_si128();
        __m128i mx = zero, acc = zero, sums = zero;
        int blocks = 0;
        for (; n - i >= 16; i += 16) {
            __m128i v = _mm_loadu_si128((const __m128i*)(p + i));
            mx = _mm_max_epu8(mx, v);
            /* continuation bytes, 0x80-0xBF, are the signed bytes below -64: each adds 1 */
            acc = _mm_sub_epi8(acc, _mm_cmplt_epi8(v, _mm_set1_epi8((char)0xC0)));
            if (++blocks == 255) { /* before a byte of acc can overflow */
                sums = _mm_add_epi64(sums, _mm_sad_epu8(acc, zero));
                acc = zero;
                blocks = 0;
            }
        }
        sums = _mm_add_epi64(sums, _mm_sad_epu8(acc, zero));
        cont = (Py_ssize_t)_mm_cvtsi128_si64(sums) + (Py_ssize_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(sums, sums));
        mx = _mm_max_epu8(mx, _mm_srli_si128(mx, 8));
        mx = _mm_max_epu8(mx, _mm_srli_si128(mx, 4));
        mx = _mm_max_epu8(mx, _mm_srli_si128(mx, 2));
        mx = _mm_max_epu8(mx, _mm_srli_si128(mx, 1));
        t = (unsigned char)_mm_cvtsi128_si32(mx);
    }
    for (; i < n; i++) {
        unsigned char c = p[i];
        cont += (c & 0xC0) == 0x80;
        if (c > t)
            t = c;
    }
    *top = t;
    return n - cont;
}

#else
#define FX_HAVE_SKIP16 0
static inline Py_ssize_t fx_utf8_count(const unsigned char* p, Py_ssize_t n, unsigned char* top) {
    Py_ssize_t i, cont = 0;
    unsigned char t = 0;
    for (i = 0; i < n; i++) {
        unsigned char c = p[i];
        cont += (c & 0xC0) == 0x80;
        if (c > t)
            t = c;
    }
    *top = t;
    return n - cont;
}
static inline Py_ssize_t fx_skip_aval(const unsigned char* s, Py_ssize_t pos, Py_ssize_t n) {
    (void)s; (void)n; return pos;
}
static inline Py_ssize_t fx_skip_text(const unsigned char* s, Py_ssize_t pos, Py_ssize_t n) {
    (void)s; (void)n; return pos;
}
#endif

#endif
