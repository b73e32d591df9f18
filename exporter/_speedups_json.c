/* json_scan: strict JSON validation and the secret-key scan of a body, in one pass.
 *
 * json_scan(text, words, names, top) -> -1 | 0 | 1
 *     -1 when the text is not strict JSON (RFC 8259, as msgspec and DuckDB read it: no NaN, no
 *     trailing commas, UTF-16 surrogate escapes in pairs, at most 1000 levels deep); else 1 when
 *     some object key may hold a secret, 0 when none can. A key may when, lowercased with '-', '_',
 *     '.', ' ' and '+' dropped, it contains one of `words`, is one of `names`, or (a key of the root
 *     object) one of `top` (bytes, already normalised: Redactor.key_rule_utf8), or when it holds an
 *     escape or a non-ASCII character (only decoding can tell then: the caller parses the text and
 *     walks it, `Redactor.redact_value`). String values are never looked at for secrets.
 */

#include "_speedups.h"

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
        while (p < end && plain_string_byte(*p)) {
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
    if (is_key && !s->secret && (escaped || key_holds_secret(s->secrets, (const char *)start, p - start, s->depth == 1))) {
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

PyObject *
json_scan(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    const Secrets *secrets = text_and_rule(args, nargs, "json_scan(text: str, words, names, top: tuple[bytes, ...])");
    if (secrets == NULL) {
        return NULL;
    }
    Py_ssize_t size;
    const char *text = PyUnicode_AsUTF8AndSize(args[0], &size);
    if (text == NULL) {
        PyErr_Clear(); /* lone surrogates: no UTF-8, so no JSON to store */
        return PyLong_FromLong(-1);
    }
    Scanner s = {(const unsigned char *)text + size, secrets, 0, 0};
    const unsigned char *p = scan_value(&s, (const unsigned char *)text);
    if (p == NULL || skip_space(p, s.end) != s.end) {
        return PyLong_FromLong(-1);
    }
    return PyLong_FromLong(s.secret);
}
