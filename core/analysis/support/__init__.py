"""Op support per delegate (XNNPACK, GPU, NNAPI, Edge TPU, Hexagon, Core ML): one rules module per
delegate over its facts table in resources/ops/delegates/, shared partitioning and compute."""
