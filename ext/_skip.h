/* Sixteen bytes at a time over the plain runs of character data and attribute values, for
 * ext/_parser_c.pyx (and the helpers of its decoding: fx_utf8_count, fx_ascii8_*). Each skip
 * function returns the offset of the first byte from `pos` that is not
 * in its class, or the offset where fewer than 16 bytes remain; in that second case the caller
 * finishes the run one byte at a time with its class table, which is the definition: these only
 * go faster. Without SSE2 (not x86-64) they return `pos`, FX_HAVE_SKIP16 is 0, and the table
 * does all the work. */
#ifndef FX_SKIP_H
#define FX_SKIP_H

#include <Python.h>

/* The widest character in bytes of valid UTF-8 whose largest byte is `top` (the encoding has no
 * overlong forms): below 0xC4, every character is at most U+00FF; below 0xF0, at most U+FFFF. */
static inline Py_UCS4 fx_maxchar_of_top(unsigned char top) {
    return top < 0x80 ? 0x7F : top < 0xC4 ? 0xFF : top < 0xF0 ? 0xFFFF : 0x10FFFF;
}

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

#define FX_BYTES(b) (0x0101010101010101ULL * (b))

/* The same for an 8-byte word (little-endian, as on x86-64) without finding its largest byte:
 * whether any byte is >= 0x80, >= 0xC4, >= 0xF0. For a byte b with its top bit set, b >= T
 * (T > 0x80) when (b & 0x7F) + (0x100 - T) carries into bit 7, which no byte overflows. */
static inline Py_UCS4 fx_maxchar_of_word(unsigned long long w) {
    const unsigned long long low7 = w & FX_BYTES(0x7F), high = w & FX_BYTES(0x80);
    if (!high)
        return 0x7F;
    if (!((low7 + FX_BYTES(0x3C)) & high))
        return 0xFF;
    return ((low7 + FX_BYTES(0x10)) & high) ? 0x10FFFF : 0xFFFF;
}

/* The continuation bytes (0x80-0xBF: top bit set, the next one clear) of an 8-byte word. */
static inline Py_ssize_t fx_count_cont(unsigned long long w) {
    unsigned long long m = w & ~(w << 1) & FX_BYTES(0x80);
    return (Py_ssize_t)(((m >> 7) * FX_BYTES(1)) >> 56); /* the sum of the bytes' flags */
}

/* For _decode_valid: the number of characters of the (valid) UTF-8 p[0:n], that is of bytes
 * that are not continuation bytes, and in *maxchar the widest of them (0x7F, 0xFF, 0xFFFF or
 * 0x10FFFF: see fx_maxchar_of_top). Nothing outside p[0:n] is read: the last bytes are counted
 * with a load that ends at p + n and overlaps the ones before it (whose counts it masks off). */
static inline Py_ssize_t fx_utf8_count(const unsigned char* p, Py_ssize_t n, Py_UCS4* maxchar) {
    Py_ssize_t i = 0, cont = 0;
    unsigned char t = 0;
    if (n >= 16) {
        /* lanes 16 - rem .. 15 of a load at fx_tail_lanes + rem are 0xFF: the last rem bytes */
        static const unsigned char fx_tail_lanes[32] = {
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
            0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
        const __m128i zero = _mm_setzero_si128();
        __m128i mx = zero, acc = zero, sums = zero, v;
        int blocks = 0;
        for (; n - i >= 16; i += 16) {
            v = _mm_loadu_si128((const __m128i*)(p + i));
            mx = _mm_max_epu8(mx, v);
            /* continuation bytes, 0x80-0xBF, are the signed bytes below -64: each adds 1 */
            acc = _mm_sub_epi8(acc, _mm_cmplt_epi8(v, _mm_set1_epi8((char)0xC0)));
            if (++blocks == 255) { /* before a byte of acc can overflow */
                sums = _mm_add_epi64(sums, _mm_sad_epu8(acc, zero));
                acc = zero;
                blocks = 0;
            }
        }
        if (i < n) { /* the last n - i bytes (one more per lane at most: no overflow) */
            v = _mm_loadu_si128((const __m128i*)(p + n - 16));
            mx = _mm_max_epu8(mx, v);
            acc = _mm_sub_epi8(acc, _mm_and_si128(
                _mm_cmplt_epi8(v, _mm_set1_epi8((char)0xC0)),
                _mm_loadu_si128((const __m128i*)(fx_tail_lanes + (n - i)))));
        }
        sums = _mm_add_epi64(sums, _mm_sad_epu8(acc, zero));
        cont = (Py_ssize_t)_mm_cvtsi128_si64(sums) + (Py_ssize_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(sums, sums));
        mx = _mm_max_epu8(mx, _mm_srli_si128(mx, 8));
        mx = _mm_max_epu8(mx, _mm_srli_si128(mx, 4));
        mx = _mm_max_epu8(mx, _mm_srli_si128(mx, 2));
        mx = _mm_max_epu8(mx, _mm_srli_si128(mx, 1));
        *maxchar = fx_maxchar_of_top((unsigned char)_mm_cvtsi128_si32(mx));
        return n - cont;
    }
    if (n >= 8) { /* two words, the second ending at p + n (its first 16 - n bytes counted) */
        unsigned long long w0, w1;
        Py_UCS4 m0, m1;
        memcpy(&w0, p, 8);
        memcpy(&w1, p + n - 8, 8);
        m0 = fx_maxchar_of_word(w0);
        m1 = fx_maxchar_of_word(w1);
        *maxchar = m0 > m1 ? m0 : m1;
        cont = fx_count_cont(w0);
        if (n > 8)
            cont += fx_count_cont(w1 >> (8 * (16 - n)));
        return n - cont;
    }
    for (; i < n; i++) {
        unsigned char c = p[i];
        cont += (c & 0xC0) == 0x80;
        if (c > t)
            t = c;
    }
    *maxchar = fx_maxchar_of_top(t);
    return n - cont;
}

/* The ASCII bytes before the first other one in the low 8 bytes of v (8: all are ASCII). */
static inline int fx_ascii_count8(__m128i v) {
    int mask = _mm_movemask_epi8(v) & 0xFF; /* the bytes' top bits */
    return mask ? __builtin_ctz((unsigned int)mask) : 8;
}

/* For _decode_valid: the 8 bytes at p written to d as 8 characters of 1, 2 or 4 bytes (the caller
 * knows the string has room for 8 more), and how many of them come before the first byte that is
 * not ASCII (8: all are ASCII); the caller keeps those and writes over the rest. */
static inline int fx_ascii8_ucs1(const unsigned char* p, Py_UCS1* d) {
    unsigned long long w, hi;
    memcpy(&w, p, 8);
    memcpy(d, &w, 8);
    hi = w & FX_BYTES(0x80); /* (a word: fewer instructions than the SSE2 forms below) */
    return hi ? __builtin_ctzll(hi) >> 3 : 8;
}

static inline int fx_ascii8_ucs2(const unsigned char* p, Py_UCS2* d) {
    __m128i v = _mm_loadl_epi64((const __m128i*)p);
    _mm_storeu_si128((__m128i*)d, _mm_unpacklo_epi8(v, _mm_setzero_si128()));
    return fx_ascii_count8(v);
}

static inline int fx_ascii8_ucs4(const unsigned char* p, Py_UCS4* d) {
    const __m128i zero = _mm_setzero_si128();
    __m128i v = _mm_loadl_epi64((const __m128i*)p), h = _mm_unpacklo_epi8(v, zero);
    _mm_storeu_si128((__m128i*)d, _mm_unpacklo_epi16(h, zero));
    _mm_storeu_si128((__m128i*)(d + 4), _mm_unpackhi_epi16(h, zero));
    return fx_ascii_count8(v);
}

/* For _unescape_span: copy s[0:n] to out up to the first byte that needs a look ('&', '<' and
 * CR; in attribute values TAB and LF too), 16 bytes at a time: returns how many were copied,
 * which stops short of that byte or where fewer than 16 bytes remain. out has room for n bytes
 * (16 are written at a time, the ones from that byte on to be written over). */
static inline Py_ssize_t fx_copy_literal(const unsigned char* s, Py_ssize_t n, unsigned char* out, int attr) {
    Py_ssize_t i = 0;
    while (n - i >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i*)(s + i));
        __m128i m = _mm_or_si128(_mm_or_si128(FX_EQ(v, '&'), FX_EQ(v, '<')), FX_EQ(v, '\r'));
        int mask;
        if (attr)
            m = _mm_or_si128(m, _mm_or_si128(FX_EQ(v, '\t'), FX_EQ(v, '\n')));
        _mm_storeu_si128((__m128i*)(out + i), v);
        mask = _mm_movemask_epi8(m);
        if (mask)
            return i + __builtin_ctz((unsigned int)mask);
        i += 16;
    }
    return i;
}

#else
#define FX_HAVE_SKIP16 0
static inline Py_ssize_t fx_utf8_count(const unsigned char* p, Py_ssize_t n, Py_UCS4* maxchar) {
    Py_ssize_t i, cont = 0;
    unsigned char t = 0;
    for (i = 0; i < n; i++) {
        unsigned char c = p[i];
        cont += (c & 0xC0) == 0x80;
        if (c > t)
            t = c;
    }
    *maxchar = fx_maxchar_of_top(t);
    return n - cont;
}
static inline Py_ssize_t fx_skip_aval(const unsigned char* s, Py_ssize_t pos, Py_ssize_t n) {
    (void)s; (void)n; return pos;
}
static inline Py_ssize_t fx_skip_text(const unsigned char* s, Py_ssize_t pos, Py_ssize_t n) {
    (void)s; (void)n; return pos;
}
static inline int fx_ascii_count8(const unsigned char* p) {
    int j = 0;
    while (j < 8 && p[j] < 0x80)
        j++;
    return j;
}
static inline int fx_ascii8_ucs1(const unsigned char* p, Py_UCS1* d) {
    memcpy(d, p, 8);
    return fx_ascii_count8(p);
}
static inline int fx_ascii8_ucs2(const unsigned char* p, Py_UCS2* d) {
    int j;
    for (j = 0; j < 8; j++)
        d[j] = p[j];
    return fx_ascii_count8(p);
}
static inline int fx_ascii8_ucs4(const unsigned char* p, Py_UCS4* d) {
    int j;
    for (j = 0; j < 8; j++)
        d[j] = p[j];
    return fx_ascii_count8(p);
}
static inline Py_ssize_t fx_copy_literal(const unsigned char* s, Py_ssize_t n, unsigned char* out, int attr) {
    (void)s; (void)n; (void)out; (void)attr; return 0;
}
#endif

#endif
