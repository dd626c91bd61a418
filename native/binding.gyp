{
  # The native LSTM kernels: one static library per instruction set, each compiled with its own flags,
  # linked into one addon that picks among them by CPU features at run time.
  "target_defaults": {
    "cflags_cc": ["-std=c++17", "-O3", "-fPIC", "-fno-exceptions", "-Wno-maybe-uninitialized"],
    "cflags_cc!": ["-fno-rtti", "-O2", "-O0"],
    "include_dirs": ["src"]
  },
  "targets": [
    {
      "target_name": "vigil_lstm_scalar",
      "type": "static_library",
      "sources": ["src/isa-scalar.cc"]
    },
    {
      "target_name": "vigil_lstm",
      "sources": ["src/addon.cc"],
      "cflags_cc": ["-fexceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "dependencies": ["vigil_lstm_scalar"],
      "conditions": [
        ["target_arch=='x64'", {"dependencies": ["vigil_lstm_avx2", "vigil_lstm_avx512"]}],
        ["target_arch=='arm64'", {"dependencies": ["vigil_lstm_neon"]}]
      ]
    }
  ],
  "conditions": [
    ["target_arch=='x64'", {
      "targets": [
        {
          "target_name": "vigil_lstm_avx2",
          "type": "static_library",
          "sources": ["src/isa-avx2.cc"],
          "cflags_cc": ["-mavx2", "-mfma"]
        },
        {
          "target_name": "vigil_lstm_avx512",
          "type": "static_library",
          "sources": ["src/isa-avx512.cc"],
          "cflags_cc": ["-mavx512f", "-mavx2", "-mfma"]
        }
      ]
    }],
    ["target_arch=='arm64'", {
      "targets": [
        {
          "target_name": "vigil_lstm_neon",
          "type": "static_library",
          "sources": ["src/isa-neon.cc"]
        }
      ]
    }]
  ]
}
