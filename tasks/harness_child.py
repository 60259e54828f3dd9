"""agentnet's test harness, the child's side: the sandbox runs this file as `solution.py` with a
call `main({...})` appended (agentnet.tasks.harness writes it; read that module's docstring
for the scheme and its limits). Standard library only; never imported by agentnet itself.

`main` runs before one line of the program: it dups stdout into a channel of its own, starts
the program's thread, which announces a fresh secret there as the very first output, installs
two audit hooks and then executes the program under `try/except BaseException`. Only when the program, the hidden
tests and `check(entry_point)` (or the docstring examples) have returned does it raise the
verdict event, which the verdict hook answers by writing `SECRET VERDICT` on the channel.

Everything the hooks call is bound as a positional default when they are made, as in the
sandbox guard: a program that replaces a builtin (`type`, `len`) cannot run code inside them.
"""

import builtins
import gc
import linecache
import os
import sys
import threading
import types

ANNOUNCE = b"agentnet-harness"
VERDICT_EVENT = "agentnet.harness.verdict"
PROGRAM_FILE = "solution.py"  # the name tracebacks show for the program
# ways to reach a frame below the program's: a trace function sees every frame start (and can
# move a traced frame's next line); another audit hook runs inside the verdict hook whenever
# that raises an event (its sys._getframe does), and its f_back is the verdict hook's frame
REFUSED_EVENTS = frozenset(
    (
        "sys.settrace",
        "sys.setprofile",
        "sys._current_frames",
        "sys._current_exceptions",
        "sys.monitoring.register_callback",
        "sys.addaudithook",
    )
)
ATOMS = (type(None), bool, int, float, complex, str, bytes)
CONTAINERS = (list, tuple, set, frozenset, dict)


def refusing_hook(refused=REFUSED_EVENTS, type=type, str=str, PermissionError=PermissionError):
    """Refuse tracing, profiling, other threads' frames and audit hooks of the program's own
    (installed last: the harness's own hooks are in by then)."""

    def hook(event, args, refused=refused, type=type, str=str, PermissionError=PermissionError):
        if type(event) is str and event in refused:
            raise PermissionError("harness: %s is blocked (it would reach the test harness's frames)" % event)

    return hook


def verdict_hook(
    secret,
    channel,
    owner,
    getframe=sys._getframe,
    write=os.write,
    type=type,
    str=str,
    tuple=tuple,
    len=len,
    encode=str.encode,
    event_name=VERDICT_EVENT,
    isenabled=gc.isenabled,
    disable=gc.disable,
    enable=gc.enable,
    BaseException=BaseException,
):
    """The only holder of the secret: writes `SECRET VERDICT` once, for a verdict event raised by
    the `owner` frame itself (the harness's run, after the tests returned). It never raises, so
    no traceback ever carries its frame, and runs no Python code but its own: the garbage
    collector is off while it checks (sys._getframe may allocate a frame object, and a
    collection would run the program's gc callbacks and finalizers with this frame below them)."""
    done: list[bool] = []

    def hook(
        event,
        args,
        secret=secret,
        channel=channel,
        owner=owner,
        done=done,
        getframe=getframe,
        write=write,
        type=type,
        str=str,
        tuple=tuple,
        len=len,
        encode=encode,
        event_name=event_name,
        append=done.append,
        isenabled=isenabled,
        disable=disable,
        enable=enable,
        BaseException=BaseException,
    ):
        if type(event) is not str or event != event_name or done:
            return
        collecting = isenabled()
        disable()
        try:
            if getframe(1) is owner and type(args) is tuple and len(args) == 1 and type(args[0]) is str:
                append(True)
                write(channel, b"\n" + secret + b" " + encode(args[0], "utf-8", "replace") + b"\n")
        except BaseException:
            pass
        if collecting:
            enable()

    return hook


def arm(channel, owner):
    """Make the secret, announce it first on the channel, hand it to the verdict hook. This
    frame ends before the program starts: afterwards only the hook's defaults hold the secret."""
    secret = os.urandom(16).hex().encode("ascii")
    os.write(channel, ANNOUNCE + b" " + secret + b"\n")
    sys.addaudithook(verdict_hook(secret, channel, owner))


def builtin_value(value, atoms=ATOMS, containers=CONTAINERS, type=type, id=id, set=set):
    """Whether `value` is made only of builtin types (exact types, not subclasses), containers walked."""
    todo, seen = [value], set()
    while todo:
        item = todo.pop()
        kind = type(item)
        if kind in atoms:
            continue
        if kind not in containers:
            return False
        if id(item) in seen:
            continue
        seen.add(id(item))
        todo.extend(item.items() if kind is dict else item)
    return True


def strict_results(function, name):
    """`function`, refusing results of non-builtin types (an object whose `__eq__` is always true)."""

    ok, type_, error = builtin_value, type, TypeError  # not the program's replacements

    def strict_entry(*args, **kwargs):
        result = function(*args, **kwargs)
        if not ok(result):
            kind = type_(result).__name__
            raise error("strict results: %s returned a %s, not built from builtin types" % (name, kind))
        return result

    return strict_entry


def examples_runner():
    """doctest's runner without `DocTestRunner.run`'s `sys.settrace` (refused here), comparing
    equal Python literals too ("21" for '21', a list split over lines)."""
    import ast
    import doctest

    class Checker(doctest.OutputChecker):
        def check_output(self, want, got, optionflags):
            if super().check_output(want, got, optionflags):
                return True
            try:
                return ast.literal_eval(want.strip()) == ast.literal_eval(got.strip())
            except Exception:
                return False

    class NoDebugger:
        def set_continue(self):  # pdb's calls sys.settrace(None)
            pass

    class Runner(doctest.DocTestRunner):
        def run(self, test, compileflags=None, out=None, clear_globs=False):
            self.test, self.debugger = test, NoDebugger()
            saved_stdout, saved_displayhook = sys.stdout, sys.displayhook
            sys.stdout, sys.displayhook = self._fakeout, sys.__displayhook__  # type: ignore[attr-defined]
            try:
                flags = doctest._extract_future_flags(test.globs) if compileflags is None else compileflags  # type: ignore[attr-defined]
                return self._DocTestRunner__run(test, flags, out)  # type: ignore[attr-defined]
            finally:
                sys.stdout, sys.displayhook = saved_stdout, saved_displayhook

    def run(cases, entry, namespace, write):
        examples = [doctest.Example(source, want, lineno=line) for source, want, line in cases]
        test = doctest.DocTest(examples, dict(namespace), entry, "docstring", 0, None)
        runner = Runner(checker=Checker(), verbose=False, optionflags=doctest.NORMALIZE_WHITESPACE)
        result = runner.run(test, out=write)
        return "%d %d" % (result.attempted, result.failed)

    return run


def own_check(
    check,
    tests,
    FunctionType=types.FunctionType,
    CodeType=types.CodeType,
    type=type,
    any=any,
    RuntimeError=RuntimeError,
):
    """`check` if it is the function the tests' own `def check` made, else RuntimeError: a
    thread of the program could swap `check` between its definition and its call."""
    made = [c for c in tests.co_consts if type(c) is CodeType and c.co_name == "check"]
    if type(check) is not FunctionType or not any(check.__code__ is c for c in made):
        raise RuntimeError("harness: check() is not the hidden tests' own function (replaced after its definition)")
    return check


def report(error, stream, harness_globals):
    """The program's traceback on `stream`, without the harness's own frames."""
    try:
        import traceback

        frames = [(f, n) for f, n in traceback.walk_tb(error.__traceback__) if f.f_globals is not harness_globals]
        shown = traceback.TracebackException(type(error), error, None)
        shown.stack = traceback.StackSummary.extract(iter(frames))
        stream.write("".join(shown.format()))
        stream.flush()
    except BaseException:
        pass


def flush(*streams):
    for stream in streams:
        try:
            stream.flush()
        except BaseException:
            pass


def run(config, channel):
    """Run the program then its tests (or examples); raise the verdict event only if all returned."""
    arm(channel, sys._getframe())
    sys.addaudithook(refusing_hook())
    # bound before the program runs: it may rewrite this module's globals, or builtins
    audit, stdout, stderr, harness_globals = sys.audit, sys.stdout, sys.stderr, globals()
    strict, show, flushed, callable_, vars_, tests_own_check = strict_results, report, flush, callable, vars, own_check
    compile_, exec_ = compile, exec  # the tests are compiled after the program ran
    examples = examples_runner() if config["mode"] == "examples" else None
    source, test = config["program"], config.get("test", "")
    if source and not source.endswith("\n"):
        source += "\n"
    module = types.ModuleType("solution")  # a real module: dataclasses, pickle and typing look it up
    sys.modules["solution"] = module
    namespace = module.__dict__
    namespace["__builtins__"] = builtins
    text = source + test  # what tracebacks show: the tests' lines follow the program's
    linecache.cache[PROGRAM_FILE] = (len(text), None, text.splitlines(True), PROGRAM_FILE)
    entry = config["entry"]
    try:
        exec(compile(source, PROGRAM_FILE, "exec", dont_inherit=True), namespace)
        if examples is not None:
            verdict = examples(config["examples"], entry, namespace, stdout.write) if config["examples"] else "0 0"
            if not config["examples"] and not callable_(namespace.get(entry)):
                raise NameError("%s is not defined" % entry)
        else:  # as `check(entry_point)` at the end of the program: a global, else a builtin
            tests = compile_("\n" * source.count("\n") + test, PROGRAM_FILE, "exec", dont_inherit=True)
            exec_(tests, namespace)
            check = tests_own_check(namespace.get("check"), tests)
            function = namespace[entry] if entry in namespace else vars_(builtins)[entry]
            check(strict(function, entry) if config["strict"] else function)
            verdict = "passed"
    except BaseException as error:
        show(error, stderr, harness_globals)
        return 1
    flushed(stdout)
    audit(VERDICT_EVENT, verdict)
    return 0


def main(config):
    """Run the program on a thread of its own and exit with os._exit once it ends.

    On its own thread the program cannot install a signal handler (Python allows that in the
    main thread only), which would receive whatever frame runs when the signal lands, a hook's
    included; the main thread runs nothing but this function meanwhile. os._exit: no atexit
    handler or leftover thread of the program runs after the verdict (or its absence) is settled."""
    channel = os.dup(1)  # the program may close or redirect stdout; the verdict still goes out
    outcome = []

    def work():
        outcome.append(run(config, channel))

    try:
        try:
            worker = threading.Thread(target=work, name="program", daemon=True)
            worker.start()
        except RuntimeError:  # no thread to be had (a task limit): the main thread it is
            work()
        else:
            worker.join()
    finally:
        flush(sys.__stdout__, sys.__stderr__)
        os._exit(outcome[0] if outcome else 1)
