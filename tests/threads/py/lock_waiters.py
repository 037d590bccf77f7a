"""A Python service in trouble, for `py-spy dump`: one thread holds a lock and sleeps (a slow call made
under the lock), three workers wait to take it, one idles on its queue. It prints READY once every
thread is in place, then sleeps until killed."""

import queue
import threading
import time

lock = threading.Lock()
jobs: "queue.Queue[int]" = queue.Queue()
SECRET = "hunter2"     # a local that `--locals` would print: the parser must drop it


def holder() -> None:
    token = SECRET      # noqa: F841 (shown by --locals)
    with lock:
        time.sleep(600)


def waiter() -> None:
    with lock:
        pass


def idle() -> None:
    jobs.get()


threading.Thread(target=holder, name="holder", daemon=True).start()
time.sleep(0.2)
for i in range(3):
    threading.Thread(target=waiter, name=f"worker-{i}", daemon=True).start()
threading.Thread(target=idle, name="idle", daemon=True).start()
time.sleep(0.2)
print("READY", flush=True)
time.sleep(600)
