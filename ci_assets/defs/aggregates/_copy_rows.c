/* The aggregates converter's fast path: one pass over a chunk of COPY lines.
 *
 * A line is taken when it is in the shape PostgreSQL prints for a canonical row: jsonb text
 * with exactly the seven dimension keys in jsonb's order and no escapes, a TAB, and a histogram
 * that keeps the contract's pattern (rows.py says why each check is enough). A taken line
 * becomes seven dictionary codes, one per dimension (each chunk has its own dictionaries: the
 * Parquet writer writes them as they are, without hashing every value again), and the
 * aggregate's bytes, the histogram with its braces turned into brackets. Every other line is
 * handed back by position for the per-row path to decide. The pass runs without the GIL, so
 * the converter's threads parse side by side.
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

#define NKEYS 7
static const char *const KEYS[NKEYS] = {"os", "child", "label", "metric", "osVersion", "application", "architecture"};

typedef struct {
    const char *ptr; /* the value's first occurrence, in the chunk */
    Py_ssize_t len;
    uint64_t hash;
} Value;

typedef struct {
    int32_t *slots; /* code + 1, 0 for an empty slot */
    size_t mask;
    Value *values;
    size_t count, cap;
    int32_t *codes; /* one per taken line */
} Dict;

static uint64_t hash_bytes(const char *p, Py_ssize_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ (uint64_t)n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xBF58476D1CE4E5B9ULL;
        h ^= h >> 31;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, (size_t)n);
    h = (h ^ w) * 0x94D049BB133111EBULL;
    return h ^ (h >> 29);
}

/* Text a dimension value may hold as it stands: UTF-8, no control characters (JSON escapes
 * those, so a raw one means the line is not what jsonb prints). */
static int plain_utf8(const unsigned char *s, Py_ssize_t n) {
    Py_ssize_t i = 0;
    while (i < n) {
        if (s[i] < 0x20) return 0;
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        int length = utf8_sequence(s + i, n - i);
        if (!length) return 0;
        i += length;
    }
    return 1;
}

/* The value's code in `d`, adding it if new; -1 if it is not plain text, -2 if out of memory. */
static int32_t code_of(Dict *d, const char *p, Py_ssize_t n) {
    uint64_t h = hash_bytes(p, n);
    size_t i = (size_t)h & d->mask;
    for (;;) {
        int32_t slot = d->slots[i];
        if (slot == 0) break;
        Value *v = &d->values[slot - 1];
        if (v->hash == h && v->len == n && memcmp(v->ptr, p, (size_t)n) == 0) return slot - 1;
        i = (i + 1) & d->mask;
    }
    if (!plain_utf8((const unsigned char *)p, n)) return -1;
    if (d->count == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 256;
        Value *values = realloc(d->values, cap * sizeof(Value));
        if (!values) return -2;
        d->values = values;
        d->cap = cap;
    }
    int32_t code = (int32_t)d->count++;
    d->values[code] = (Value){p, n, h};
    d->slots[i] = code + 1;
    if (d->count * 2 > d->mask + 1) { /* keep the table at most half full */
        size_t size = (d->mask + 1) * 2;
        int32_t *slots = calloc(size, sizeof(int32_t));
        if (!slots) return -2;
        for (size_t c = 0; c < d->count; c++) {
            size_t j = (size_t)d->values[c].hash & (size - 1);
            while (slots[j]) j = (j + 1) & (size - 1);
            slots[j] = (int32_t)c + 1;
        }
        free(d->slots);
        d->slots = slots;
        d->mask = size - 1;
    }
    return code;
}

/* Copy the histogram's inner bytes to `out` when each is a digit, a comma or a minus: for text
 * PostgreSQL printed for a bigint[] value that opens with one brace, exactly the contract's
 * pattern (rows.py, printed_histogram_keeps_the_rule); it also proves the bytes are ASCII. */
static int copy_printed(const char *s, Py_ssize_t n, char *out) {
    Py_ssize_t i = 0;
#ifdef __SSE2__
    const __m128i zero = _mm_set1_epi8('0'), nine = _mm_set1_epi8(9);
    const __m128i comma = _mm_set1_epi8(','), minus = _mm_set1_epi8('-');
    for (; i + 16 <= n; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(s + i));
        __m128i y = _mm_sub_epi8(x, zero);
        __m128i digit = _mm_cmpeq_epi8(_mm_max_epu8(y, nine), nine);
        __m128i ok = _mm_or_si128(digit, _mm_or_si128(_mm_cmpeq_epi8(x, comma), _mm_cmpeq_epi8(x, minus)));
        if (_mm_movemask_epi8(ok) != 0xFFFF) return 0;
        _mm_storeu_si128((__m128i *)(out + i), x);
    }
#endif
    for (; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || c == ',' || c == '-')) return 0;
        out[i] = c;
    }
    return 1;
}

/* The contract's whole pattern over the histogram's inner bytes: integers without leading
 * zeros (JSON's), separated by commas, or nothing. */
static int copy_matching(const char *s, Py_ssize_t n, char *out) {
    Py_ssize_t i = 0;
    while (i < n) {
        if (s[i] == '-') i++;
        if (i >= n || s[i] < '0' || s[i] > '9') return 0;
        if (s[i] == '0') {
            i++;
        } else {
            while (i < n && s[i] >= '0' && s[i] <= '9') i++;
        }
        if (i < n) {
            if (s[i] != ',' || i + 1 == n) return 0;
            i++;
        }
    }
    memcpy(out, s, (size_t)n);
    return 1;
}

typedef struct {
    Dict dicts[NKEYS];
    Buf offsets;  /* int64, one more than taken lines */
    Buf rejected; /* int64 triples: line, start, end (without the newline) */
    char *data;   /* the aggregates' bytes */
    size_t data_size;
    Py_ssize_t lines, taken;
    int out_of_memory;
} Pass;

/* -1 out of memory, 0 not taken, 1 taken. */
static int take(Pass *ps, const char *p, const char *e, int printed) {
    const char *tab = memchr(p, '\t', (size_t)(e - p));
    if (!tab || memchr(p, '\\', (size_t)(tab - p))) return 0;
    int32_t got[NKEYS];
    const char *q = p;
    for (int k = 0; k < NKEYS; k++) {
        /* `{"os": "` opens, then `", "<key>": "` before each other value. */
        const char *key = KEYS[k];
        size_t klen = strlen(key);
        if (k == 0) {
            if (tab - q < 2 || q[0] != '{' || q[1] != '"') return 0;
            q += 2;
        } else {
            if (tab - q < 4 || memcmp(q, "\", \"", 4) != 0) return 0;
            q += 4;
        }
        if ((size_t)(tab - q) < klen + 4 || memcmp(q, key, klen) != 0 || memcmp(q + klen, "\": \"", 4) != 0) return 0;
        q += klen + 4;
        const char *close = memchr(q, '"', (size_t)(tab - q));
        if (!close) return 0;
        int32_t code = code_of(&ps->dicts[k], q, close - q);
        if (code == -2) return -1;
        if (code < 0) return 0;
        got[k] = code;
        q = close;
    }
    if (tab - q != 2 || q[1] != '}') return 0;
    const char *h = tab + 1;
    Py_ssize_t hlen = e - h;
    if (hlen < 2 || h[0] != '{' || e[-1] != '}') return 0;
    char *out = ps->data + ps->data_size;
    if (!(printed ? copy_printed : copy_matching)(h + 1, hlen - 2, out + 1)) return 0;
    out[0] = '[';
    out[hlen - 1] = ']';
    ps->data_size += (size_t)hlen;
    for (int k = 0; k < NKEYS; k++) {
        Dict *d = &ps->dicts[k];
        d->codes[ps->taken] = got[k];
    }
    ps->taken++;
    return put64(&ps->offsets, (int64_t)ps->data_size) ? -1 : 1;
}

static void run(Pass *ps, const char *buf, Py_ssize_t n, int printed) {
    const char *p = buf, *end = buf + n;
    if (put64(&ps->offsets, 0)) goto oom;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        int taken = take(ps, p, e, printed);
        if (taken < 0) goto oom;
        if (!taken && put_line(&ps->rejected, ps->lines, p - buf, e - buf)) goto oom;
        ps->lines++;
        p = nl ? nl + 1 : end;
    }
    return;
oom:
    ps->out_of_memory = 1;
}

/* The dictionary's values as Arrow string buffers: (int32 offsets, UTF-8 bytes). */
static PyObject *dictionary_buffers(Dict *d) {
    size_t size = 0;
    for (size_t c = 0; c < d->count; c++) size += (size_t)d->values[c].len;
    if (size > INT32_MAX) return PyErr_Format(PyExc_OverflowError, "a dictionary of %zu bytes", size);
    PyObject *offsets = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)((d->count + 1) * sizeof(int32_t)));
    PyObject *data = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)size);
    if (!offsets || !data) {
        Py_XDECREF(offsets);
        Py_XDECREF(data);
        return NULL;
    }
    char *o = PyBytes_AS_STRING(offsets), *out = PyBytes_AS_STRING(data);
    int32_t at = 0;
    memcpy(o, &at, sizeof at);
    for (size_t c = 0; c < d->count; c++) {
        memcpy(out + at, d->values[c].ptr, (size_t)d->values[c].len);
        at += (int32_t)d->values[c].len;
        memcpy(o + (c + 1) * sizeof at, &at, sizeof at);
    }
    return Py_BuildValue("(NN)", offsets, data);
}

static PyObject *results(Pass *ps, PyObject *data) {
    PyObject *codes = PyList_New(NKEYS), *values = PyList_New(NKEYS), *offsets = NULL, *rejected = NULL;
    if (!codes || !values) goto fail;
    for (int k = 0; k < NKEYS; k++) {
        PyObject *c = PyBytes_FromStringAndSize((const char *)ps->dicts[k].codes, ps->taken * (Py_ssize_t)sizeof(int32_t));
        if (!c) goto fail;
        PyList_SET_ITEM(codes, k, c);
        PyObject *v = dictionary_buffers(&ps->dicts[k]);
        if (!v) goto fail;
        PyList_SET_ITEM(values, k, v);
    }
    offsets = PyBytes_FromStringAndSize(ps->offsets.data, (Py_ssize_t)ps->offsets.size);
    rejected = lines_list(&ps->rejected);
    if (!offsets || !rejected) goto fail;
    if (_PyBytes_Resize(&data, (Py_ssize_t)ps->data_size) < 0) {
        data = NULL;
        goto fail;
    }
    return Py_BuildValue("(nnNNNNN)", ps->lines, ps->taken, codes, values, offsets, data, rejected);
fail:
    Py_XDECREF(codes);
    Py_XDECREF(values);
    Py_XDECREF(offsets);
    Py_XDECREF(rejected);
    Py_XDECREF(data);
    return NULL;
}

static void release(Pass *ps) {
    for (int k = 0; k < NKEYS; k++) {
        free(ps->dicts[k].slots);
        free(ps->dicts[k].values);
        free(ps->dicts[k].codes);
    }
    free(ps->offsets.data);
    free(ps->rejected.data);
}

static PyObject *parse(PyObject *self, PyObject *args) {
    Py_buffer chunk;
    int printed;
    if (!PyArg_ParseTuple(args, "y*p", &chunk, &printed)) return NULL;
    Pass ps;
    memset(&ps, 0, sizeof ps);
    const char *buf = chunk.buf;
    Py_ssize_t n = chunk.len;
    /* Every taken line holds at least its 7 keys, so it is more than 64 bytes: that bounds the
     * taken lines, and the aggregates' bytes are at most the chunk's. */
    size_t most = (size_t)n / 64 + 1;
    PyObject *data = PyBytes_FromStringAndSize(NULL, n);
    if (!data) {
        PyBuffer_Release(&chunk);
        return NULL;
    }
    ps.data = PyBytes_AS_STRING(data);
    for (int k = 0; k < NKEYS && !ps.out_of_memory; k++) {
        ps.dicts[k].slots = calloc(256, sizeof(int32_t));
        ps.dicts[k].mask = 255;
        ps.dicts[k].codes = malloc(most * sizeof(int32_t));
        if (!ps.dicts[k].slots || !ps.dicts[k].codes) ps.out_of_memory = 1;
    }
    if (!ps.out_of_memory) {
        Py_BEGIN_ALLOW_THREADS run(&ps, buf, n, printed);
        Py_END_ALLOW_THREADS
    }
    PyObject *result = NULL;
    if (ps.out_of_memory) {
        Py_DECREF(data);
        PyErr_NoMemory();
    } else {
        result = results(&ps, data);
    }
    release(&ps);
    PyBuffer_Release(&chunk);
    return result;
}

static PyMethodDef methods[] = {
    {"parse", parse, METH_VARARGS,
     "parse(chunk, printed_by_postgres) -> (lines, taken, codes, values, offsets, data, rejected)\n\n"
     "codes: seven bytes of int32 dictionary codes, one per taken line; values: seven dictionaries,\n"
     "each (int32 offsets, UTF-8 bytes); offsets (int64) and data: the aggregates; rejected: (line, start, end)\n"
     "of each line not taken, 0-based, end without the newline."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_copy_rows", NULL, -1, methods};

PyMODINIT_FUNC PyInit__copy_rows(void) { return PyModule_Create(&module); }
