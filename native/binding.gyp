{
  "targets": [
    {
      "target_name": "zero_copy",
      "sources": ["zero-copy.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    },
    {
      "target_name": "link_emulator",
      "type": "executable",
      "sources": ["tun.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
