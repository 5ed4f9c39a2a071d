/* ActiveData's fast path: the lines of one file read as records, in one pass.
 *
 * A line is taken when this pass can prove orjson would read it as an object whose last
 * top-level `_id` is a non-empty string, and that string is the `_id` it returns: strict JSON
 * (RFC 8259, orjson's own rules), UTF-8 without surrogates, no number that could overflow a
 * double, nesting at most 64 deep, top-level keys and the `_id` without escapes. Whatever it
 * cannot prove (bad lines, and the rare good line beyond those bounds) is handed back by
 * position for records.py's per-line path, orjson itself, to decide. Nothing it takes is a line
 * orjson would refuse or read differently: a property test compares the two on any bytes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fast_path.h"
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define MAX_DEPTH 64

typedef struct {
    const unsigned char *p, *end;
} Cursor;

static void skip_ws(Cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r' || *c->p == '\n')) c->p++;
}

static int hex4(const unsigned char *s, uint32_t *out) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char h = s[i];
        v <<= 4;
        if (h >= '0' && h <= '9') v |= (uint32_t)(h - '0');
        else if (h >= 'a' && h <= 'f') v |= (uint32_t)(h - 'a' + 10);
        else if (h >= 'A' && h <= 'F') v |= (uint32_t)(h - 'A' + 10);
        else return 0;
    }
    *out = v;
    return 1;
}

/* A string, c->p just past its opening quote; on success c->p is past the closing quote.
 * `escaped` tells whether it held any escape. */
static int string(Cursor *c, int *escaped) {
    *escaped = 0;
    for (;;) {
#ifdef __SSE2__
        /* Skip plain ASCII 16 bytes at a time: no quote, backslash, control or non-ASCII byte. */
        const __m128i quote = _mm_set1_epi8('"'), slash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x20);
        while (c->end - c->p >= 16) {
            __m128i x = _mm_loadu_si128((const __m128i *)c->p);
            __m128i stop = _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, slash));
            /* signed compare: bytes >= 0x80 are negative, so x < 0x20 catches them as well */
            stop = _mm_or_si128(stop, _mm_cmplt_epi8(x, space));
            if (_mm_movemask_epi8(stop)) break;
            c->p += 16;
        }
#endif
        if (c->p >= c->end) return 0;
        unsigned char b = *c->p;
        if (b == '"') {
            c->p++;
            return 1;
        }
        if (b < 0x20) return 0;
        if (b == '\\') {
            *escaped = 1;
            if (c->end - c->p < 2) return 0;
            unsigned char e = c->p[1];
            if (e == 'u') {
                uint32_t cp;
                if (c->end - c->p < 6 || !hex4(c->p + 2, &cp) || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
                c->p += 6;
            } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
                c->p += 2;
            } else {
                return 0;
            }
            continue;
        }
        if (b >= 0x80) {
            int n = utf8_sequence(c->p, c->end - c->p);
            if (!n) return 0;
            c->p += n;
            continue;
        }
        c->p++;
    }
}

static int digits(Cursor *c) {
    const unsigned char *start = c->p;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') c->p++;
    return (int)(c->p - start);
}

/* A number no double overflows on: its integer digits plus a positive exponent at most 300. */
static int number(Cursor *c) {
    if (*c->p == '-') c->p++;
    if (c->p >= c->end) return 0;
    int integer;
    if (*c->p == '0') {
        c->p++;
        integer = 1;
    } else {
        integer = digits(c);
        if (!integer) return 0;
    }
    if (c->p < c->end && *c->p == '.') {
        c->p++;
        if (!digits(c)) return 0;
    }
    long exponent = 0;
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        c->p++;
        int negative = 0;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-')) negative = *c->p++ == '-';
        const unsigned char *start = c->p;
        int n = digits(c);
        if (!n || n > 6) return 0;
        for (const unsigned char *d = start; d < c->p; d++) exponent = exponent * 10 + (*d - '0');
        if (negative) exponent = -exponent;
    }
    return integer + exponent <= 300;
}

static int literal(Cursor *c, const char *word, size_t n) {
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0) return 0;
    c->p += n;
    return 1;
}

static int value(Cursor *c, int depth);

static int array(Cursor *c, int depth) {
    c->p++;
    skip_ws(c);
    if (c->p < c->end && *c->p == ']') {
        c->p++;
        return 1;
    }
    for (;;) {
        if (!value(c, depth)) return 0;
        skip_ws(c);
        if (c->p >= c->end) return 0;
        if (*c->p == ']') {
            c->p++;
            return 1;
        }
        if (*c->p != ',') return 0;
        c->p++;
    }
}

/* An object; at the top level (`id` not NULL) its keys must be unescaped, and the last `_id`'s
 * value, an unescaped string, is kept in *id / *id_len (NULL when there is none). */
static int object(Cursor *c, int depth, const unsigned char **id, size_t *id_len) {
    c->p++;
    skip_ws(c);
    if (c->p < c->end && *c->p == '}') {
        c->p++;
        return 1;
    }
    for (;;) {
        skip_ws(c);
        if (c->p >= c->end || *c->p != '"') return 0;
        const unsigned char *key = ++c->p;
        int escaped;
        if (!string(c, &escaped)) return 0;
        size_t key_len = (size_t)(c->p - 1 - key);
        skip_ws(c);
        if (c->p >= c->end || *c->p != ':') return 0;
        c->p++;
        skip_ws(c);
        if (id && escaped) return 0; /* an escaped key may spell `_id` */
        if (id && key_len == 3 && memcmp(key, "_id", 3) == 0) {
            if (c->p >= c->end || *c->p != '"') return 0; /* orjson says what else it is */
            const unsigned char *start = ++c->p;
            if (!string(c, &escaped) || escaped) return 0;
            *id = start;
            *id_len = (size_t)(c->p - 1 - start);
        } else if (!value(c, depth)) {
            return 0;
        }
        skip_ws(c);
        if (c->p >= c->end) return 0;
        if (*c->p == '}') {
            c->p++;
            return 1;
        }
        if (*c->p != ',') return 0;
        c->p++;
    }
}

static int value(Cursor *c, int depth) {
    skip_ws(c);
    if (c->p >= c->end) return 0;
    switch (*c->p) {
    case '{':
        return depth < MAX_DEPTH && object(c, depth + 1, NULL, NULL);
    case '[':
        return depth < MAX_DEPTH && array(c, depth + 1);
    case '"': {
        int escaped;
        c->p++;
        return string(c, &escaped);
    }
    case 't':
        return literal(c, "true", 4);
    case 'f':
        return literal(c, "false", 5);
    case 'n':
        return literal(c, "null", 4);
    default:
        if (*c->p == '-' || (*c->p >= '0' && *c->p <= '9')) return number(c);
        return 0;
    }
}

/* The line's `_id` if it is taken, else NULL. */
static const unsigned char *take(const unsigned char *p, const unsigned char *end, size_t *id_len) {
    Cursor c = {p, end};
    skip_ws(&c);
    if (c.p >= c.end || *c.p != '{') return NULL;
    const unsigned char *id = NULL;
    if (!object(&c, 1, &id, id_len)) return NULL;
    skip_ws(&c);
    if (c.p != c.end || id == NULL || *id_len == 0) return NULL;
    return id;
}

typedef struct {
    Buf ids, id_offsets, lines, records, record_offsets, others;
} Out;

static int run(Out *o, const char *text, Py_ssize_t n) {
    const char *end = text + n;
    int crlf = memchr(text, '\r', (size_t)n) != NULL;
    if (put64(&o->id_offsets, 0) || put64(&o->record_offsets, 0)) return -1;
    const char *p = text;
    int64_t number = 0;
    /* text.split(b"\n"), less a last piece that is empty or a lone CR (records.py). */
    for (;;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        if (!nl && (e == p || (e - p == 1 && *p == '\r'))) break;
        number++;
        const char *line_end = (crlf && e > p && e[-1] == '\r') ? e - 1 : e;
        size_t id_len = 0;
        const unsigned char *id = take((const unsigned char *)p, (const unsigned char *)line_end, &id_len);
        if (id) {
            if (put(&o->ids, id, id_len) || put64(&o->id_offsets, (int64_t)o->ids.size) || put64(&o->lines, number) ||
                put(&o->records, p, (size_t)(line_end - p)) || put64(&o->record_offsets, (int64_t)o->records.size))
                return -1;
        } else if (put_line(&o->others, number, p - text, line_end - text)) {
            return -1;
        }
        if (!nl) break;
        p = nl + 1;
    }
    return 0;
}

static PyObject *bytes_of(Buf *b) { return PyBytes_FromStringAndSize(b->data ? b->data : "", (Py_ssize_t)b->size); }

static PyObject *read_lines(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer text;
    if (!PyArg_ParseTuple(args, "y*", &text)) return NULL;
    Out o;
    memset(&o, 0, sizeof o);
    int failed;
    Py_BEGIN_ALLOW_THREADS failed = run(&o, text.buf, text.len);
    Py_END_ALLOW_THREADS PyObject *result = NULL;
    if (failed) {
        PyErr_NoMemory();
    } else {
        PyObject *others = lines_list(&o.others);
        if (others)
            result = Py_BuildValue("(NNNNNN)", bytes_of(&o.ids), bytes_of(&o.id_offsets), bytes_of(&o.lines),
                                   bytes_of(&o.records), bytes_of(&o.record_offsets), others);
    }
    free(o.ids.data);
    free(o.id_offsets.data);
    free(o.lines.data);
    free(o.records.data);
    free(o.record_offsets.data);
    free(o.others.data);
    PyBuffer_Release(&text);
    return result;
}

static PyMethodDef methods[] = {
    {"read_lines", read_lines, METH_VARARGS,
     "read_lines(text) -> (ids, id_offsets, lines, records, record_offsets, others)\n\n"
     "The taken lines' `_id`s and text as UTF-8 buffers cut by int64 offsets, their 1-based line\n"
     "numbers (int64), and (line, start, end) of every other line, end without a final CR."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_json_lines", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__json_lines(void) { return PyModule_Create(&module); }
