"""joblib integration: ``with joblib.parallel_backend("brine"): Parallel(n_jobs=2)(...)``."""
