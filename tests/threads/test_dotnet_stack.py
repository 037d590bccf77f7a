"""`dotnet-stack report` output. The layout is PrintStack's in dotnet/diagnostics
src/Tools/dotnet-stack/ReportCommand.cs (`Thread (0x{id:X}):`, frames indented by two blanks, UNMANAGED_CODE_TIME
printed as `[Native Frames]`, a blank line after each thread); the first thread's frames are the .NET 7 stack the
tool's own test expects (src/tests/dotnet-stack/StackTests.cs, _correctStack70 without its `?!?` line). The
others are written here in that form (no .NET runtime on this machine): four request threads blocked entering a
C# `lock` (Monitor.ReliableEnter) in the same method."""

from __future__ import annotations

from diagnose.parsers.thread_dumps import load, parse_file

from .conftest import findings_for

REPORT = """Thread (0x5F10):
  [Native Frames]
  System.Console.il!Interop+Kernel32.ReadFile(int,unsigned int8*,int32,int32&,int)
  System.Console.il!System.ConsolePal+WindowsConsoleStream.ReadFileNative(int,value class System.Span`1<unsigned int8>,\
bool,int32&,bool)
  System.Console.il!System.ConsolePal+WindowsConsoleStream.Read(value class System.Span`1<unsigned int8>)
  System.Console.il!System.IO.ConsoleStream.Read(unsigned int8[],int32,int32)
  System.Private.CoreLib.il!System.IO.StreamReader.ReadBuffer()
  System.Private.CoreLib.il!System.IO.StreamReader.Read()
  System.Console.il!System.IO.SyncTextReader.Read()
  System.Console.il!System.Console.Read()

""" + "".join(f"""Thread (0x{tid:X}):
  [Native Frames]
  System.Private.CoreLib.il!System.Threading.Monitor.ReliableEnter(class System.Object,bool&)
  Orders!Orders.PriceCache.Get(class System.String)
  Orders!Orders.OrderController.Show(int32)

""" for tid in (0x5F21, 0x5F22, 0x5F23, 0x5F24))


def test_dotnet_stack_report_is_read_thread_by_thread():
    (d,), notes = parse_file("orders-1/stack.txt", REPORT.encode())
    assert notes == [] and d.format == "dotnet-stack" and len(d.threads) == 5
    console = d.threads[0]
    assert console.tid == "0x5F10" and console.frames[0].function == "[Native Frames]"
    assert console.frames[-1] == ("System.Console.Read", "System.Console.il")
    blocked = d.threads[1:]
    assert {(t.state, t.wait_kind) for t in blocked} == {("BLOCKED", "monitor")}
    assert blocked[0].frames[2].code_location == "PriceCache.Get"


def test_dotnet_threads_blocked_on_a_lock_give_no_clean_bill():
    ev = load({"orders-1/stack.txt": REPORT.encode()})
    assert ev.dumps[0].runtime == ".NET" and ev.pools == ()         # "Thread (0x5F21)" is no pool worker
    found = findings_for({"orders-1/stack.txt": REPORT.encode()})
    assert not any(f.direction == "against" for f in found)         # 4 of 5 threads BLOCKED
