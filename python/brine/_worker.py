"""Entry point of a worker started with the spawn start method.

brine's C++ pool execs ``/usr/bin/python3 -c "...; import brine._worker"`` (PoolOptions::
worker_command) with the pool's shared segment inherited; importing this module turns the fresh
interpreter into a worker (brine::run_if_worker), which serves tasks and never returns.
"""

from . import _brine

_brine.run_worker()
