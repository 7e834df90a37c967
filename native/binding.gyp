{
  "targets": [
    {
      "target_name": "zero_copy",
      "sources": ["zero-copy.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
