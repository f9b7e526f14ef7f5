"""Module-level functions for the tests (picklable by reference in every start method)."""

import os
import time


def square(x):
    return x * x


def add(a, b=0):
    return a + b


def getpid(*_):
    return os.getpid()


def sleep_and_return(seconds, value=None):
    time.sleep(seconds)
    return value


def raise_value_error(msg):
    raise ValueError(msg)


def write_pid_then_sleep(path, seconds):
    with open(path + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.rename(path + ".tmp", path)
    time.sleep(seconds)
    return "finished"


class Counter:
    def __init__(self, start):
        self.start = start

    def plus(self, x):
        return self.start + x


_initialized = []


def init_marker(value):
    _initialized.append(value)


def read_marker():
    return list(_initialized)


def failing_initializer():
    raise RuntimeError("initializer exploded")
