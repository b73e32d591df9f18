/* The secret rule of the scans, compiled once per rule and kept: the C twin of `Redactor`'s
 * matching of normalised names (redaction.py; docs/redaction.md).
 *
 * Every scan (json_scan, text_holds_secret, query_json, headers_json) is handed the rule's tuples
 * of bytes on each call. Checking and indexing some forty words took longer than scanning a 1 KB
 * body, so a few compiled rules are kept, found by the identity of their tuples: a `Redactor`
 * hands over the same tuple objects every time, and the cache holds a reference to each, so an
 * address cannot be reused by another tuple while its rule is kept.
 */

#include "_speedups.h"

#define CACHED_RULES 8 /* a process has one or two Redactors; tests make more */

static Secrets *cache[CACHED_RULES];
static int next_slot;

static int
check_words(PyObject *words)
{
    if (!PyTuple_Check(words)) {
        PyErr_SetString(PyExc_TypeError, "keys must be a tuple of bytes");
        return -1;
    }
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(words); k++) {
        PyObject *word = PyTuple_GET_ITEM(words, k);
        if (!PyBytes_Check(word) || PyBytes_GET_SIZE(word) == 0) {
            PyErr_SetString(PyExc_TypeError, "keys must be non-empty bytes");
            return -1;
        }
    }
    return 0;
}

static void
secrets_free(Secrets *secrets)
{
    if (secrets == NULL) {
        return;
    }
    Py_XDECREF(secrets->words);
    Py_XDECREF(secrets->names);
    Py_XDECREF(secrets->top);
    PyMem_Free(secrets->sorted);
    PyMem_Free(secrets);
}

static Secrets *
secrets_compile(PyObject *words, PyObject *names, PyObject *top)
{
    if (check_words(words) < 0 || (names != NULL && check_words(names) < 0) || (top != NULL && check_words(top) < 0)) {
        return NULL;
    }
    Secrets *secrets = PyMem_Calloc(1, sizeof(Secrets));
    Py_ssize_t count = PyTuple_GET_SIZE(words);
    if (secrets == NULL || (secrets->sorted = PyMem_Calloc((size_t)(count ? count : 1), sizeof(Word))) == NULL) {
        PyMem_Free(secrets);
        PyErr_NoMemory();
        return NULL;
    }
    secrets->words = Py_NewRef(words);
    secrets->names = Py_XNewRef(names);
    secrets->top = Py_XNewRef(top);
    secrets->shortest = PY_SSIZE_T_MAX;
    /* A counting sort by first byte: bucket[c] is where the words starting with c begin. */
    for (Py_ssize_t k = 0; k < count; k++) {
        PyObject *word = PyTuple_GET_ITEM(words, k);
        const unsigned char *data = (const unsigned char *)PyBytes_AS_STRING(word);
        Py_ssize_t size = PyBytes_GET_SIZE(word);
        secrets->bucket[data[0] + 1]++;
        if (size < secrets->shortest) {
            secrets->shortest = size;
        }
        if (size == 1) {
            secrets->single[data[0]] = 1;
        }
        else {
            unsigned int pair = (unsigned int)data[0] << 8 | data[1];
            secrets->pairs[pair >> 3] |= (unsigned char)(1u << (pair & 7));
        }
    }
    for (int c = 0; c < 256; c++) {
        secrets->bucket[c + 1] += secrets->bucket[c];
    }
    Py_ssize_t filled[256];
    memcpy(filled, secrets->bucket, sizeof(filled));
    for (Py_ssize_t k = 0; k < count; k++) {
        PyObject *word = PyTuple_GET_ITEM(words, k);
        const unsigned char *data = (const unsigned char *)PyBytes_AS_STRING(word);
        secrets->sorted[filled[data[0]]++] = (Word){data, PyBytes_GET_SIZE(word)};
    }
    return secrets;
}

const Secrets *
secrets_for(PyObject *words, PyObject *names, PyObject *top)
{
    for (int i = 0; i < CACHED_RULES; i++) {
        Secrets *kept = cache[i];
        if (kept != NULL && kept->words == words && kept->names == names && kept->top == top) {
            return kept;
        }
    }
    Secrets *secrets = secrets_compile(words, names, top);
    if (secrets == NULL) {
        return NULL;
    }
    secrets_free(cache[next_slot]); /* no caller holds a rule across calls: see the header */
    cache[next_slot] = secrets;
    next_slot = (next_slot + 1) % CACHED_RULES;
    return secrets;
}

int
holds_secret_word(const Secrets *secrets, const unsigned char *lowered, Py_ssize_t size)
{
    Py_ssize_t last = size - secrets->shortest;
    for (Py_ssize_t at = 0; at <= last; at++) {
        unsigned char first = lowered[at];
        if (secrets->single[first]) {
            return 1;
        }
        if (at + 1 >= size) {
            continue;
        }
        unsigned int pair = (unsigned int)first << 8 | lowered[at + 1];
        if (!(secrets->pairs[pair >> 3] & (1u << (pair & 7)))) {
            continue; /* no word starts with these two bytes: the usual case */
        }
        for (Py_ssize_t k = secrets->bucket[first]; k < secrets->bucket[first + 1]; k++) {
            const Word *word = &secrets->sorted[k];
            if (at + word->size <= size && memcmp(lowered + at, word->data, (size_t)word->size) == 0) {
                return 1;
            }
        }
    }
    return 0;
}

/* Whether `lowered` (already normalised) is one of `names` (a tuple of bytes, or NULL). */
static int
is_one_of(PyObject *names, const unsigned char *lowered, Py_ssize_t size)
{
    if (names == NULL) {
        return 0;
    }
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(names); k++) {
        PyObject *name = PyTuple_GET_ITEM(names, k);
        if (PyBytes_GET_SIZE(name) == size && memcmp(lowered, PyBytes_AS_STRING(name), (size_t)size) == 0) {
            return 1;
        }
    }
    return 0;
}

int
name_is_secret(const Secrets *secrets, const unsigned char *name, Py_ssize_t size, int top)
{
    unsigned char lowered[MAX_KEY];
    if (size > MAX_KEY) {
        return 1;
    }
    Py_ssize_t length = 0;
    for (Py_ssize_t i = 0; i < size; i++) {
        if (!dropped(name[i])) {
            lowered[length++] = lowered_ascii(name[i]);
        }
    }
    return holds_secret_word(secrets, lowered, length) || is_one_of(secrets->names, lowered, length)
           || (top && is_one_of(secrets->top, lowered, length));
}
