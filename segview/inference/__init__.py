"""Models: cards, the registry, and onnxruntime sessions with pre/postprocessing."""
