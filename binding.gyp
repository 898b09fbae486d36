{
  "targets": [
    {
      "target_name": "ctscope",
      "sources": [
        "native/addon.cc",
        "native/tokenizer.cc",
        "native/mapped_file.cc",
        "native/netlink.cc",
        "native/dimensions.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions", "-O2", "-O3"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-O2"],
      "cflags": ["-fvisibility=hidden", "-O3", "-ffp-contract=off"],
      "cflags_cc": ["-std=c++17", "-O3", "-fvisibility=hidden", "-fvisibility-inlines-hidden", "-fexceptions", "-ffp-contract=off", "-Wall", "-Wextra"],
      "conditions": [
        ["OS!='linux'", {"sources!": ["native/addon.cc", "native/tokenizer.cc", "native/mapped_file.cc", "native/netlink.cc", "native/dimensions.cc"]}]
      ]
    }
  ]
}
