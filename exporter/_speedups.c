/* exporter._speedups: C versions of the hottest steps of flattening a span. exporter/speedups.py
 * holds the Python versions, which are the reference and run when this could not be compiled.
 *
 *   json_scan          _speedups_json.c        a JSON body: valid? a key that may hold a secret?
 *   text_holds_secret  _speedups_query.c       the raw-text secret pre-scan of queries and forms
 *   query_json         _speedups_query.c       the query_params column of a plain query string
 *   headers_json       _speedups_headers.c     the two header columns, from the attribute dict
 *   read_attributes    _speedups_attributes.c  a row's plain fields, from the attribute dict
 *   decode_attributes  _speedups_attributes.c  an OTLP span's encoded attributes, as a dict
 *   over_limit         _speedups_limits.c      whether a row has a column the caps cut
 *
 * _speedups_secrets.c compiles the secret rule the scans share, once per rule.
 *
 * Each file's opening comment says exactly what its functions return. */

#include "_speedups.h"

static PyMethodDef methods[] = {
    {"decode_attributes", (PyCFunction)(void (*)(void))decode_attributes, METH_FASTCALL,
     "Encoded OTLP KeyValues as a dict, or None (see the module's comment)."},
    {"query_json", (PyCFunction)(void (*)(void))query_json, METH_FASTCALL,
     "A plain query string as the row's JSON object, or None (see the module's comment)."},
    {"json_scan", (PyCFunction)(void (*)(void))json_scan, METH_FASTCALL,
     "-1: not JSON; 0: JSON whose keys hold no secret; 1: JSON with a key that may (see the module)."},
    {"read_attributes", (PyCFunction)(void (*)(void))read_attributes, METH_FASTCALL,
     "The values of a table of fields (see the module's comment)."},
    {"text_holds_secret", (PyCFunction)(void (*)(void))text_holds_secret, METH_FASTCALL,
     "Redactor.may_hold_secret for ASCII text; None for other text."},
    {"over_limit", (PyCFunction)(void (*)(void))over_limit, METH_FASTCALL,
     "Whether a row has a text or JSON column longer than its cap (see the module's comment)."},
    {"headers_json", (PyCFunction)(void (*)(void))headers_json, METH_FASTCALL,
     "A span's request and response header JSON (see the module's comment)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_speedups", "C versions of flattening's hottest steps.", 0, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModule_Create(&module);
}
