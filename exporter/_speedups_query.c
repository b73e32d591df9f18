/* The raw-text secret pre-scan of query strings and forms, and the query_params column.
 *
 * text_holds_secret(text, keys) -> bool | None
 *     Redactor.may_hold_secret (the raw-text pre-scan of query strings, forms, text bodies and URL
 *     headers) for ASCII text; None for other text, where Python's str.lower() rules apply.
 *
 * query_json(query, words, names, top) -> str | None
 *     The query_params column for a plain ASCII query string, as the Python path writes it (pairs
 *     split on '&' and '=', empty parts skipped, a repeated key's values in a list, in order of
 *     first appearance). None when Python must do it: escapes ('%', '+'), ';', non-ASCII text, more
 *     than 64 pairs, or a key that is secret by the rule (Redactor.key_rule_utf8; every query key
 *     is a top-level name), which the redaction walk handles.
 */

#include "_speedups.h"

/* -- text_holds_secret ------------------------------------------------------------------------- */

/* 1 when ASCII text may hold a secret as Redactor.may_hold_secret decides, 0 when not, -1 on error:
 * an escape, or a secret word in the text lowercased with the separators dropped. */
int
ascii_holds_secret(const Secrets *secrets, const unsigned char *data, Py_ssize_t size)
{
    if (memchr(data, '%', (size_t)size) != NULL) {
        return 1;
    }
    for (const unsigned char *slash = data; (slash = memchr(slash, '\\', (size_t)(data + size - slash))) != NULL; slash++) {
        if (slash + 1 < data + size && slash[1] == 'u') {
            return 1;
        }
    }
    unsigned char small[512];
    unsigned char *lowered = size <= (Py_ssize_t)sizeof(small) ? small : PyMem_Malloc((size_t)size);
    if (lowered == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t length = 0;
    for (Py_ssize_t i = 0; i < size; i++) {
        if (!dropped(data[i])) {
            lowered[length++] = lowered_ascii(data[i]);
        }
    }
    int found = holds_secret_word(secrets, lowered, length);
    if (lowered != small) {
        PyMem_Free(lowered);
    }
    return found;
}

/* Redactor.may_hold_secret for ASCII text; None for other text: Python's lower() decides there. */
PyObject *
text_holds_secret(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    const Secrets *secrets = text_and_secrets(args, nargs, "text_holds_secret(text: str, keys: tuple[bytes, ...])");
    if (secrets == NULL) {
        return NULL;
    }
    PyObject *text = args[0];
    if (!PyUnicode_IS_ASCII(text)) {
        Py_RETURN_NONE;
    }
    int found = ascii_holds_secret(secrets, PyUnicode_1BYTE_DATA(text), PyUnicode_GET_LENGTH(text));
    return found < 0 ? NULL : PyBool_FromLong(found);
}

/* -- query_json ---------------------------------------------------------------------------------- */

#define MAX_PAIRS 64

typedef struct {
    const unsigned char *key, *value;
    Py_ssize_t key_size, value_size;
    Py_ssize_t next; /* the next pair with the same key, or -1 */
    int first;       /* the first pair of its key */
} Pair;

PyObject *
query_json(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    const Secrets *secrets = text_and_rule(args, nargs, "query_json(query: str, words, names, top: tuple[bytes, ...])");
    if (secrets == NULL) {
        return NULL;
    }
    PyObject *query = args[0];
    if (!PyUnicode_IS_ASCII(query)) {
        Py_RETURN_NONE;
    }
    const unsigned char *data = PyUnicode_1BYTE_DATA(query);
    Py_ssize_t size = PyUnicode_GET_LENGTH(query);
    /* Escapes ('%', '+') and ';' need Python's parse_qsl; a secret key needs the redaction walk. */
    if (memchr(data, '+', (size_t)size) != NULL || memchr(data, ';', (size_t)size) != NULL
        || memchr(data, '%', (size_t)size) != NULL) {
        Py_RETURN_NONE;
    }
    Pair pairs[MAX_PAIRS];
    Py_ssize_t count = 0;
    const unsigned char *end = data + size;
    for (const unsigned char *part = data;; part++) {
        const unsigned char *stop = memchr(part, '&', (size_t)(end - part));
        if (stop == NULL) {
            stop = end;
        }
        if (stop > part) { /* empty parts are skipped */
            if (count == MAX_PAIRS) {
                Py_RETURN_NONE;
            }
            const unsigned char *equals = memchr(part, '=', (size_t)(stop - part));
            Pair *pair = &pairs[count];
            pair->key = part;
            pair->key_size = (equals ? equals : stop) - part;
            if (name_is_secret(secrets, part, pair->key_size, 1)) {
                Py_RETURN_NONE;
            }
            pair->value = equals ? equals + 1 : stop;
            pair->value_size = stop - pair->value;
            pair->next = -1;
            pair->first = 1;
            /* A key given before: chain this value to it (a list in the JSON). */
            for (Py_ssize_t i = 0; i < count; i++) {
                if (pairs[i].first && pairs[i].key_size == pair->key_size
                    && memcmp(pairs[i].key, pair->key, (size_t)pair->key_size) == 0) {
                    Py_ssize_t last = i;
                    while (pairs[last].next >= 0) {
                        last = pairs[last].next;
                    }
                    pairs[last].next = count;
                    pair->first = 0;
                    break;
                }
            }
            count++;
        }
        if (stop == end) {
            break;
        }
        part = stop; /* the loop steps over the '&' */
    }
    Buffer buffer;
    buffer_init(&buffer);
    PyObject *result = NULL;
    if (buffer_add(&buffer, "{", 1) < 0) {
        goto done;
    }
    int written = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        if (!pairs[i].first) {
            continue;
        }
        if ((written++ && buffer_add(&buffer, ",", 1) < 0)
            || buffer_add_json_string(&buffer, (const char *)pairs[i].key, pairs[i].key_size) < 0
            || buffer_add(&buffer, ":", 1) < 0) {
            goto done;
        }
        int several = pairs[i].next >= 0;
        if (several && buffer_add(&buffer, "[", 1) < 0) {
            goto done;
        }
        for (Py_ssize_t j = i; j >= 0; j = pairs[j].next) {
            if ((j != i && buffer_add(&buffer, ",", 1) < 0)
                || buffer_add_json_string(&buffer, (const char *)pairs[j].value, pairs[j].value_size) < 0) {
                goto done;
            }
        }
        if (several && buffer_add(&buffer, "]", 1) < 0) {
            goto done;
        }
    }
    if (buffer_add(&buffer, "}", 1) == 0) {
        result = PyUnicode_DecodeASCII(buffer.data, buffer.size, "strict");
    }
done:
    buffer_free(&buffer);
    return result;
}
