/* UTF-8 as Python's strict codec takes it, shared by the C fast paths (aggregates' COPY rows,
 * ActiveData's JSON lines): a lead byte and its continuations, no overlong form, no surrogate,
 * nothing past U+10FFFF. */
#ifndef CI_ASSETS_UTF8_H
#define CI_ASSETS_UTF8_H
#include <stddef.h>
#include <stdint.h>

/* The length of the sequence starting at s (its lead byte >= 0x80) within `available` bytes,
 * or 0 if it is not valid UTF-8. */
static inline int utf8_sequence(const unsigned char *s, ptrdiff_t available) {
    unsigned char b = s[0];
    int extra;
    uint32_t cp;
    if (b >= 0xC2 && b <= 0xDF) {
        extra = 1;
        cp = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
        extra = 2;
        cp = b & 0x0F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        extra = 3;
        cp = b & 0x07;
    } else {
        return 0;
    }
    if (available <= extra) return 0;
    for (int k = 1; k <= extra; k++) {
        if ((s[k] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[k] & 0x3F);
    }
    if ((extra == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (extra == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return extra + 1;
}

#endif
