/* The caps' length check (limits.py): one pass over a row in place of a Python loop per column.
 *
 * over_limit(values, text_indexes, text_limit, json_indexes, json_limit) -> bool
 *     Whether a str at one of `text_indexes` of the tuple `values` is longer than `text_limit`
 *     characters, or one at `json_indexes` longer than `json_limit`: then `limits.cap_values`
 *     cuts it. Values of other types (str subclasses too) are never cut, as in Python.
 */

#include "_speedups.h"

/* 1 when a str at one of `indexes` is longer than `limit`, 0 when none is, -1 on a bad index. */
static int
any_longer(PyObject *values, PyObject *indexes, Py_ssize_t limit)
{
    Py_ssize_t count = PyTuple_GET_SIZE(values);
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(indexes); k++) {
        Py_ssize_t index = PyLong_AsSsize_t(PyTuple_GET_ITEM(indexes, k));
        if (index < 0 || index >= count) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_IndexError, "over_limit: an index past the row");
            }
            return -1;
        }
        PyObject *value = PyTuple_GET_ITEM(values, index);
        if (PyUnicode_CheckExact(value) && PyUnicode_GET_LENGTH(value) > limit) {
            return 1;
        }
    }
    return 0;
}

PyObject *
over_limit(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5 || !PyTuple_Check(args[0]) || !PyTuple_Check(args[1]) || !PyTuple_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "over_limit(values: tuple, text_indexes: tuple[int], text_limit: int, "
                                         "json_indexes: tuple[int], json_limit: int)");
        return NULL;
    }
    Py_ssize_t text_limit = PyLong_AsSsize_t(args[2]), json_limit = PyLong_AsSsize_t(args[4]);
    if ((text_limit == -1 || json_limit == -1) && PyErr_Occurred()) {
        return NULL;
    }
    int found = any_longer(args[0], args[1], text_limit);
    if (found == 0) {
        found = any_longer(args[0], args[3], json_limit);
    }
    return found < 0 ? NULL : PyBool_FromLong(found);
}
