"""The worker's parent never forks a pool process while one of its threads is inside SQLite.

The hang this prevents: billiard's supervisor thread forks while the main thread polls the SQLite broker;
a fork taken while that thread holds SQLite's allocator mutex leaves the child blocked for good in its
first SQLite call (gdb: ``pthread_mutex_lock`` in ``sqlite3Malloc``). Without the gate's fork hook, the
probe below froze 11 of its 1500 children on the 2-core development machine; with it, none may freeze.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from jobstore.queue import make_celery
from jobstore.settings import StoreSettings
from worker.fork_gate import GatedTransport, gate_embedded_broker

FORKS = 1500

# A lean process of its own (forking pytest, with torch loaded, is slow): one thread sends and receives job
# messages through the worker's broker transport as fast as it can while another forks; each child opens
# SQLite once and exits, and a child still there after 10 s counts as frozen.
PROBE = textwrap.dedent("""
    import os, sqlite3, sys, threading, time
    from jobstore.queue import make_celery
    from jobstore.settings import StoreSettings
    from worker.fork_gate import gate_embedded_broker, install

    app = make_celery(StoreSettings(data_dir=sys.argv[1]))
    gate_embedded_broker(app)
    install()
    done = threading.Event()

    def poll():
        with app.connection_for_write() as connection:
            queue = connection.SimpleQueue("probe")
            while not done.is_set():
                queue.put({"n": 1})
                queue.get(timeout=5).ack()

    threading.Thread(target=poll, daemon=True).start()
    time.sleep(0.5)
    frozen = 0
    for _ in range(int(sys.argv[2])):
        pid = os.fork()
        if pid == 0:
            sqlite3.connect(":memory:").execute("SELECT 1").fetchall()
            os._exit(0)
        deadline = time.monotonic() + 10
        while not os.waitpid(pid, os.WNOHANG)[0]:
            if time.monotonic() > deadline:
                frozen += 1
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                break
            time.sleep(0.002)
    done.set()
    print("frozen", frozen)
""")


def test_forks_never_copy_a_thread_inside_sqlite(tmp_path):
    result = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path), str(FORKS)], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["frozen", "0"], result.stdout + result.stderr


def test_only_the_embedded_broker_is_rerouted(tmp_path):
    embedded = make_celery(StoreSettings(data_dir=tmp_path))
    gate_embedded_broker(embedded)
    with embedded.connection_for_read() as connection:
        assert isinstance(connection.transport, GatedTransport)
    redis = make_celery(StoreSettings(data_dir=tmp_path, broker_url="redis://127.0.0.1:6379/0"))
    gate_embedded_broker(redis)
    assert redis.conf.broker_url == "redis://127.0.0.1:6379/0"
    assert redis.conf.broker_transport is None


# What the worker's parent loads before it forks its pool (worker.tasks._preload) must leave no thread to copy
# half-way through something (native threads count too: /proc/self/task) and no CUDA context a child could not
# use. OpenBLAS's own pool (one thread per core, stopped by its fork handler) is kept out by its setting.
PRELOAD = textwrap.dedent("""
    import os
    import worker.tasks
    before = len(os.listdir("/proc/self/task"))
    worker.tasks._preload()
    import torch
    print(before, len(os.listdir("/proc/self/task")), torch.cuda.is_initialized())
""")


def test_the_parents_preload_starts_no_thread_and_no_cuda():
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    env.pop("JE_ARROW_MALLOC_CONF", None)
    result = subprocess.run([sys.executable, "-c", PRELOAD], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    before, after, cuda = result.stdout.split()
    assert (after, cuda) == (before, "False"), result.stdout
