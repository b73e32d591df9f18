/* Shared by the parts of exporter._speedups (see _speedups.c): the secret rule of a call, and a
 * byte buffer that writes JSON strings as orjson does. */

#ifndef REQLOG_SPEEDUPS_H
#define REQLOG_SPEEDUPS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* -- the secret rule (_speedups_secrets.c) ------------------------------------------------------ */

/* One word of a rule: bytes owned by a bytes object the rule holds. */
typedef struct {
    const unsigned char *data;
    Py_ssize_t size;
} Word;

/* A secret rule as `Redactor` hands it over (bytes, normalised: lowercase, with '-', '_', '.', ' '
 * and '+' dropped): words looked for inside a name, whole names, and whole names that count only
 * at the top level (names and top NULL for the raw-text scans). Compiled once per rule and kept
 * (`secrets_for`): the words sorted by their first byte, and tables of the bytes and byte pairs
 * they start with, so that most positions of a text are rejected by one or two lookups. */
typedef struct {
    PyObject *words, *names, *top; /* the tuples it was compiled from (strong references) */
    Word *sorted;                  /* the words, by first byte */
    Py_ssize_t bucket[257];        /* sorted[bucket[c]:bucket[c + 1]] start with byte c */
    Py_ssize_t shortest;
    unsigned char single[256]; /* a one-byte word is this byte */
    unsigned char pairs[8192]; /* bit (a << 8 | b): a word starts with bytes a, b */
} Secrets;

/* The compiled rule of these tuples (compared by identity: a `Redactor` hands over the same tuples
 * each call), or NULL with a TypeError when they are not tuples of non-empty bytes. Valid until
 * the next call of secrets_for: use it within one C function, without running Python code. */
const Secrets *secrets_for(PyObject *words, PyObject *names, PyObject *top);

/* Whether `lowered` (already normalised) contains a secret word. */
int holds_secret_word(const Secrets *secrets, const unsigned char *lowered, Py_ssize_t size);

/* Whether an ASCII name (a query key) is secret by the rule; `top` for a top-level name. */
int name_is_secret(const Secrets *secrets, const unsigned char *name, Py_ssize_t size, int top);

/* The arguments (text: str, keys: tuple[bytes, ...]) of the raw-text scans: their rule, or NULL
 * with a TypeError that shows `signature`. */
static inline const Secrets *
text_and_secrets(PyObject *const *args, Py_ssize_t nargs, const char *signature)
{
    if (nargs != 2 || !PyUnicode_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, signature);
        return NULL;
    }
    return secrets_for(args[1], NULL, NULL);
}

/* The arguments (text: str, words, names, top: tuple[bytes, ...]) of the key-by-key scans. */
static inline const Secrets *
text_and_rule(PyObject *const *args, Py_ssize_t nargs, const char *signature)
{
    if (nargs != 4 || !PyUnicode_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, signature);
        return NULL;
    }
    return secrets_for(args[1], args[2], args[3]);
}

/* The separators `Redactor` drops from names before comparing them (redaction.normalise). */
static inline int
dropped(unsigned char c)
{
    return c == '-' || c == '_' || c == '.' || c == ' ' || c == '+';
}

static inline unsigned char
lowered_ascii(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

#define MAX_KEY 256 /* longer keys are unusual: the walk decides */

/* Whether a JSON object key, as the text spells it, may be secret: by the rule, or because it
 * holds an escape or a non-ASCII character (only decoding can tell then). */
static inline int
key_holds_secret(const Secrets *secrets, const char *key, Py_ssize_t size, int top)
{
    for (Py_ssize_t i = 0; i < size; i++) {
        unsigned char c = (unsigned char)key[i];
        if (c >= 0x80 || c == '\\') {
            return 1; /* non-ASCII may lowercase to ASCII (KELVIN SIGN); an escape may spell a letter */
        }
    }
    return name_is_secret(secrets, (const unsigned char *)key, size, top);
}

/* 1 when ASCII text may hold a secret as Redactor.may_hold_secret decides, 0 when not, -1 on
 * error (_speedups_query.c). */
int ascii_holds_secret(const Secrets *secrets, const unsigned char *data, Py_ssize_t size);

/* Bytes that stand for themselves inside a JSON string: all but '"', '\\' and control characters. */
static inline int
plain_string_byte(unsigned char c)
{
    return c >= 0x20 && c != '"' && c != '\\';
}

/* A growing byte buffer whose first kilobyte lives in the struct itself (on the C stack): most
 * header and query columns never touch the allocator. Initialise in place with buffer_init. */
typedef struct {
    char *data;
    Py_ssize_t size;
    Py_ssize_t capacity;
    char inline_data[1024];
} Buffer;

static inline void
buffer_init(Buffer *buffer)
{
    buffer->data = buffer->inline_data;
    buffer->size = 0;
    buffer->capacity = (Py_ssize_t)sizeof(buffer->inline_data);
}

static inline void
buffer_free(Buffer *buffer)
{
    if (buffer->data != buffer->inline_data) {
        PyMem_Free(buffer->data);
    }
}

static inline int
buffer_reserve(Buffer *buffer, Py_ssize_t more)
{
    if (buffer->size + more <= buffer->capacity) {
        return 0;
    }
    Py_ssize_t capacity = buffer->capacity * 2;
    if (capacity < buffer->size + more) {
        capacity = buffer->size + more;
    }
    char *data = PyMem_Malloc((size_t)capacity);
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    memcpy(data, buffer->data, (size_t)buffer->size);
    buffer_free(buffer);
    buffer->data = data;
    buffer->capacity = capacity;
    return 0;
}

static inline int
buffer_add(Buffer *buffer, const char *bytes, Py_ssize_t size)
{
    if (buffer_reserve(buffer, size) < 0) {
        return -1;
    }
    memcpy(buffer->data + buffer->size, bytes, (size_t)size);
    buffer->size += size;
    return 0;
}

/* A JSON string as orjson writes it: `"` and `\\` escaped, control characters as \b \f \n \r \t
 * or \u00xx, everything else (DEL, '/', non-ASCII as UTF-8) as it is. */
static inline int
buffer_add_json_string(Buffer *buffer, const char *text, Py_ssize_t size)
{
    static const char hex[] = "0123456789abcdef";
    if (buffer_reserve(buffer, size + 2) < 0) {
        return -1;
    }
    char *out = buffer->data + buffer->size;
    *out++ = '"';
    for (Py_ssize_t i = 0; i < size; i++) {
        unsigned char c = (unsigned char)text[i];
        if (plain_string_byte(c)) {
            *out++ = (char)c;
            continue;
        }
        /* An escape: up to 6 bytes for this one, then the rest and the closing quote. */
        buffer->size = out - buffer->data;
        if (buffer_reserve(buffer, 6 + (size - i - 1) + 1) < 0) {
            return -1;
        }
        out = buffer->data + buffer->size;
        *out++ = '\\';
        switch (c) {
        case '"': *out++ = '"'; break;
        case '\\': *out++ = '\\'; break;
        case '\b': *out++ = 'b'; break;
        case '\f': *out++ = 'f'; break;
        case '\n': *out++ = 'n'; break;
        case '\r': *out++ = 'r'; break;
        case '\t': *out++ = 't'; break;
        default:
            *out++ = 'u';
            *out++ = '0';
            *out++ = '0';
            *out++ = hex[c >> 4];
            *out++ = hex[c & 0xf];
        }
    }
    *out++ = '"';
    buffer->size = out - buffer->data;
    return 0;
}

/* The module's functions, one file each (METH_FASTCALL). */
PyObject *json_scan(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
PyObject *text_holds_secret(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
PyObject *query_json(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
PyObject *headers_json(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
PyObject *read_attributes(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
PyObject *decode_attributes(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
PyObject *over_limit(PyObject *module, PyObject *const *args, Py_ssize_t nargs);

#endif
