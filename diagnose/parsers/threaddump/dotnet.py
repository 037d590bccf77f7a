"""`dotnet-stack report -p <pid>` (.NET's managed stacks, one sample per thread), as dotnet/diagnostics writes
it (src/Tools/dotnet-stack/ReportCommand.cs, PrintStack): a `Thread (0x<ID>):` line, then one frame a line
indented by two blanks, `[Native Frames]` for unmanaged code, then a blank line. A frame is
`<module>!<Namespace.Type.Method>(<argument types>)`, as in the tool's own test (src/tests/dotnet-stack/StackTests.cs):

    Thread (0x1A2B):
      [Native Frames]
      System.Private.CoreLib.il!System.IO.StreamReader.ReadBuffer()
      StackTracee!Tracee.Program.Main(class System.String[])

No state and no lock is printed: the state is told from the first managed frame (Monitor.Enter is BLOCKED on
a `lock`, Monitor.Wait and the wait handles WAITING, Thread.Sleep TIMED_WAITING).
"""

from __future__ import annotations

import re

from ...model.threads import Frame, State, ThreadDump, ThreadInfo, WaitKind

_THREAD = re.compile(r"^Thread \((?P<tid>0x[0-9A-Fa-f]+)\):\r?$", re.M)
_FRAME = re.compile(r"^  (?P<frame>\S[^\r\n]*?)\r?$", re.M)
NATIVE = "[Native Frames]"
# (first managed frame, state, how it waits): System.Threading's blocking calls.
_WAITS: tuple[tuple[str, State, WaitKind], ...] = (
    ("System.Threading.Monitor.Enter", "BLOCKED", "monitor"),
    ("System.Threading.Monitor.ReliableEnter", "BLOCKED", "monitor"),
    ("System.Threading.Monitor.TryEnter", "BLOCKED", "monitor"),
    ("System.Threading.Lock.Enter", "BLOCKED", "monitor"),
    ("System.Threading.Monitor.Wait", "WAITING", "object-wait"),
    ("System.Threading.Thread.Sleep", "TIMED_WAITING", "sleep"),
    ("System.Threading.SemaphoreSlim.Wait", "WAITING", "park"),
    ("System.Threading.ManualResetEventSlim.Wait", "WAITING", "park"),
    ("System.Threading.WaitHandle.Wait", "WAITING", "park"),
    ("System.Threading.Tasks.Task.Wait", "WAITING", "park"),
    ("System.Threading.Tasks.Task.SpinThenBlockingWait", "WAITING", "park"),
)


def looks_like(text: str) -> bool:
    m = _THREAD.search(text, 0, 20_000)
    return m is not None and _FRAME.match(text, m.end() + 1) is not None


def _frame(line: str) -> Frame:
    if line == NATIVE:
        return Frame(NATIVE)
    module, bang, rest = line.partition("!")
    if not bang:
        return Frame(line)
    return Frame(rest.partition("(")[0], module)       # the module stands where other runtimes put the file


def _state(frames: tuple[Frame, ...]) -> tuple[State, WaitKind | None]:
    first = next((f.function for f in frames if f.function != NATIVE), "")
    for prefix, state, kind in _WAITS:
        if first.startswith(prefix):
            return state, kind
    return "UNKNOWN", None


def parse(text: str, source: str, pod: str) -> list[ThreadDump]:
    heads = list(_THREAD.finditer(text))
    threads = []
    for i, h in enumerate(heads):
        stop = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        frames = tuple(_frame(m.group("frame")) for m in _FRAME.finditer(text, h.end(), stop))
        state, kind = _state(frames)
        # "Thread (0x1A2B)", as printed: no digit at the end, so no pool is read into it (frames.pool_name)
        threads.append(ThreadInfo(name=f"Thread ({h.group('tid')})", state=state, frames=frames, tid=h.group("tid"),
                                  wait_kind=kind, raw_state=""))
    notes = () if threads else (f"{source}: dotnet-stack output holds no thread",)
    return [ThreadDump(source=source, pod=pod, format="dotnet-stack", threads=tuple(threads), runtime=".NET",
                       notes=notes)]
