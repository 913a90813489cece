/*
 * Batch AES-256-GCM for the envelope service (src/keys/key-service.ts), in C: the same sealed
 * record format as sealed-record.ts, many records per call.
 *
 *   version (1) = 0x01 | data-key id (16) | nonce (12) | ciphertext (n) | GCM tag (16)
 *
 * The 17-byte header, then the caller's AAD, are the GCM associated data.
 *
 * Why C: per 200-byte record Node's crypto spends far more in creating a Cipheriv object and its
 * calls (about 5 us on a slow VM) than in AES-GCM itself (AES-NI: tens of ns). Here one cipher
 * context serves a whole batch: each record only sets its nonce. OpenSSL is the one Node links
 * and exports, so the algorithm is the same code Node's crypto runs; the algorithm is fetched once.
 * The JavaScript functions of sealed-record.ts stay the reference and the fallback; tests hold
 * the two to the same bytes and the same refusals.
 *
 * sealMany(key, header, nonces, plaintexts, aads) -> Buffer[]
 *   key        Uint8Array(32), header Uint8Array(17), nonces Uint8Array(12 * n) (fresh random)
 *   plaintexts Uint8Array[n], aads Uint8Array[n]
 * openMany(keys, keyOf, sealed, aads) -> Buffer[]
 *   keys       Uint8Array(32)[], keyOf Uint32Array(n): the key of each record
 *   sealed     Uint8Array[n], aads Uint8Array[n]
 *   Throws PULSEGATE_DECRYPT_FAILED (with no detail) when a record is malformed or its tag fails.
 * Other misuse throws PULSEGATE_NATIVE_ARGS.
 */
#include <node_api.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define KEY_BYTES 32
#define HEADER_BYTES 17
#define NONCE_BYTES 12
#define TAG_BYTES 16
#define PREFIX_BYTES (HEADER_BYTES + NONCE_BYTES)

static EVP_CIPHER *gcm;
static pthread_once_t gcm_once = PTHREAD_ONCE_INIT;
static void fetch_gcm(void) { gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL); }

static napi_value args_error(napi_env env, const char *message) {
  napi_throw_type_error(env, "PULSEGATE_NATIVE_ARGS", message);
  return NULL;
}

/* The bytes of a Uint8Array (or Buffer); 0 when `v` is not one. */
static int bytes_of(napi_env env, napi_value v, const uint8_t **data, size_t *length) {
  bool is = false;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return 0;
  napi_typedarray_type type;
  napi_value buffer;
  size_t offset;
  void *p;
  if (napi_get_typedarray_info(env, v, &type, length, &p, &buffer, &offset) != napi_ok) return 0;
  if (type != napi_uint8_array) return 0;
  *data = p;
  return 1;
}

static int array_of(napi_env env, napi_value v, uint32_t *length) {
  bool is = false;
  return napi_is_array(env, v, &is) == napi_ok && is && napi_get_array_length(env, v, length) == napi_ok;
}

/*
 * The elements of `array` (n of them) as handles, into a new C array (free it), or NULL. Fetching
 * an element can run JavaScript (an index getter), which could detach or shrink a buffer whose
 * bytes were already taken: so every element is fetched first, and only then are any bytes taken.
 */
static napi_value *elements(napi_env env, napi_value array, uint32_t n) {
  napi_value *out = malloc((n > 0 ? n : 1) * sizeof(napi_value));
  if (!out) return NULL;
  for (uint32_t i = 0; i < n; i++) {
    if (napi_get_element(env, array, i, &out[i]) != napi_ok) {
      free(out);
      return NULL;
    }
  }
  return out;
}

static napi_value seal_many(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 5)
    return args_error(env, "sealMany takes 5 arguments");
  uint32_t n, aadCount;
  if (!array_of(env, argv[3], &n) || !array_of(env, argv[4], &aadCount) || aadCount != n)
    return args_error(env, "sealMany: wrong arguments");
  napi_value *plains = elements(env, argv[3], n);
  napi_value *aads = plains ? elements(env, argv[4], n) : NULL;
  if (!aads) {
    free(plains);
    return args_error(env, "sealMany: cannot read the records");
  }
  /* No JavaScript runs from here on: the bytes taken stay valid. */
  const uint8_t *key, *header, *nonces;
  size_t keyLength, headerLength, noncesLength;
  const char *problem = NULL;
  napi_value out = NULL;
  EVP_CIPHER_CTX *ctx = NULL;
  if (!bytes_of(env, argv[0], &key, &keyLength) || keyLength != KEY_BYTES ||
      !bytes_of(env, argv[1], &header, &headerLength) || headerLength != HEADER_BYTES ||
      !bytes_of(env, argv[2], &nonces, &noncesLength) || noncesLength < (size_t)n * NONCE_BYTES) {
    problem = "sealMany: wrong arguments";
    goto done;
  }
  pthread_once(&gcm_once, fetch_gcm);
  if (!gcm) {
    problem = "sealMany: AES-256-GCM is not available";
    goto done;
  }
  if (napi_create_array_with_length(env, n, &out) != napi_ok) {
    problem = "sealMany: out of memory";
    goto done;
  }
  ctx = EVP_CIPHER_CTX_new();
  if (!ctx || EVP_EncryptInit_ex2(ctx, gcm, key, NULL, NULL) != 1) {
    problem = "sealMany: cannot set the key";
    goto done;
  }
  for (uint32_t i = 0; i < n; i++) {
    const uint8_t *plain, *aad;
    size_t plainLength, aadLength;
    if (!bytes_of(env, plains[i], &plain, &plainLength) || !bytes_of(env, aads[i], &aad, &aadLength) ||
        plainLength > INT32_MAX - 64 || aadLength > INT32_MAX) {
      problem = "sealMany: a plaintext or AAD is not a Uint8Array";
      break;
    }
    void *p;
    napi_value record;
    if (napi_create_buffer(env, PREFIX_BYTES + plainLength + TAG_BYTES, &p, &record) != napi_ok) {
      problem = "sealMany: out of memory";
      break;
    }
    uint8_t *o = p;
    const uint8_t *nonce = nonces + (size_t)i * NONCE_BYTES;
    memcpy(o, header, HEADER_BYTES);
    memcpy(o + HEADER_BYTES, nonce, NONCE_BYTES);
    int len = 0;
    if (EVP_EncryptInit_ex2(ctx, NULL, NULL, nonce, NULL) != 1 ||
        EVP_EncryptUpdate(ctx, NULL, &len, header, HEADER_BYTES) != 1 ||
        (aadLength > 0 && EVP_EncryptUpdate(ctx, NULL, &len, aad, (int)aadLength) != 1) ||
        (plainLength > 0 && EVP_EncryptUpdate(ctx, o + PREFIX_BYTES, &len, plain, (int)plainLength) != 1) ||
        EVP_EncryptFinal_ex(ctx, o + PREFIX_BYTES + plainLength, &len) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_BYTES, o + PREFIX_BYTES + plainLength) != 1) {
      problem = "sealMany: encryption failed";
      break;
    }
    if (napi_set_element(env, out, i, record) != napi_ok) {
      problem = "sealMany: cannot store a record";
      break;
    }
  }
done:
  EVP_CIPHER_CTX_free(ctx); /* cleanses the key schedule; NULL is fine */
  free(plains);
  free(aads);
  if (problem) return args_error(env, problem);
  return out;
}

static napi_value decrypt_failed(napi_env env) {
  napi_throw_error(env, "PULSEGATE_DECRYPT_FAILED", "a sealed record did not open");
  return NULL;
}

static napi_value open_many(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 4)
    return args_error(env, "openMany takes 4 arguments");
  uint32_t keyCount, n, aadCount;
  if (!array_of(env, argv[0], &keyCount) || !array_of(env, argv[2], &n) || !array_of(env, argv[3], &aadCount) ||
      aadCount != n)
    return args_error(env, "openMany: wrong arguments");
  napi_value *keys = elements(env, argv[0], keyCount);
  napi_value *sealeds = keys ? elements(env, argv[2], n) : NULL;
  napi_value *aads = sealeds ? elements(env, argv[3], n) : NULL;
  if (!aads) {
    free(keys);
    free(sealeds);
    return args_error(env, "openMany: cannot read the records");
  }
  /* No JavaScript runs from here on: the bytes taken stay valid. */
  const char *problem = NULL;
  int failed = 0;
  napi_value out = NULL;
  EVP_CIPHER_CTX *ctx = NULL;
  bool isTyped = false;
  napi_typedarray_type type;
  size_t keyOfLength, offset;
  void *keyOfData;
  napi_value ab;
  if (napi_is_typedarray(env, argv[1], &isTyped) != napi_ok || !isTyped ||
      napi_get_typedarray_info(env, argv[1], &type, &keyOfLength, &keyOfData, &ab, &offset) != napi_ok ||
      type != napi_uint32_array || keyOfLength < n) {
    problem = "openMany: wrong arguments";
    goto done;
  }
  const uint32_t *keyOf = keyOfData;
  for (uint32_t i = 0; i < n && !problem; i++)
    if (keyOf[i] >= keyCount) problem = "openMany: a record names no key";
  if (problem) goto done;
  pthread_once(&gcm_once, fetch_gcm);
  if (!gcm) {
    problem = "openMany: AES-256-GCM is not available";
    goto done;
  }
  if (napi_create_array_with_length(env, n, &out) != napi_ok) {
    problem = "openMany: out of memory";
    goto done;
  }
  ctx = EVP_CIPHER_CTX_new();
  if (!ctx || EVP_DecryptInit_ex2(ctx, gcm, NULL, NULL, NULL) != 1) {
    problem = "openMany: no cipher context";
    goto done;
  }
  int64_t current = -1;
  for (uint32_t i = 0; i < n; i++) {
    const uint8_t *sealed, *aad, *key;
    size_t sealedLength, aadLength, keyLength;
    if (!bytes_of(env, sealeds[i], &sealed, &sealedLength) || !bytes_of(env, aads[i], &aad, &aadLength) ||
        aadLength > INT32_MAX || sealedLength > INT32_MAX) {
      problem = "openMany: a sealed record or AAD is not a Uint8Array";
      break;
    }
    if (sealedLength < PREFIX_BYTES + TAG_BYTES || sealed[0] != 1) {
      failed = 1;
      break;
    }
    if ((int64_t)keyOf[i] != current) {
      if (!bytes_of(env, keys[keyOf[i]], &key, &keyLength) || keyLength != KEY_BYTES) {
        problem = "openMany: a key is not 32 bytes";
        break;
      }
      if (EVP_DecryptInit_ex2(ctx, NULL, key, NULL, NULL) != 1) {
        problem = "openMany: cannot set a key";
        break;
      }
      current = keyOf[i];
    }
    const size_t bodyLength = sealedLength - PREFIX_BYTES - TAG_BYTES;
    void *p;
    napi_value record;
    if (napi_create_buffer(env, bodyLength, &p, &record) != napi_ok) {
      problem = "openMany: out of memory";
      break;
    }
    int len = 0;
    uint8_t tag[TAG_BYTES];
    memcpy(tag, sealed + sealedLength - TAG_BYTES, TAG_BYTES);
    if (EVP_DecryptInit_ex2(ctx, NULL, NULL, sealed + HEADER_BYTES, NULL) != 1 ||
        EVP_DecryptUpdate(ctx, NULL, &len, sealed, HEADER_BYTES) != 1 ||
        (aadLength > 0 && EVP_DecryptUpdate(ctx, NULL, &len, aad, (int)aadLength) != 1) ||
        (bodyLength > 0 && EVP_DecryptUpdate(ctx, p, &len, sealed + PREFIX_BYTES, (int)bodyLength) != 1) ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_BYTES, tag) != 1 ||
        EVP_DecryptFinal_ex(ctx, (uint8_t *)p + bodyLength, &len) != 1) {
      /* No plaintext of a record that failed its tag is handed out. */
      OPENSSL_cleanse(p, bodyLength);
      failed = 1;
      break;
    }
    if (napi_set_element(env, out, i, record) != napi_ok) {
      problem = "openMany: cannot store a record";
      break;
    }
  }
done:
  EVP_CIPHER_CTX_free(ctx);
  free(keys);
  free(sealeds);
  free(aads);
  if (problem) return args_error(env, problem);
  if (failed) return decrypt_failed(env);
  return out;
}

NAPI_MODULE_INIT() {
  napi_value f;
  napi_create_function(env, "sealMany", NAPI_AUTO_LENGTH, seal_many, NULL, &f);
  napi_set_named_property(env, exports, "sealMany", f);
  napi_create_function(env, "openMany", NAPI_AUTO_LENGTH, open_many, NULL, &f);
  napi_set_named_property(env, exports, "openMany", f);
  return exports;
}
