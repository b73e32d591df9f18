/* C versions of the hottest steps of flattening a span (exporter/speedups.py has the Python
 * versions, which are the reference and are used when this module could not be compiled).
 *
 * json_scan(text, keys) -> -1 | 0 | 1
 *     -1 when the text is not strict JSON (RFC 8259, as msgspec and DuckDB read it: no NaN, no
 *     trailing commas, UTF-16 surrogate escapes in pairs, at most 1000 levels deep); else 1 when
 *     some object key may hold a secret, 0 when none can. A key may when, lowercased with '-'
 *     read as '_', it contains one of `keys` (bytes, already normalised), or when it holds an
 *     escape or a non-ASCII character (only decoding can tell then: the caller parses the text and
 *     walks it, `Redactor.redact_value`). String values are never looked at for secrets.
 *
 * text_holds_secret(text, keys) -> bool | None
 *     Redactor.may_hold_secret (the raw-text pre-scan of query strings and forms) for ASCII text;
 *     None for other text, where Python's str.lower() rules apply.
 *
 * query_json(query, keys) -> str | None
 *     The query_params column for a plain ASCII query string, as the Python path writes it (pairs
 *     split on '&' and '=', empty parts skipped, a repeated key's values in a list, in order of
 *     first appearance). None when Python must do it: escapes ('%', '+'), ';', non-ASCII text, more
 *     than 64 pairs, or a possible secret (text_holds_secret), which the redaction walk handles.
 *
 * decode_attributes(encoded, wanted, prefixes) -> dict | None
 *     Encoded OTLP `KeyValue`s (bytes) as {key: value} for the keys in `wanted` or starting with
 *     one of `prefixes`, when every value is of a common kind: a string, an array of one string
 *     (a tuple), a non-negative integer, a bool, a double, or unset (None). None when any is not
 *     (or is malformed): then otlp_wire.AttributeDecoder decodes the span in Python, with the
 *     same result for these kinds.
 *
 * read_attributes(attributes, fields, as_text, text) -> tuple
 *     For each field (a tuple of attribute keys, newer convention first) the value Python's
 *     `attributes.get(a) or attributes.get(b) or ...` gives, passed through `text` when as_text says
 *     so and the value is neither None nor a str.
 *
 * headers_json(attributes, known, request_prefix, response_prefix) -> (str | None, str | None) | None | False
 *     A span's request and response header JSON, byte for byte what orjson.dumps gives for the
 *     header dicts. Attribute keys that start with a prefix are headers; known[key] is
 *     (fragment, redacted): the encoded display name and colon, or the whole `"Name":"[REDACTED]"`
 *     pair, one bytes object per display name (so that two keys sharing a name are seen). Each
 *     value is written as a JSON string, in attribute order. False when a header key is not in
 *     `known` (the caller learns it and asks again); None when a value is not a one-element tuple
 *     or list of str, or two keys share a name: the caller takes the general path.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* -- the secret words ------------------------------------------------------------------------- */

/* The secret words of one call (bytes, normalised: lowercase, '_' for '-'), and a table of the
 * bytes they start with, so that most positions of a text are rejected by one lookup. */
typedef struct {
    PyObject *words; /* tuple of bytes */
    Py_ssize_t shortest;
    unsigned char starts[256];
} Secrets;

static int
secrets_init(Secrets *secrets, PyObject *words)
{
    if (!PyTuple_Check(words)) {
        PyErr_SetString(PyExc_TypeError, "keys must be a tuple of bytes");
        return -1;
    }
    secrets->words = words;
    secrets->shortest = PY_SSIZE_T_MAX;
    memset(secrets->starts, 0, sizeof(secrets->starts));
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(words); k++) {
        PyObject *word = PyTuple_GET_ITEM(words, k);
        if (!PyBytes_Check(word) || PyBytes_GET_SIZE(word) == 0) {
            PyErr_SetString(PyExc_TypeError, "keys must be non-empty bytes");
            return -1;
        }
        if (PyBytes_GET_SIZE(word) < secrets->shortest) {
            secrets->shortest = PyBytes_GET_SIZE(word);
        }
        secrets->starts[(unsigned char)PyBytes_AS_STRING(word)[0]] = 1;
    }
    return 0;
}

/* Whether `lowered` (already normalised) contains a secret word. */
static int
holds_secret_word(const Secrets *secrets, const unsigned char *lowered, Py_ssize_t size)
{
    if (size < secrets->shortest) {
        return 0;
    }
    Py_ssize_t count = PyTuple_GET_SIZE(secrets->words);
    for (Py_ssize_t at = 0; at + secrets->shortest <= size; at++) {
        if (!secrets->starts[lowered[at]]) {
            continue;
        }
        for (Py_ssize_t k = 0; k < count; k++) {
            PyObject *word = PyTuple_GET_ITEM(secrets->words, k);
            Py_ssize_t length = PyBytes_GET_SIZE(word);
            if (at + length <= size && memcmp(lowered + at, PyBytes_AS_STRING(word), (size_t)length) == 0) {
                return 1;
            }
        }
    }
    return 0;
}

/* Lowercase ASCII with '-' read as '_', as `Redactor` normalises names. */
static inline unsigned char
normalised(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return (unsigned char)(c + ('a' - 'A'));
    }
    return c == '-' ? '_' : c;
}

/* -- json_scan ----------------------------------------------------------------------------------- */

static int
key_holds_secret(const Secrets *secrets, const char *key, Py_ssize_t size)
{
    unsigned char lowered[256];
    if (size > (Py_ssize_t)sizeof(lowered)) {
        return 1; /* a key this long is unusual: let the walk decide */
    }
    for (Py_ssize_t i = 0; i < size; i++) {
        unsigned char c = (unsigned char)key[i];
        if (c >= 0x80 || c == '\\') {
            return 1; /* non-ASCII may lowercase to ASCII (KELVIN SIGN); an escape may spell a letter */
        }
        lowered[i] = normalised(c);
    }
    return holds_secret_word(secrets, lowered, size);
}

#define MAX_DEPTH 1000 /* deeper nesting is treated as not JSON */

/* What one scan needs besides the cursor. Each scanner function takes the cursor and returns it
 * past what it read, or NULL when the text is not JSON: the cursor stays in a register. */
typedef struct {
    const unsigned char *end;
    const Secrets *secrets;
    int depth;
    int secret; /* a key may hold a secret */
} Scanner;

static inline const unsigned char *
skip_space(const unsigned char *p, const unsigned char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
        p++;
    }
    return p;
}

static int
hex4(const unsigned char *p, const unsigned char *end, unsigned int *value)
{
    if (end - p < 4) {
        return -1;
    }
    *value = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = p[i];
        unsigned int digit = c >= '0' && c <= '9'   ? (unsigned int)(c - '0')
                             : c >= 'a' && c <= 'f' ? (unsigned int)(c - 'a' + 10)
                             : c >= 'A' && c <= 'F' ? (unsigned int)(c - 'A' + 10)
                                                    : 16u;
        if (digit == 16u) {
            return -1;
        }
        *value = *value * 16 + digit;
    }
    return 0;
}

/* Bytes that stand for themselves inside a JSON string: all but '"', '\\' and control characters. */
static unsigned char plain_string_byte[256];

static void
init_tables(void)
{
    for (int c = 0; c < 256; c++) {
        plain_string_byte[c] = c >= 0x20 && c != '"' && c != '\\';
    }
}

/* Whether any of the eight bytes is '"', '\\' or below 0x20 (the classic "has zero byte" and "has
 * byte less than" tricks: exact, with no false positive). */
static inline int
stops_string(uint64_t word)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t quote = word ^ (ones * '"'), backslash = word ^ (ones * '\\');
    uint64_t found = ((quote - ones) & ~quote) | ((backslash - ones) & ~backslash) | ((word - ones * 0x20) & ~word);
    return (found & highs) != 0;
}

/* An escape, p just past its backslash. JSON's escapes only; \u escapes of UTF-16 surrogates must
 * pair up (DuckDB refuses lone ones). */
static const unsigned char *
scan_escape(const unsigned char *p, const unsigned char *end)
{
    if (p >= end) {
        return NULL;
    }
    unsigned char c = *p++;
    if (c != 'u') {
        int simple = c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't';
        return simple ? p : NULL;
    }
    unsigned int unit, low;
    if (hex4(p, end, &unit) < 0) {
        return NULL;
    }
    p += 4;
    if (unit >= 0xDC00 && unit <= 0xDFFF) {
        return NULL; /* a low surrogate with no high one before it */
    }
    if (unit >= 0xD800 && unit <= 0xDBFF) {
        if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, end, &low) < 0 || low < 0xDC00
            || low > 0xDFFF) {
            return NULL;
        }
        p += 6;
    }
    return p;
}

/* A string, p just past its opening quote; returns the cursor past the closing quote. Control
 * characters must be escaped. */
static const unsigned char *
scan_string(Scanner *s, const unsigned char *p, int is_key)
{
    const unsigned char *start = p, *end = s->end;
    int escaped = 0;
    for (;;) {
        while (end - p >= 8) { /* eight bytes at a time while none of them ends the plain run */
            uint64_t word;
            memcpy(&word, p, 8);
            if (stops_string(word)) {
                break;
            }
            p += 8;
        }
        while (p < end && plain_string_byte[*p]) {
            p++;
        }
        if (p >= end || *p < 0x20) {
            return NULL;
        }
        if (*p == '"') {
            break;
        }
        escaped = 1;
        if ((p = scan_escape(p + 1, end)) == NULL) {
            return NULL;
        }
    }
    if (is_key && !s->secret && (escaped || key_holds_secret(s->secrets, (const char *)start, p - start))) {
        s->secret = 1;
    }
    return p + 1;
}

static inline const unsigned char *
skip_digits(const unsigned char *p, const unsigned char *end)
{
    while (p < end && *p >= '0' && *p <= '9') {
        p++;
    }
    return p;
}

static const unsigned char *
scan_number(const unsigned char *p, const unsigned char *end)
{
    if (p < end && *p == '-') {
        p++;
    }
    if (p >= end || *p < '0' || *p > '9') {
        return NULL;
    }
    p = *p == '0' ? p + 1 : skip_digits(p, end);
    if (p < end && *p == '.') {
        const unsigned char *digits = ++p;
        if ((p = skip_digits(p, end)) == digits) {
            return NULL;
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) {
            p++;
        }
        const unsigned char *digits = p;
        if ((p = skip_digits(p, end)) == digits) {
            return NULL;
        }
    }
    return p;
}

static const unsigned char *
scan_literal(const unsigned char *p, const unsigned char *end, const char *word, Py_ssize_t size)
{
    return end - p >= size && memcmp(p, word, (size_t)size) == 0 ? p + size : NULL;
}

static const unsigned char *scan_value(Scanner *s, const unsigned char *p);

/* An object or an array, p at its opening bracket. */
static const unsigned char *
scan_container(Scanner *s, const unsigned char *p, unsigned char close, int object)
{
    const unsigned char *end = s->end;
    if (++s->depth > MAX_DEPTH) {
        return NULL;
    }
    p = skip_space(p + 1, end);
    if (p < end && *p == close) {
        s->depth--;
        return p + 1;
    }
    for (;;) {
        if (object) {
            p = skip_space(p, end);
            if (p >= end || *p != '"' || (p = scan_string(s, p + 1, 1)) == NULL) {
                return NULL;
            }
            p = skip_space(p, end);
            if (p >= end || *p != ':') {
                return NULL;
            }
            p++;
        }
        if ((p = scan_value(s, p)) == NULL) {
            return NULL;
        }
        p = skip_space(p, end);
        if (p >= end) {
            return NULL;
        }
        if (*p == close) {
            s->depth--;
            return p + 1;
        }
        if (*p++ != ',') {
            return NULL;
        }
    }
}

static const unsigned char *
scan_value(Scanner *s, const unsigned char *p)
{
    const unsigned char *end = s->end;
    p = skip_space(p, end);
    if (p >= end) {
        return NULL;
    }
    switch (*p) {
    case '{': return scan_container(s, p, '}', 1);
    case '[': return scan_container(s, p, ']', 0);
    case '"': return scan_string(s, p + 1, 0);
    case 't': return scan_literal(p, end, "true", 4);
    case 'f': return scan_literal(p, end, "false", 5);
    case 'n': return scan_literal(p, end, "null", 4);
    default: return scan_number(p, end);
    }
}

static PyObject *
json_scan(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Secrets secrets;
    if (nargs != 2 || !PyUnicode_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "json_scan(text: str, keys: tuple[bytes, ...])");
        return NULL;
    }
    if (secrets_init(&secrets, args[1]) < 0) {
        return NULL;
    }
    Py_ssize_t size;
    const char *text = PyUnicode_AsUTF8AndSize(args[0], &size);
    if (text == NULL) {
        PyErr_Clear(); /* lone surrogates: no UTF-8, so no JSON to store */
        return PyLong_FromLong(-1);
    }
    Scanner s = {(const unsigned char *)text + size, &secrets, 0, 0};
    const unsigned char *p = scan_value(&s, (const unsigned char *)text);
    if (p == NULL || skip_space(p, s.end) != s.end) {
        return PyLong_FromLong(-1);
    }
    return PyLong_FromLong(s.secret);
}

/* -- text_holds_secret ------------------------------------------------------------------------- */

/* 1 when ASCII text may hold a secret as Redactor.may_hold_secret decides, 0 when not, -1 on error. */
static int
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
    for (Py_ssize_t i = 0; i < size; i++) {
        lowered[i] = normalised(data[i]);
    }
    int found = holds_secret_word(secrets, lowered, size);
    if (lowered != small) {
        PyMem_Free(lowered);
    }
    return found;
}

/* Redactor.may_hold_secret for ASCII text: an escape (JSON's \\u, or '%') or a secret word in the
 * lowercased text with '-' read as '_'. None for other text: Python's lower() decides there. */
static PyObject *
text_holds_secret(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Secrets secrets;
    if (nargs != 2 || !PyUnicode_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "text_holds_secret(text: str, keys: tuple[bytes, ...])");
        return NULL;
    }
    if (secrets_init(&secrets, args[1]) < 0) {
        return NULL;
    }
    PyObject *text = args[0];
    if (!PyUnicode_IS_ASCII(text)) {
        Py_RETURN_NONE;
    }
    int found = ascii_holds_secret(&secrets, PyUnicode_1BYTE_DATA(text), PyUnicode_GET_LENGTH(text));
    return found < 0 ? NULL : PyBool_FromLong(found);
}

/* -- headers_json ----------------------------------------------------------------------------- */

/* A growing byte buffer whose first kilobyte lives in the struct itself (on the C stack): most
 * header and query columns never touch the allocator. Initialise in place with buffer_init. */
typedef struct {
    char *data;
    Py_ssize_t size;
    Py_ssize_t capacity;
    char inline_data[1024];
} Buffer;

static void
buffer_init(Buffer *buffer)
{
    buffer->data = buffer->inline_data;
    buffer->size = 0;
    buffer->capacity = (Py_ssize_t)sizeof(buffer->inline_data);
}

static void
buffer_free(Buffer *buffer)
{
    if (buffer->data != buffer->inline_data) {
        PyMem_Free(buffer->data);
    }
}

static int
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

static int
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
static int
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
        if (plain_string_byte[c]) {
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

/* 1: added; 0: the general path must take this span; -1: error. */
static int
side_add(Side *side, PyObject *fragment, int redacted, PyObject *value)
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

static PyObject *
headers_json(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 || !PyDict_Check(args[0]) || !PyDict_Check(args[1]) || !PyBytes_Check(args[2])
        || !PyBytes_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError,
                        "headers_json(attributes: dict, known: dict, request_prefix: bytes, response_prefix: bytes)");
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
        int added = side_add(&sides[which], PyTuple_GET_ITEM(entry, 0), PyTuple_GET_ITEM(entry, 1) == Py_True, value);
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

/* -- query_json ---------------------------------------------------------------------------------- */

#define MAX_PAIRS 64

typedef struct {
    const unsigned char *key, *value;
    Py_ssize_t key_size, value_size;
    Py_ssize_t next; /* the next pair with the same key, or -1 */
    int first;       /* the first pair of its key */
} Pair;

static PyObject *
query_json(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Secrets secrets;
    if (nargs != 2 || !PyUnicode_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "query_json(query: str, keys: tuple[bytes, ...])");
        return NULL;
    }
    if (secrets_init(&secrets, args[1]) < 0) {
        return NULL;
    }
    PyObject *query = args[0];
    if (!PyUnicode_IS_ASCII(query)) {
        Py_RETURN_NONE;
    }
    const unsigned char *data = PyUnicode_1BYTE_DATA(query);
    Py_ssize_t size = PyUnicode_GET_LENGTH(query);
    /* Escapes ('%', '+') and ';' need Python's parse_qsl; a secret needs the redaction walk. */
    if (memchr(data, '+', (size_t)size) != NULL || memchr(data, ';', (size_t)size) != NULL) {
        Py_RETURN_NONE;
    }
    int secret = ascii_holds_secret(&secrets, data, size);
    if (secret != 0) {
        return secret < 0 ? NULL : Py_NewRef(Py_None);
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

static PyObject *
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

static PyObject *
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
        /* `get(a) or get(b) or ...`: the first truthy value, else the last one read. */
        PyObject *value = Py_None;
        for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(keys); k++) {
            value = PyDict_GetItemWithError(attributes, PyTuple_GET_ITEM(keys, k));
            if (value == NULL) {
                if (PyErr_Occurred()) {
                    goto error;
                }
                value = Py_None;
            }
            int truthy = PyObject_IsTrue(value);
            if (truthy < 0) {
                goto error;
            }
            if (truthy) {
                break;
            }
        }
        if (PyTuple_GET_ITEM(as_text, f) == Py_True && value != Py_None && !PyUnicode_CheckExact(value)) {
            value = PyObject_CallOneArg(text, value); /* the Python rules, for the odd value */
            if (value == NULL) {
                goto error;
            }
        }
        else {
            Py_INCREF(value);
        }
        PyTuple_SET_ITEM(values, f, value);
    }
    return values;
error:
    Py_DECREF(values);
    return NULL;
}

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
    init_tables();
    return PyModule_Create(&module);
}
