"""loky's wrap_non_picklable_objects: make an object travel with cloudpickle whatever the pool's
pickler is, so code written for loky (or pathos) moves to brine by changing an import."""

import functools
import inspect
import pickle


def _reconstruct(payload, keep_wrapper):
    obj = pickle.loads(payload)
    return wrap_non_picklable_objects(obj, keep_wrapper) if keep_wrapper else obj


class CloudpickledObjectWrapper:
    """Holds an object that is cloudpickled (by value) when the wrapper is pickled."""

    def __init__(self, obj, keep_wrapper=True):
        self._obj = obj
        self._keep_wrapper = keep_wrapper

    def __reduce__(self):
        import cloudpickle

        return _reconstruct, (cloudpickle.dumps(self._obj, protocol=5), self._keep_wrapper)

    def __getattr__(self, name):
        if name in ("_obj", "_keep_wrapper"):
            raise AttributeError(name)
        return getattr(self._obj, name)

    def __repr__(self):
        return f"<brine wrapper of {self._obj!r}>"


class CallableObjectWrapper(CloudpickledObjectWrapper):
    def __call__(self, *args, **kwargs):
        return self._obj(*args, **kwargs)


def wrap_non_picklable_objects(obj, keep_wrapper=True):
    """Wraps `obj` (a function, a lambda, a class or any object) so that it is pickled with
    cloudpickle even when the pool uses ``pickle`` or ``dill``; usable as a decorator.

    With keep_wrapper=False the worker gets the object itself, not the wrapper. A wrapped class
    is wrapped as a callable: calling it builds an instance (the instances themselves are pickled
    by the pool's pickler).
    """
    if isinstance(obj, CloudpickledObjectWrapper):
        return obj
    if callable(obj) or inspect.isclass(obj):
        wrapper = CallableObjectWrapper(obj, keep_wrapper)
        if not inspect.isclass(obj):
            functools.update_wrapper(wrapper, obj, updated=())
        return wrapper
    return CloudpickledObjectWrapper(obj, keep_wrapper)
