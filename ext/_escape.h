/* The byte-level work of ext/_writer_c.pyx: escaping, the XML 1.0 character check and the
 * encoding to UTF-8 of the strings it writes.
 *
 * fx_esc: per ASCII character, 0 plain, 1 escaped in text, 2 escaped in a double-quoted
 * attribute value, 4 not allowed in XML 1.0 (fx_escape_init fills it).
 *
 * fx_escape writes an ASCII character fx_esc flags, for text (mask 1) or an attribute (2).
 *
 * fx_put_wide writes a str's characters (kind 1, 2 or 4, as PyUnicode_KIND) as UTF-8, sixteen
 * at a time while they are plain ASCII (with SSE2).
 * Both return the new end of the output, or NULL at a character XML 1.0 does not allow (lone
 * surrogates, U+FFFE and U+FFFF included); the caller then raises.
 *
 * fx_copy_plain copies the ASCII s[i:k] to *out, a block of sixteen bytes at a time (the rest
 * of a run of sixteen bytes or more as its last sixteen, overlapping what it copied), and
 * stops at the first byte fx_esc flags (a control character, '&', '<', '>' or '"') or where
 * fewer than sixteen bytes remain from i on. It returns the offset it stopped at and
 * advances *out by the bytes that count; the caller handles the byte it stopped on and a short
 * rest with fx_esc, which is the definition: this only goes faster. A block holding a flagged
 * byte is stored whole, so *out needs sixteen spare bytes beyond what is kept (the writer
 * reserves six output bytes per input byte). Without SSE2 (not x86-64) it returns i and the
 * table does all the work. */
#ifndef FX_ESCAPE_H
#define FX_ESCAPE_H

#include <Python.h>
#include <string.h>

#include "_bytes.h"  /* fx_copy */

static unsigned char fx_esc[128];

static void fx_escape_init(void) {
    int c;
    for (c = 0; c < 128; c++)
        fx_esc[c] = c < 0x20 ? 4 : 0;
    fx_esc['\t'] = 2;
    fx_esc['\n'] = 2;
    fx_esc['\r'] = 1 | 2;
    fx_esc['&'] = 1 | 2;
    fx_esc['<'] = 1 | 2;
    fx_esc['>'] = 1 | 2;
    fx_esc['"'] = 2;
}

static inline unsigned char* fx_escape(unsigned char* o, unsigned char c, unsigned char mask) {
    unsigned char e = fx_esc[c];
    if (e & mask) {
        switch (c) {
        case '&': memcpy(o, "&amp;", 5); return o + 5;
        case '<': memcpy(o, "&lt;", 4); return o + 4;
        case '>': memcpy(o, "&gt;", 4); return o + 4;
        case '"': memcpy(o, "&quot;", 6); return o + 6;
        case '\r': memcpy(o, "&#13;", 5); return o + 5;
        case '\t': memcpy(o, "&#9;", 4); return o + 4;
        default: memcpy(o, "&#10;", 5); return o + 5; /* LF */
        }
    }
    if (e & 4)
        return NULL;
    *o = c; /* '"' in text, TAB or LF in text */
    return o + 1;
}

#if defined(__SSE2__) && (defined(__GNUC__) || defined(__clang__))
#define FX_SSE2 1
#include <emmintrin.h>

/* the bytes of v that fx_esc flags, as a bit mask */
static inline int fx_flagged16(__m128i v) {
    /* v <= 0x1F: the control characters */
    __m128i m = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1F)), v);
    m = _mm_or_si128(m, _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('&')),
                                     _mm_cmpeq_epi8(v, _mm_set1_epi8('<'))));
    m = _mm_or_si128(m, _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('>')),
                                     _mm_cmpeq_epi8(v, _mm_set1_epi8('"'))));
    return _mm_movemask_epi8(m);
}

/* The sixteen characters of a str from data[i] (kind 1, 2 or 4) as bytes, which are their
 * UTF-8 when all are plain ASCII. Any other character comes out as a byte with its high bit
 * set (packus_epi16 saturates 0x80-0x7FFF to 0xFF; packs_epi32 first turns anything wider
 * into 0x7FFF) or as 0 (UCS2 units from 0x8000 up read as negative, which packus saturates
 * to 0): either way its byte ends the plain run, as fx_flagged16 flags 0. */
static inline __m128i fx_load16(const void* data, int kind, Py_ssize_t i) {
    if (kind == 1)
        return _mm_loadu_si128((const __m128i*)((const Py_UCS1*)data + i));
    if (kind == 2) {
        const Py_UCS2* d = (const Py_UCS2*)data + i;
        return _mm_packus_epi16(_mm_loadu_si128((const __m128i*)d),
                                _mm_loadu_si128((const __m128i*)(d + 8)));
    }
    const Py_UCS4* d = (const Py_UCS4*)data + i;
    return _mm_packus_epi16(
        _mm_packs_epi32(_mm_loadu_si128((const __m128i*)d), _mm_loadu_si128((const __m128i*)(d + 4))),
        _mm_packs_epi32(_mm_loadu_si128((const __m128i*)(d + 8)), _mm_loadu_si128((const __m128i*)(d + 12))));
}

#endif

/* one character of a str as UTF-8 (or escaped); NULL if XML 1.0 does not allow it */
static inline unsigned char* fx_put_char(Py_UCS4 c, unsigned char* o, unsigned char mask) {
    if (c < 0x80) {
        if (fx_esc[c] == 0) {
            *o = (unsigned char)c;
            return o + 1;
        }
        return fx_escape(o, (unsigned char)c, mask);
    }
    if (c < 0x800) {
        o[0] = (unsigned char)(0xC0 | (c >> 6));
        o[1] = (unsigned char)(0x80 | (c & 0x3F));
        return o + 2;
    }
    if (c < 0x10000) {
        if ((c >= 0xD800 && c <= 0xDFFF) || c >= 0xFFFE)
            return NULL;
        o[0] = (unsigned char)(0xE0 | (c >> 12));
        o[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (c & 0x3F));
        return o + 3;
    }
    o[0] = (unsigned char)(0xF0 | (c >> 18));
    o[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (c & 0x3F));
    return o + 4;
}

/* fx_put_wide for one kind: called with a constant kind, the compiler makes one loop each.
 * With SSE2 the plain ASCII goes sixteen characters at a time (the ASCII between the accents
 * of Latin text, a JID after an accented local part): a block is taken up to its first other
 * character, which is written on its own with the non-ASCII ones that follow it (a word of
 * Cyrillic or CJK text costs one look at a block, not one per character). */
static inline __attribute__((always_inline)) unsigned char* fx_put_kind(
        const void* data, int kind, Py_ssize_t k, unsigned char* o, unsigned char mask) {
#define FX_CHAR(i) (kind == 1 ? ((const Py_UCS1*)data)[i] \
                    : kind == 2 ? ((const Py_UCS2*)data)[i] : ((const Py_UCS4*)data)[i])
    Py_ssize_t i = 0;
    while (i < k) {
#ifdef FX_SSE2
        if (k - i >= 16) {
            /* (the whole block is stored; what follows its plain prefix is written over) */
            __m128i v = fx_load16(data, kind, i);
            int odd = _mm_movemask_epi8(v) | fx_flagged16(v);
            _mm_storeu_si128((__m128i*)o, v);
            int plain = odd ? __builtin_ctz((unsigned int)odd) : 16;
            o += plain;
            i += plain;
            if (plain)
                continue;
        }
#endif
        do {
            if ((o = fx_put_char(FX_CHAR(i), o, mask)) == NULL)
                return NULL;
            i++;
        } while (i < k && FX_CHAR(i) >= 0x80);
    }
    return o;
#undef FX_CHAR
}

static unsigned char* fx_put_wide(const void* data, int kind, Py_ssize_t k, unsigned char* o,
                                  unsigned char mask) {
    switch (kind) {
    case 1: return fx_put_kind(data, 1, k, o, mask);
    case 2: return fx_put_kind(data, 2, k, o, mask);
    default: return fx_put_kind(data, 4, k, o, mask);
    }
}

#ifdef FX_SSE2
static inline Py_ssize_t fx_copy_plain(const unsigned char* s, Py_ssize_t i, Py_ssize_t k,
                                       unsigned char** out) {
    unsigned char* o = *out;
    const Py_ssize_t i0 = i;
    while (k - i >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i*)(s + i));
        _mm_storeu_si128((__m128i*)o, v);
        int mask = fx_flagged16(v);
        if (mask) {
            int j = __builtin_ctz((unsigned int)mask);
            *out = o + j;
            return i + j;
        }
        i += 16;
        o += 16;
    }
    if (i < k && k - 16 >= i0) {
        /* The short rest, as the last sixteen bytes of s: the first `back` of them were copied
         * as they are by this call (stored again unchanged), so a flagged byte among them
         * does not count. (Before i0 the output may differ from s: escapes.) */
        int back = (int)(i - (k - 16));
        __m128i v = _mm_loadu_si128((const __m128i*)(s + k - 16));
        o -= back;
        _mm_storeu_si128((__m128i*)o, v);
        int mask = fx_flagged16(v) & (0xFFFF << back);
        if (mask) {
            int j = __builtin_ctz((unsigned int)mask);
            *out = o + j;
            return k - 16 + j;
        }
        *out = o + 16;
        return k;
    }
    *out = o;
    return i;
}

#else
static inline Py_ssize_t fx_copy_plain(const unsigned char* s, Py_ssize_t i, Py_ssize_t k,
                                       unsigned char** out) {
    (void)s; (void)k; (void)out; return i;
}
#endif

#endif
