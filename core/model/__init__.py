"""What a .tflite file says: the generated schema (``schema``), the verifier (``verify``), the
zero-copy reader (``reader``) that returns the typed model (``types``), decoded options
(``options``), TFLite metadata (``metadata``), and the builder that writes models (``builder``,
``samples``)."""
