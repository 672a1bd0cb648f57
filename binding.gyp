{
  "targets": [
    {
      "target_name": "lkl",
      "sources": ["binding/lkl_binding.cc", "binding/syslets.cc"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "include_dirs": ["out/lkl/include"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "libraries": [
        "<(module_root_dir)/out/lkl/liblkl.a",
        "-luring",
        "-lpthread",
        "-Wl,--exclude-libs,ALL"
      ]
    }
  ]
}
