{
  "targets": [
    {
      "target_name": "pulsegate_audit",
      "sources": ["src/audit/native/verify-rows.c"],
      "cflags": ["-O2", "-std=c11", "-Wall", "-Wextra"]
    }
  ]
}
