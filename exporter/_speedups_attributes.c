/* Reading attributes: a row's fields from the attribute dict, and OTLP's encoded attributes.
 *
 * read_attributes(attributes, fields, as_text, text) -> tuple
 *     For each field (a tuple of attribute keys, newer convention first) the value Python's
 *     `attributes.get(a) or attributes.get(b) or ...` gives, passed through `text` when as_text says
 *     so and the value is neither None nor a str (an int is made text here, as `text` makes it).
 *
 * decode_attributes(encoded, wanted, prefixes) -> dict | None
 *     Encoded OTLP `KeyValue`s (bytes) as {key: value} for the keys in `wanted` or starting with
 *     one of `prefixes`, when every value is of a common kind: a string, an array of one string
 *     (a tuple), a non-negative integer, a bool, a double, or unset (None). None when any is not
 *     (or is malformed): then otlp_wire.AttributeDecoder decodes the span in Python, with the
 *     same result for these kinds.
 */

#include "_speedups.h"

/* -- decode_attributes ------------------------------------------------------------------------- */

/* A varint at *p (at most 9 bytes: below 2**63); -1 when it is malformed, longer, or runs past end. */
static int64_t
read_varint(const unsigned char **p, const unsigned char *end)
{
    uint64_t value = 0;
    for (int shift = 0; shift < 63 && *p < end; shift += 7) {
        unsigned char byte = *(*p)++;
        value |= (uint64_t)(byte & 0x7F) << shift;
        if (byte < 0x80) {
            return (int64_t)value;
        }
    }
    return -1;
}

/* An encoded AnyValue of the common kinds as a new reference; NULL with no exception set when it
 * is of another kind (or malformed): the caller then takes the Python decoder. */
static PyObject *
any_value(const unsigned char *p, const unsigned char *end)
{
    if (p == end) {
        Py_RETURN_NONE; /* an AnyValue with no value set */
    }
    unsigned char tag = *p++;
    if (tag == 0x0A) { /* string_value */
        int64_t length = read_varint(&p, end);
        if (length < 0 || length != end - p) {
            return NULL;
        }
        PyObject *text = PyUnicode_DecodeUTF8((const char *)p, (Py_ssize_t)length, "strict");
        if (text == NULL) {
            PyErr_Clear(); /* not UTF-8: protobuf's own parser says why */
        }
        return text;
    }
    if (tag == 0x2A) { /* array_value holding one string (a header's value) */
        int64_t length = read_varint(&p, end);
        if (length <= 0 || length != end - p || *p++ != 0x0A) {
            return NULL;
        }
        int64_t item = read_varint(&p, end);
        if (item <= 0 || item != end - p || *p++ != 0x0A) {
            return NULL;
        }
        PyObject *text = any_value(p - 1, end); /* the item is itself an AnyValue: a string_value */
        if (text == NULL || !PyUnicode_Check(text)) {
            Py_XDECREF(text);
            return NULL;
        }
        PyObject *tuple = PyTuple_Pack(1, text);
        Py_DECREF(text);
        return tuple;
    }
    if (tag == 0x18) { /* int_value, when not negative */
        int64_t value = read_varint(&p, end);
        return value < 0 || p != end ? NULL : PyLong_FromLongLong(value);
    }
    if (tag == 0x10 && end - p == 1 && *p < 2) { /* bool_value */
        return PyBool_FromLong(*p);
    }
    if (tag == 0x21 && end - p == 8) { /* double_value, little-endian */
        uint64_t bits = 0;
        for (int i = 7; i >= 0; i--) {
            bits = bits << 8 | p[i];
        }
        double value;
        memcpy(&value, &bits, sizeof(value));
        return PyFloat_FromDouble(value);
    }
    return NULL;
}

PyObject *
decode_attributes(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyAnySet_Check(args[1]) || !PyTuple_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "decode_attributes(encoded, wanted: frozenset[str], prefixes: tuple[bytes])");
        return NULL;
    }
    PyObject *wanted = args[1], *prefixes = args[2];
    PyObject *items = PySequence_Fast(args[0], "encoded must be a sequence of bytes");
    if (items == NULL) {
        return NULL;
    }
    PyObject *attributes = PyDict_New();
    if (attributes == NULL) {
        Py_DECREF(items);
        return NULL;
    }
    Py_ssize_t count = PySequence_Fast_GET_SIZE(items);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *raw = PySequence_Fast_GET_ITEM(items, i);
        if (!PyBytes_Check(raw)) {
            goto fallback;
        }
        const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(raw);
        const unsigned char *end = p + PyBytes_GET_SIZE(raw);
        /* KeyValue: the key (field 1), then the value (field 2) to the end, or nothing. */
        if (end - p < 2 || *p++ != 0x0A) {
            goto fallback;
        }
        int64_t key_length = read_varint(&p, end);
        if (key_length < 0 || key_length > end - p) {
            goto fallback;
        }
        const unsigned char *key_bytes = p, *value = p + key_length;
        if (value != end && (*value != 0x12)) {
            goto fallback;
        }
        int keep = 0;
        for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(prefixes) && !keep; k++) {
            PyObject *prefix = PyTuple_GET_ITEM(prefixes, k);
            keep = PyBytes_Check(prefix) && key_length >= PyBytes_GET_SIZE(prefix)
                   && memcmp(key_bytes, PyBytes_AS_STRING(prefix), (size_t)PyBytes_GET_SIZE(prefix)) == 0;
        }
        PyObject *key = PyUnicode_DecodeUTF8((const char *)key_bytes, (Py_ssize_t)key_length, "strict");
        if (key == NULL) {
            PyErr_Clear();
            goto fallback;
        }
        if (!keep) {
            keep = PySet_Contains(wanted, key);
            if (keep <= 0) {
                Py_DECREF(key);
                if (keep < 0) {
                    goto error;
                }
                continue; /* an attribute no row reads: its value stays unread */
            }
        }
        PyObject *decoded;
        if (value == end) {
            decoded = Py_NewRef(Py_None);
        }
        else {
            p = value + 1;
            int64_t length = read_varint(&p, end);
            decoded = length >= 0 && length == end - p ? any_value(p, end) : NULL;
        }
        if (decoded == NULL) {
            Py_DECREF(key);
            if (PyErr_Occurred()) {
                goto error;
            }
            goto fallback;
        }
        int failed = PyDict_SetItem(attributes, key, decoded);
        Py_DECREF(key);
        Py_DECREF(decoded);
        if (failed < 0) {
            goto error;
        }
    }
    Py_DECREF(items);
    return attributes;
fallback:
    Py_DECREF(items);
    Py_DECREF(attributes);
    Py_RETURN_NONE;
error:
    Py_DECREF(items);
    Py_DECREF(attributes);
    return NULL;
}

/* -- read_attributes --------------------------------------------------------------------------- */

PyObject *
read_attributes(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 || !PyDict_CheckExact(args[0]) || !PyTuple_Check(args[1]) || !PyTuple_Check(args[2])
        || !PyCallable_Check(args[3]) || PyTuple_GET_SIZE(args[1]) != PyTuple_GET_SIZE(args[2])) {
        PyErr_SetString(PyExc_TypeError,
                        "read_attributes(attributes: dict, fields: tuple[tuple[str, ...]], as_text: tuple[bool], text)");
        return NULL;
    }
    PyObject *attributes = args[0], *fields = args[1], *as_text = args[2], *text = args[3];
    Py_ssize_t count = PyTuple_GET_SIZE(fields);
    PyObject *values = PyTuple_New(count);
    if (values == NULL) {
        return NULL;
    }
    for (Py_ssize_t f = 0; f < count; f++) {
        PyObject *keys = PyTuple_GET_ITEM(fields, f);
        if (!PyTuple_Check(keys)) {
            PyErr_SetString(PyExc_TypeError, "each field must be a tuple of keys");
            goto error;
        }
        /* `get(a) or get(b) or ...`: the first truthy value, else the last one read. Each value is
         * held (a new reference) while Python code may run: its truth test, `text`. */
        PyObject *value = Py_NewRef(Py_None);
        for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(keys); k++) {
            PyObject *found = PyDict_GetItemWithError(attributes, PyTuple_GET_ITEM(keys, k));
            if (found == NULL && PyErr_Occurred()) {
                Py_DECREF(value);
                goto error;
            }
            Py_SETREF(value, Py_NewRef(found == NULL ? Py_None : found));
            int truthy = PyObject_IsTrue(value);
            if (truthy < 0) {
                Py_DECREF(value);
                goto error;
            }
            if (truthy) {
                break;
            }
        }
        if (PyTuple_GET_ITEM(as_text, f) == Py_True && value != Py_None && !PyUnicode_CheckExact(value)) {
            /* An int (a user id) is str(value), as `text` makes it; any other value takes its rules. */
            Py_SETREF(value, PyLong_CheckExact(value) ? PyObject_Str(value) : PyObject_CallOneArg(text, value));
            if (value == NULL) {
                goto error;
            }
        }
        PyTuple_SET_ITEM(values, f, value);
    }
    return values;
error:
    Py_DECREF(values);
    return NULL;
}
