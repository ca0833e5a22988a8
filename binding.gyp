{
  "targets": [
    {
      "target_name": "sha256d_shani",
      "type": "static_library",
      "sources": ["native/sha256d-shani.c"],
      "cflags": ["-O3", "-msha", "-msse4.1", "-std=c11", "-Wall", "-Wextra"],
      "cflags!": ["-O2"]
    },
    {
      "target_name": "cheesechain_mining",
      "sources": ["native/mining-addon.c"],
      "dependencies": ["sha256d_shani"],
      "cflags": ["-O2", "-std=c11", "-Wall", "-Wextra"]
    }
  ]
}
