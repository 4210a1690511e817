"""Batches prepared in a background thread while onnxruntime computes (it releases the GIL).

`Prefetcher` is a context manager: however the loop using it ends (its end, a ``break`` for
``stop_training``, a ``KeyboardInterrupt`` or an exception in a callback), leaving the ``with``
block stops the thread and waits for it, so no loader thread outlives ``fit``. An exception raised
by the iterator itself (a user's generator) is raised in the consuming thread.
"""
from __future__ import annotations

import queue
import threading

_DONE = object()


class _Failure:
    def __init__(self, err: BaseException):
        self.err = err


class Prefetcher:
    def __init__(self, iterator, depth: int = 2, join_timeout: float = 10.0):
        self._iterator = iterator
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._join_timeout = join_timeout
        self._thread = threading.Thread(target=self._work, name="irgraph-batch-loader", daemon=True)
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _work(self) -> None:
        try:
            for item in self._iterator:
                if not self._put(item):
                    return
        except BaseException as err:  # handed to the consumer, raised there
            self._put(_Failure(err))
            return
        finally:
            close = getattr(self._iterator, "close", None)
            if close is not None:  # a generator's own finally blocks run here, in its thread
                try:
                    close()
                except Exception:  # noqa: BLE001 - closing is best effort; the consumer has ended
                    pass
        self._put(_DONE)

    def __iter__(self):
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.err
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(self._join_timeout)  # a user's generator stuck in next() can delay it

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
