"""Live inference and benchmarking, in a worker process so a crashing kernel ends only the worker.

``config`` says what to run (``RunConfig``), ``session`` runs one job in a worker and folds its
messages (``WorkerSession``), ``worker`` is the child process (protocol, backends, probes, one
module per job), ``inputs`` makes input tensors, ``stats`` summarises latencies, ``export`` writes
results. Nothing here imports Qt.
"""
