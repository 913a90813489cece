{
  "targets": [
    {
      "target_name": "pulsegate_audit",
      "sources": ["src/audit/native/verify-rows.c"],
      "cflags": ["-O2", "-std=c11", "-Wall", "-Wextra"]
    },
    {
      "target_name": "pulsegate_keys",
      "sources": ["src/keys/native/seal-many.c"],
      "cflags": ["-O2", "-std=c11", "-Wall", "-Wextra"]
    }
  ]
}
