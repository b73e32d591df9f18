/* headers_json: a span's header columns, straight from its attribute dict.
 *
 * headers_json(attributes, known, request_prefix, response_prefix, keys) -> (str | None, str | None) | None | False
 *     A span's request and response header JSON, byte for byte what orjson.dumps gives for the
 *     header dicts. Attribute keys that start with a prefix are headers; known[key] is
 *     (fragment, redacted): the encoded display name and colon, or the whole `"Name":"[REDACTED]"`
 *     pair, one bytes object per display name (so that two keys sharing a name are seen);
 *     `redacted` is None for a URL-valued header, whose value must pass the raw-text pre-scan
 *     (text_holds_secret with `keys`) to be written here. Each value is written as a JSON string,
 *     in attribute order. False when a header key is not in `known` (the caller learns it and asks
 *     again); None when a value is not a one-element tuple or list of str, two keys share a name,
 *     or a URL header's value may hold a secret (or is not ASCII): the caller takes the general path.
 */

#include "_speedups.h"

/* The one string a header value holds, or NULL (no exception set) when it is anything else. */
static PyObject *
single_string(PyObject *value)
{
    PyObject *item = NULL;
    if (PyTuple_CheckExact(value) && PyTuple_GET_SIZE(value) == 1) {
        item = PyTuple_GET_ITEM(value, 0);
    }
    else if (PyList_CheckExact(value) && PyList_GET_SIZE(value) == 1) {
        item = PyList_GET_ITEM(value, 0);
    }
    return item != NULL && PyUnicode_Check(item) ? item : NULL;
}

#define MAX_HEADERS 128 /* per side; more goes the general way */

typedef struct {
    Buffer buffer;
    PyObject *fragments[MAX_HEADERS]; /* borrowed: to find two keys that share a display name */
    Py_ssize_t count;
} Side;

/* 1 when `key` starts with the (ASCII) prefix, 0 when not, -1 when it is not UTF-8 (surrogates). */
static int
starts_with(PyObject *key, PyObject *prefix)
{
    Py_ssize_t size = PyBytes_GET_SIZE(prefix), length;
    const char *data;
    if (PyUnicode_IS_ASCII(key)) {
        data = (const char *)PyUnicode_1BYTE_DATA(key);
        length = PyUnicode_GET_LENGTH(key);
    }
    else if ((data = PyUnicode_AsUTF8AndSize(key, &length)) == NULL) {
        PyErr_Clear();
        return -1;
    }
    return length >= size && memcmp(data, PyBytes_AS_STRING(prefix), (size_t)size) == 0;
}

/* 1: added; 0: the general path must take this span; -1: error. `scan` (a URL header): the
 * value is written only when it is ASCII and cannot hold a secret by `secrets`. */
static int
side_add(Side *side, PyObject *fragment, int redacted, const Secrets *scan, PyObject *value)
{
    if (side->count == MAX_HEADERS) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < side->count; i++) {
        if (side->fragments[i] == fragment) {
            return 0; /* two keys, one name: a dict decides which value stays */
        }
    }
    side->fragments[side->count++] = fragment;
    const char *text = NULL;
    Py_ssize_t size = 0;
    if (!redacted) {
        PyObject *string = single_string(value);
        if (string == NULL) {
            return 0;
        }
        if (scan != NULL) {
            if (!PyUnicode_IS_ASCII(string)) {
                return 0;
            }
            int found = ascii_holds_secret(scan, PyUnicode_1BYTE_DATA(string), PyUnicode_GET_LENGTH(string));
            if (found != 0) {
                return found < 0 ? -1 : 0; /* a possible secret: Python scrubs the URL */
            }
        }
        text = PyUnicode_AsUTF8AndSize(string, &size);
        if (text == NULL) {
            PyErr_Clear(); /* lone surrogates: the general path reports it */
            return 0;
        }
    }
    Buffer *buffer = &side->buffer;
    if (buffer_add(buffer, buffer->size == 0 ? "{" : ",", 1) < 0
        || buffer_add(buffer, PyBytes_AS_STRING(fragment), PyBytes_GET_SIZE(fragment)) < 0
        || (!redacted && buffer_add_json_string(buffer, text, size) < 0)) {
        return -1;
    }
    return 1;
}

static PyObject *
side_json(Side *side)
{
    if (side->count == 0) {
        Py_RETURN_NONE;
    }
    if (buffer_add(&side->buffer, "}", 1) < 0) {
        return NULL;
    }
    return PyUnicode_DecodeUTF8(side->buffer.data, side->buffer.size, "strict");
}

PyObject *
headers_json(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5 || !PyDict_Check(args[0]) || !PyDict_Check(args[1]) || !PyBytes_Check(args[2])
        || !PyBytes_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "headers_json(attributes: dict, known: dict, request_prefix: bytes, "
                                         "response_prefix: bytes, keys: tuple[bytes, ...])");
        return NULL;
    }
    const Secrets *secrets = secrets_for(args[4], NULL, NULL);
    if (secrets == NULL) {
        return NULL;
    }
    PyObject *attributes = args[0], *known = args[1], *prefixes[2] = {args[2], args[3]};
    Side sides[2];
    for (int i = 0; i < 2; i++) {
        buffer_init(&sides[i].buffer);
        sides[i].count = 0;
    }
    PyObject *result = NULL;
    Py_ssize_t position = 0;
    PyObject *key, *value;
    while (PyDict_Next(attributes, &position, &key, &value)) {
        if (!PyUnicode_CheckExact(key)) {
            result = Py_NewRef(Py_None); /* a str subclass (or worse) as a key: the general path */
            goto done;
        }
        int request = starts_with(key, prefixes[0]);
        int response = request == 0 ? starts_with(key, prefixes[1]) : 0;
        if (request < 0 || response < 0) {
            result = Py_NewRef(Py_None);
            goto done;
        }
        if (!request && !response) {
            continue;
        }
        int which = request ? 0 : 1;
        PyObject *entry = PyDict_GetItemWithError(known, key); /* (fragment, redacted) */
        if (entry == NULL) {
            if (!PyErr_Occurred()) {
                result = Py_NewRef(Py_False); /* a header key not seen before: Python learns it */
            }
            goto done;
        }
        if (!PyTuple_CheckExact(entry) || PyTuple_GET_SIZE(entry) != 2 || !PyBytes_Check(PyTuple_GET_ITEM(entry, 0))) {
            PyErr_SetString(PyExc_TypeError, "known[key] must be (fragment: bytes, redacted: bool)");
            goto done;
        }
        PyObject *flag = PyTuple_GET_ITEM(entry, 1);
        int added = side_add(&sides[which], PyTuple_GET_ITEM(entry, 0), flag == Py_True,
                             flag == Py_None ? secrets : NULL, value);
        if (added <= 0) {
            if (added == 0) {
                result = Py_NewRef(Py_None);
            }
            goto done;
        }
    }
    PyObject *request = side_json(&sides[0]);
    PyObject *response = request == NULL ? NULL : side_json(&sides[1]);
    if (response != NULL) {
        result = PyTuple_Pack(2, request, response);
    }
    Py_XDECREF(request);
    Py_XDECREF(response);
done:
    buffer_free(&sides[0].buffer);
    buffer_free(&sides[1].buffer);
    return result;
}
