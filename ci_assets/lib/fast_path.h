/* What the C fast paths (aggregates' COPY rows, ActiveData's JSON lines) share: UTF-8 as
 * Python's strict codec takes it, a growable buffer, and the lines a pass hands back.
 * Include after Python.h. */
#ifndef CI_ASSETS_FAST_PATH_H
#define CI_ASSETS_FAST_PATH_H
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* UTF-8: a lead byte and its continuations, no overlong form, no surrogate, nothing past
 * U+10FFFF. The length of the sequence starting at s (its lead byte >= 0x80) within `available` bytes,
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

typedef struct {
    char *data;
    size_t size, cap;
} Buf;

/* Append n bytes; -1 when out of memory. */
static int put(Buf *b, const void *p, size_t n) {
    if (b->size + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->size + n) cap *= 2;
        char *data = realloc(b->data, cap);
        if (!data) return -1;
        b->data = data;
        b->cap = cap;
    }
    memcpy(b->data + b->size, p, n);
    b->size += n;
    return 0;
}

static int put64(Buf *b, int64_t v) { return put(b, &v, sizeof v); }

/* A line handed back: its number, and where it starts and ends in the pass's input. */
static int put_line(Buf *b, int64_t number, int64_t start, int64_t end) {
    int64_t line[3] = {number, start, end};
    return put(b, line, sizeof line);
}

/* The lines put_line kept, as a list of (number, start, end) tuples. */
static PyObject *lines_list(const Buf *b) {
    Py_ssize_t count = (Py_ssize_t)(b->size / (3 * sizeof(int64_t)));
    PyObject *list = PyList_New(count);
    for (Py_ssize_t i = 0; list && i < count; i++) {
        int64_t t[3];
        memcpy(t, b->data + i * (Py_ssize_t)sizeof t, sizeof t);
        PyObject *item = Py_BuildValue("(LLL)", (long long)t[0], (long long)t[1], (long long)t[2]);
        if (!item) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, item);
    }
    return list;
}

#endif
