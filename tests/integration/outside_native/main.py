import sys

import numpy as np

import brine

brine.load_native(sys.argv[1])  # the library brine_add_native built, before the pool starts
with brine.Pool(2) as pool:
    data = brine.shared_array(1_000_000, np.float64)  # in the shared arena: tasks read it in place
    data[:] = 4.0
    assert pool.submit_native("total", data).result() == 4_000_000.0
    r = pool.submit_native("roots", data).result()  # a numpy view of the worker's shared result
    assert r.shape == (1_000_000,) and r[0] == 2.0
    print("native tasks ran:", pool.submit_native("total", np.arange(5.0)).result())  # a copy: 10.0
