"""Calling C++ functions registered with BRINE_REGISTER from Python (pool.submit_native)."""
