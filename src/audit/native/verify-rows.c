/*
 * The per-row checks of parallel audit verification (src/audit/verify-worker.ts), in C: for rows
 * [from, to) of a packed page it checks seq contiguity, each entry's own "seq" and its leaf hash,
 * and appends the leaves to the range's compact range (RFC 6962 / RFC 9162 §2.1.1 subtree
 * hashes: 0x00 leaf and 0x01 node prefixes), exactly as the JavaScript loop does.
 *
 * Why C: per entry the JavaScript loop spends about as much in calling crypto.hash (twice: the
 * leaf and, on average, one interior node) and in its string checks as in hashing. Node has no
 * batch digest API, so one call here covers a whole page: SHA-256 comes from the OpenSSL that
 * Node itself links and exports (SHA-NI where the CPU has it), and no JavaScript value is made
 * per row. The JavaScript loop stays the reference and the fallback; tests run both.
 *
 * checkRows(data, starts, ends, keys, fixed, from, to, badFixed, tree, io)
 *   data      Uint8Array: the page's entry bytes, each entry after one 0x00 byte
 *   starts    Int32Array: row i's bytes (with its 0x00) are data[starts[i], ends[i])
 *   ends      Int32Array
 *   keys      Float64Array: row i's stored seq
 *   fixed     Uint8Array: the stored leaf hashes, 32 bytes per row
 *   from, to  rows to check
 *   badFixed  a row whose stored leaf hash was NULL or of another length, or -1
 *   tree      Uint8Array of TREE_BYTES: the compact range so far (see the layout below)
 *   io        Float64Array(3): io[0] the seq expected at row `from`; on return io[0] is the seq
 *             of the first bad row or the next expected one, io[1] the problem (PROBLEM_*), io[2]
 *             the stored key (a gap) or the entry's own seq (a mismatch)
 */
/* SHA256_Init/Update/Final are deprecated in OpenSSL 3 in favour of EVP, but they are the direct
 * path: OpenSSL 3's one-shot SHA256() and EVP fetch the algorithm by name on every call, which
 * cost more than the hashing here (measured on a page of 271-byte entries: 750 against 300 ns per row). */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <node_api.h>
#include <openssl/sha.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* SHA-256 with the OpenSSL that Node links and exports (SHA-NI where the CPU has it). */
static inline void sha256(const uint8_t *d, size_t n, uint8_t *md) {
  SHA256_CTX c;
  SHA256_Init(&c);
  SHA256_Update(&c, d, n);
  SHA256_Final(md, &c);
}

enum { PROBLEM_NONE = 0, PROBLEM_SEQ_GAP = 1, PROBLEM_MALFORMED = 2, PROBLEM_SEQ_MISMATCH = 3, PROBLEM_LEAF = 4 };

/*
 * Tree layout: int32 depth at 0; int32 levels[MAX_DEPTH] at LEVELS; 32-byte hashes[MAX_DEPTH] at
 * HASHES; then one 65-byte node buffer (0x01 || left || right) per level at NODES. A range of at
 * most 2^53 leaves has at most 2 * 53 subtrees in its compact range.
 */
#define MAX_DEPTH 128
#define MAX_LEVEL 64
#define LEVELS 8
#define HASHES (LEVELS + 4 * MAX_DEPTH)
#define NODES (HASHES + 32 * MAX_DEPTH)
#define TREE_BYTES (NODES + 65 * MAX_LEVEL)

static const char SEQ_KEY[] = ",\"seq\":";
#define SEQ_KEY_LEN 7

typedef struct {
  void *data;
  size_t length; /* elements */
  napi_typedarray_type type;
} view;

static int typed(napi_env env, napi_value v, napi_typedarray_type want, view *out) {
  bool is = false;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return 0;
  napi_value buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, v, &out->type, &out->length, &out->data, &buffer, &offset) != napi_ok)
    return 0;
  return out->type == want || (want == napi_uint8_array && out->type == napi_uint8_clamped_array);
}

static int number(napi_env env, napi_value v, double *out) {
  return napi_get_value_double(env, v, out) == napi_ok;
}

/* The first SEQ_KEY wholly inside [p, end), or NULL. */
static const uint8_t *find_seq_key(const uint8_t *p, const uint8_t *end) {
  while (end - p >= SEQ_KEY_LEN) {
    const uint8_t *c = memchr(p, ',', (size_t)(end - p - SEQ_KEY_LEN + 1));
    if (!c) return NULL;
    if (memcmp(c, SEQ_KEY, SEQ_KEY_LEN) == 0) return c;
    p = c + 1;
  }
  return NULL;
}

static napi_value fail(napi_env env, const char *message) {
  napi_throw_type_error(env, "PULSEGATE_NATIVE_ARGS", message);
  return NULL;
}

static napi_value check_rows(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 10)
    return fail(env, "checkRows takes 10 arguments");
  view data, starts, ends, keys, fixed, tree, io;
  double fromD, toD, badD;
  if (!typed(env, argv[0], napi_uint8_array, &data) || !typed(env, argv[1], napi_int32_array, &starts) ||
      !typed(env, argv[2], napi_int32_array, &ends) || !typed(env, argv[3], napi_float64_array, &keys) ||
      !typed(env, argv[4], napi_uint8_array, &fixed) || !number(env, argv[5], &fromD) ||
      !number(env, argv[6], &toD) || !number(env, argv[7], &badD) ||
      !typed(env, argv[8], napi_uint8_array, &tree) || !typed(env, argv[9], napi_float64_array, &io))
    return fail(env, "checkRows: wrong argument types");
  /* The tree's int32 fields are read in place: newTree's buffer is aligned; refuse any other. */
  if (tree.length < TREE_BYTES || io.length < 3 || ((uintptr_t)tree.data & 3) != 0)
    return fail(env, "checkRows: tree or io too small, or the tree is not aligned");
  /* Bounds before any conversion to an integer (a NaN or huge double has none). */
  if (!(fromD >= 0 && toD >= fromD && toD <= (double)starts.length && toD <= (double)ends.length &&
        toD <= (double)keys.length && toD * 32 <= (double)fixed.length && badD >= -1 &&
        badD <= (double)keys.length) ||
      fromD != (double)(int64_t)fromD || toD != (double)(int64_t)toD || badD != (double)(int64_t)badD)
    return fail(env, "checkRows: rows out of range");
  const int64_t from = (int64_t)fromD, to = (int64_t)toD, badFixed = (int64_t)badD;
  const uint8_t *bytes = data.data;
  const int32_t *st = starts.data, *en = ends.data;
  const double *key = keys.data;
  const uint8_t *stored = fixed.data;
  uint8_t *t = tree.data;
  double *out = io.data;
  int32_t depth;
  memcpy(&depth, t, 4);
  if (depth < 0 || depth > MAX_DEPTH) return fail(env, "checkRows: bad tree state");
  int32_t *levels = (int32_t *)(t + LEVELS);
  uint8_t *hashes = t + HASHES;
  uint8_t *nodes = t + NODES;

  double seq = out[0];
  /* Seqs are integers below 2^53 (exact as doubles; at most 53 levels of node buffers). */
  if (!(seq >= 0 && seq + (double)(to - from) <= 9007199254740992.0) || seq != (double)(int64_t)seq)
    return fail(env, "checkRows: the expected seq is not an integer in [0, 2^53)");
  int problem = PROBLEM_NONE;
  double found = 0;
  for (int64_t r = from; r < to; r++, seq++) {
    if (key[r] != seq) {
      problem = PROBLEM_SEQ_GAP;
      found = key[r];
      break;
    }
    const int32_t s = st[r], e = en[r];
    if (s < 0 || e < s || (size_t)e > data.length) {
      memcpy(t, &depth, 4);
      return fail(env, "checkRows: a row lies outside the page");
    }
    /* The entry's own seq: the digits after its first ,"seq": (a raw one cannot occur in a JSON string). */
    const uint8_t *end = bytes + e;
    const uint8_t *k = find_seq_key(bytes + s, end);
    double own = 0;
    int digits = 0;
    if (k) {
      for (const uint8_t *p = k + SEQ_KEY_LEN; p < end && *p >= '0' && *p <= '9'; p++, digits++)
        own = own * 10 + (*p - '0');
    }
    if (digits == 0) {
      problem = PROBLEM_MALFORMED;
      break;
    }
    if (own != seq) {
      problem = PROBLEM_SEQ_MISMATCH;
      found = own;
      break;
    }
    /* SHA-256(0x00 || entry): the page holds the 0x00 right before the entry. */
    uint8_t h[32];
    sha256(bytes + s, (size_t)(e - s), h);
    if (r == badFixed || memcmp(h, stored + 32 * r, 32) != 0) {
      problem = PROBLEM_LEAF;
      break;
    }
    /* Merge with the left neighbour while it is this node's sibling (bit `level` of seq is 1). */
    const uint64_t u = (uint64_t)seq;
    const int ones = __builtin_ctzll(~u);
    int level = 0;
    while (level < ones && depth > 0 && levels[depth - 1] == level) {
      depth--;
      uint8_t *node = nodes + 65 * level;
      memcpy(node + 33, h, 32);
      sha256(node, 65, h);
      level++;
    }
    /* A left child (bit `level` of seq is 0) waits in its level's node buffer for its sibling. */
    if (level == ones) memcpy(nodes + 65 * level + 1, h, 32);
    if (depth == MAX_DEPTH) {
      memcpy(t, &depth, 4);
      return fail(env, "checkRows: compact range too deep");
    }
    levels[depth] = level;
    memcpy(hashes + 32 * depth, h, 32);
    depth++;
  }
  memcpy(t, &depth, 4);
  out[0] = seq;
  out[1] = problem;
  out[2] = found;
  return NULL;
}

/* A zeroed tree state with every node buffer's 0x01 prefix set. */
static napi_value new_tree(napi_env env, napi_callback_info info) {
  (void)info;
  void *data;
  napi_value buffer;
  if (napi_create_buffer(env, TREE_BYTES, &data, &buffer) != napi_ok) return NULL;
  memset(data, 0, TREE_BYTES);
  for (int i = 0; i < MAX_LEVEL; i++) ((uint8_t *)data)[NODES + 65 * i] = 1;
  return buffer;
}

static napi_value constant(napi_env env, int32_t v) {
  napi_value out;
  napi_create_int32(env, v, &out);
  return out;
}

NAPI_MODULE_INIT() {
  napi_value f;
  napi_create_function(env, "checkRows", NAPI_AUTO_LENGTH, check_rows, NULL, &f);
  napi_set_named_property(env, exports, "checkRows", f);
  napi_create_function(env, "newTree", NAPI_AUTO_LENGTH, new_tree, NULL, &f);
  napi_set_named_property(env, exports, "newTree", f);
  napi_set_named_property(env, exports, "LEVELS", constant(env, LEVELS));
  napi_set_named_property(env, exports, "HASHES", constant(env, HASHES));
  napi_set_named_property(env, exports, "MAX_DEPTH", constant(env, MAX_DEPTH));
  return exports;
}
