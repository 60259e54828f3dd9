"""Hostile programs for the escape suite. Each tries one way out and prints ESCAPED if it got there.

`{target}` is a path outside the run directory that must not come to exist, `{victim}` an
existing file outside that must keep its content and mode. Attacks that need the kernel layers
(the audit hook alone cannot see them) are in KERNEL_ONLY.
"""

# -- writing outside the run directory ---------------------------------------------------------
WRITES = {
    "open-write": "open({target!r}, 'w').write('x'); print('ESCAPED')",
    "dir-fd-after-replacing-isdir": (  # the QA run's escape
        "import os, os.path\nos.path.isdir = lambda p: False\nos.stat = lambda *a, **k: os.lstat('/dev/null')\n"
        "d = os.open(os.path.dirname({target!r}), os.O_RDONLY)\n"
        "os.close(os.open(os.path.basename({target!r}), os.O_WRONLY | os.O_CREAT, dir_fd=d)); print('ESCAPED')"
    ),
    "o-path-dir-fd": (
        "import os\nd = os.open(os.path.dirname({target!r}), os.O_PATH | os.O_DIRECTORY)\n"
        "os.close(os.open(os.path.basename({target!r}), os.O_WRONLY | os.O_CREAT, dir_fd=d)); print('ESCAPED')"
    ),
    "fwalk-dir-fd": (
        "import os\nfor _, _, _, d in os.fwalk(os.path.dirname({target!r})):\n"
        "    os.close(os.open(os.path.basename({target!r}), os.O_WRONLY | os.O_CREAT, dir_fd=d)); print('ESCAPED'); break"
    ),
    "dotdot-from-a-deeper-dir-fd": (
        "import os\nos.makedirs('a/b/c/d/e/f/g/h/i/j/k/l')\nd = os.open('a/b/c/d/e/f/g/h/i/j/k/l', os.O_RDONLY)\n"
        "os.close(os.open('../' * 40 + {target!r}.lstrip('/'), os.O_WRONLY | os.O_CREAT, dir_fd=d)); print('ESCAPED')"
    ),
    "symlink": "import os\nos.symlink({target!r}, 'l')\nopen('l', 'w').write('x'); print('ESCAPED')",
    "hard-link-then-write": "import os\nos.link({victim!r}, 'h')\nopen('h', 'w').write('pwned'); print('ESCAPED')",
    "rename-out": "import os\nopen('m', 'w').write('x')\nos.rename('m', {target!r}); print('ESCAPED')",
    "replace-out": "import os\nopen('m', 'w').write('x')\nos.replace('m', {target!r}); print('ESCAPED')",
    "shutil-move": "import shutil\nopen('m', 'w').write('x')\nshutil.move('m', {target!r}); print('ESCAPED')",
    "proc-self-cwd-dotdot": "open('/proc/self/cwd/../' + {target!r}.rsplit('/', 1)[1], 'w'); print('ESCAPED')",
    "proc-self-root": "open('/proc/self/root' + {target!r}, 'w'); print('ESCAPED')",
    "proc-self-fd-of-a-dir": (
        "import os\nd = os.open('/tmp', os.O_RDONLY)\nopen('/proc/self/fd/%d/x' % d, 'w'); print('ESCAPED')"
    ),
    "bytes-path": "open({target!r}.encode(), 'wb').write(b'x'); print('ESCAPED')",
    "str-subclass-that-lies": (
        "class S(str):\n    def startswith(self, *a): return True\n    def split(self, *a): return []\n"
        "    def __eq__(self, o): return True\n    __hash__ = str.__hash__\n"
        "open(S({target!r}), 'w').write('x'); print('ESCAPED')"
    ),
    "fspath-that-answers-twice": (
        "import os\nclass P:\n    n = 0\n    def __fspath__(self):\n        P.n += 1\n"
        "        return {target!r} if P.n % 2 else os.getcwd() + '/ok'\nopen(P(), 'w').write('x'); print('ESCAPED')"
    ),
    "replaced-builtins-and-os": (
        "import builtins, os, posixpath\nbuiltins.isinstance = lambda *a: False\nbuiltins.any = lambda *a: False\n"
        "builtins.len = lambda *a: 0\nos.fspath = posixpath.realpath = os.path.realpath = lambda p, **k: os.getcwd()\n"
        "os.readlink = os.lstat = lambda *a, **k: None\nopen({target!r}, 'w').write('x'); print('ESCAPED')"
    ),
    "chdir-out": "import os\nos.chdir('/tmp')\nopen({target!r}.rsplit('/', 1)[1], 'w'); print('ESCAPED')",
    "fchdir-out": "import os\nos.fchdir(os.open('/tmp', os.O_RDONLY))\nopen('x', 'w'); print('ESCAPED')",
    "overwrite-victim": "open({victim!r}, 'w').write('pwned'); print('ESCAPED')",
    "append-victim": "open({victim!r}, 'a').write('pwned'); print('ESCAPED')",
    "truncate-victim": "import os\nos.truncate({victim!r}, 0); print('ESCAPED')",
    "chmod-victim-by-fd": "import os\nos.chmod(os.open({victim!r}, os.O_RDONLY), 0o777); print('ESCAPED')",
    "remove-victim": "import os\nos.remove({victim!r}); print('ESCAPED')",
    "o-tmpfile-outside": (
        "import os\nfd = os.open(os.path.dirname({target!r}), os.O_TMPFILE | os.O_WRONLY)\n"
        "os.link('/proc/self/fd/%d' % fd, {target!r}); print('ESCAPED')"
    ),
    "sqlite-attach": (  # sqlite opens its files in C: no open event
        "import sqlite3\nc = sqlite3.connect(':memory:')\nc.execute('ATTACH DATABASE ? AS x', ({target!r},))\n"
        "c.execute('CREATE TABLE x.t(a)'); c.commit(); print('ESCAPED')"
    ),
    "readline-history": "import readline\nreadline.write_history_file({target!r}); print('ESCAPED')",
    "dbm-gnu": "import dbm.gnu\ndbm.gnu.open({target!r}, 'c').close(); print('ESCAPED')",
    "rename-victim-in": "import os\nos.rename({victim!r}, 'stolen'); print('ESCAPED')",
    "utime-victim": "import os\nos.utime({victim!r}, (0, 0)); print('ESCAPED')",
    "xattr-victim": "import os\nos.setxattr({victim!r}, 'user.x', b'1'); print('ESCAPED')",
    "r-plus-victim": "f = open({victim!r}, 'r+')\nf.write('pwned'); print('ESCAPED')",
    "mkstemp-outside": "import tempfile, os\ntempfile.mkstemp(dir=os.path.dirname({target!r})); print('ESCAPED')",
    "proc-self-mem": (  # patch the interpreter's own memory (e.g. to switch the hook off)
        "f = open('/proc/self/mem', 'r+b', buffering=0)\nf.seek(id(open))\nf.write(b'x'); print('ESCAPED')"
    ),
    "sysrq-trigger": "open('/proc/sysrq-trigger', 'w').write('h'); print('ESCAPED')",
    "write-sysfs": "open('/sys/kernel/mm/transparent_hugepage/enabled', 'w').write('never'); print('ESCAPED')",
    "guard-globals": (  # the guard's module dict is reachable through frames; the hook must not use it
        "import sys\nf = sys._getframe()\nwhile f is not None:\n"
        "    g = f.f_globals\n    if 'WRITE_FILES' in g:\n        g['WRITE_FILES'] = ({target!r},)\n"
        "        g['SYSTEM_READS'] = ('/',)\n    f = f.f_back\nopen({target!r}, 'w'); print('ESCAPED')"
    ),
    "traceback-frame-rewrites-hook-helpers": (
        "import sys\ntry:\n    open('/nonexistent-dir/x', 'w')\nexcept PermissionError as e:\n    tb = e.__traceback__\n"
        "    while tb.tb_next: tb = tb.tb_next\n    f = tb.tb_frame\n    while f is not None:\n"
        "        for v in list(f.f_locals.values()):\n            if callable(v) and hasattr(v, '__defaults__'):\n"
        "                try: v.__defaults__ = None\n                except Exception: pass\n"
        "                try: v.__code__ = (lambda *a, **k: None).__code__\n                except Exception: pass\n"
        "                for c in getattr(v, '__closure__', None) or ():\n                    c.cell_contents = None\n"
        "        f = f.f_back\nopen({target!r}, 'w'); print('ESCAPED')"
    ),
    "gc-finds-the-hook": (
        "import gc\nfor o in gc.get_objects():\n    if getattr(o, '__name__', '') == 'hook': o.__defaults__ = None\n"
        "open({target!r}, 'w'); print('ESCAPED')"
    ),
    "code-object-swap": (
        "import types\nc = compile('open(%r, \"w\")' % {target!r}, 'x', 'exec')\n"
        "f = types.FunctionType(c.replace(co_name='x'), {{}})\nf(); print('ESCAPED')"
    ),
}

# -- processes, network, signals, limits, foreign code -------------------------------------------
PROCESSES = {
    "fork": "import os\nif os.fork() == 0:\n    print('ESCAPED')",
    "subprocess": "import subprocess\nsubprocess.run(['/bin/echo', 'ESCAPED'])",
    "os-system": "import os\nos.system('echo ESCAPED')",
    "execv": "import os\nos.execv('/bin/echo', ['echo', 'ESCAPED'])",
    "posix-spawn": "import os\nos.posix_spawn('/bin/echo', ['echo', 'ESCAPED'], {{}})",
    "pty-fork": "import pty\nif pty.fork()[0] == 0:\n    print('ESCAPED')",
    "multiprocessing": "import multiprocessing as m\nm.Process(target=print, args=('ESCAPED',)).start()",
    "fork-from-a-thread": (
        "import os, threading\nt = threading.Thread(target=lambda: os.fork() == 0 and print('ESCAPED'))\n"
        "t.start(); t.join()"
    ),
    "memfd-exec": (
        "import os\nfd = os.memfd_create('x')\nos.write(fd, open('/bin/echo', 'rb').read())\n"
        "os.execv('/proc/self/fd/%d' % fd, ['echo', 'ESCAPED'])"
    ),
}

NETWORK = {
    "tcp": "import socket\nsocket.create_connection(('127.0.0.1', 22), timeout=1); print('ESCAPED')",
    "raw-_socket": "import _socket\n_socket.socket(); print('ESCAPED')",
    "udp": "import _socket\ns = _socket.socket(2, 2)\ns.sendto(b'x', ('127.0.0.1', 9)); print('ESCAPED')",
    "unix": "import _socket\ns = _socket.socket(1, 1)\ns.connect('/run/x.sock'); print('ESCAPED')",
    "abstract-unix": "import _socket\ns = _socket.socket(1, 1)\ns.connect('\\0x'); print('ESCAPED')",
    "netlink": "import _socket\n_socket.socket(16, 3, 0); print('ESCAPED')",
    "socketpair": "import _socket\n_socket.socketpair(); print('ESCAPED')",
    "dns": "import socket\nsocket.getaddrinfo('localhost', 80); print('ESCAPED')",
}

SIGNALS_AND_LIMITS = {
    "signal-the-parent": "import os\nos.kill(os.getppid(), 0); print('ESCAPED')",
    "signal-everyone": "import os\nos.kill(-1, 0); print('ESCAPED')",
    "signal-pid-1": "import os\nos.kill(1, 0); print('ESCAPED')",
    "killpg-the-parent": "import os\nos.killpg(os.getpgid(os.getppid()), 0); print('ESCAPED')",
    "pidfd-signal": "import os, signal\nsignal.pidfd_send_signal(os.pidfd_open(os.getppid()), 0); print('ESCAPED')",
    "raise-cpu-limit": "import resource\nresource.setrlimit(resource.RLIMIT_CPU, (100, 100)); print('ESCAPED')",
    "raise-memory-limit": "import resource as r\nr.prlimit(0, r.RLIMIT_AS, (r.RLIM_INFINITY,) * 2); print('ESCAPED')",
    "ctypes": "import ctypes\nctypes.CDLL(None).system(b'echo ESCAPED')",
    "_ctypes-by-file": (  # load the extension module by path: no import event for it
        "import _imp, importlib.machinery as m, sys, glob\n"
        "p = glob.glob(sys.path[-1] + '/_ctypes*.so')[0]\n"
        "mod = _imp.create_dynamic(m.ModuleSpec('_ctypes', None, origin=p))\n"
        "h = mod.dlopen(None)\nprint('ESCAPED' if h else '')"
    ),
    "ctypes-classes-left-in-memory": (  # the guard used ctypes: its C types stay reachable as subclasses
        "seen, todo = set(), [object]\nwhile todo:\n    c = todo.pop()\n    if c in seen: continue\n"
        "    seen.add(c)\n    todo += type.__subclasses__(c)\n    if c.__name__ in ('CFuncPtr', 'CDLL', '_SimpleCData'):\n"
        "        try: c(('system', None)) if c.__name__ == 'CFuncPtr' else c('_', 'P')\n        except Exception: continue\n"
        "        print('ESCAPED')\nprint(len(seen))"
    ),
    "_posixsubprocess-by-file": (
        "import _imp, importlib.machinery as m, sys, glob, os\n"
        "p = glob.glob(sys.path[-1] + '/_posixsubprocess*.so')[0]\n"
        "ps = _imp.create_dynamic(m.ModuleSpec('_posixsubprocess', None, origin=p))\nr, w = os.pipe()\n"
        "pid = ps.fork_exec([b'/bin/echo', b'ESCAPED'], [b'/bin/echo'], False, (), None, None, -1, -1, -1, 1, -1, 2,"
        " r, w, True, False, -1, None, None, -1, -1, None, False)\nos.waitpid(pid, 0)"
    ),
    "site-packages-import": (
        "import sys, glob\nsys.path += glob.glob('/work/*/.venv/lib/python3*/site-packages') +"
        " glob.glob('/usr/local/lib/python3*/site-packages')\nimport networkx; print('ESCAPED')"
    ),
    "agentnet-import": "import sys\nsys.path.insert(0, {repo!r})\nimport agentnet; print('ESCAPED')",
    "device-node": "import os\nos.mknod('dev', 0o20666, os.makedev(1, 1)); print('ESCAPED')",
    "dev-mem": "open('/dev/mem', 'rb').read(1); print('ESCAPED')",
    "dev-shm": "open('/dev/shm/agentnet-escape', 'w'); print('ESCAPED')",
    "posix-shm": "import _posixshmem\n_posixshmem.shm_open('/agentnet-escape', 0o102, 0o600); print('ESCAPED')",
    "syslog": "import syslog\nsyslog.syslog('agentnet sandbox escape'); print('ESCAPED')",
    "shadow-file": "import spwd\nprint('ESCAPED', spwd.getspall()[:1])",
}

# -- the parent's secrets (the parent process has AGENTNET_TEST_SECRET in its environment) --------
SECRETS = {
    "own-environ": "import os\nprint(dict(os.environ))",
    "proc-self-environ": "print(open('/proc/self/environ', 'rb').read())",
    "parent-environ": "import os\nprint(open('/proc/%d/environ' % os.getppid(), 'rb').read())",
    "parent-environ-via-pid-path": "import os\nprint(open('/proc/self/../%d/environ' % os.getppid(), 'rb').read())",
    "parent-environ-by-fd-dir": (
        "import os\nd = os.open('/proc/%d' % os.getppid(), os.O_RDONLY)\n"
        "print(os.read(os.open('environ', os.O_RDONLY, dir_fd=d), 1 << 20))"
    ),
    "parent-cmdline-and-mem": (
        "import os\np = os.getppid()\nprint(open('/proc/%d/cmdline' % p, 'rb').read())\n"
        "print(open('/proc/%d/mem' % p, 'rb').read(10))"
    ),
    "pid-1-environ": "print(open('/proc/1/environ', 'rb').read())",
    "every-environ": (
        "import os\nfor p in os.listdir('/proc'):\n    try: print(open('/proc/%s/environ' % p, 'rb').read())\n"
        "    except Exception: pass"
    ),
    "parent-cwd-link": "import os\nprint(os.listdir('/proc/%d/cwd' % os.getppid()))",
}

# Needs a kernel layer: the audit hook alone does not see these (docs/sandbox.md: what is not contained).
KERNEL_ONLY = {"socketpair"}  # no audit event; harmless anyway: two connected sockets that reach nothing

# -- metadata of outside files, with the audit hook off (the kernel layers alone must refuse) --------
# `{victim}` is a file outside owned by the parent's uid (0 as root) with the xattr user.keep. As
# uid 0 without capabilities the child owns it, so file permissions allow all of these: only
# seccomp refuses them. Raw syscalls (ctypes: the hook is off) cover what `os` does not reach.
_RAW = (
    "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nlibc.syscall.restype = ctypes.c_long\n"
    "def call(nr, *args):\n"  # syscall() is variadic: a plain int would leave a register's high half undefined
    "    args = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]\n"
    "    if libc.syscall(ctypes.c_long(nr), *args) != 0:\n"
    "        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))\n"
)
_O_PATH = "import os\nfd = os.open({victim!r}, os.O_PATH)\nvia = '/proc/self/fd/%d' % fd\n"  # Landlock does not check O_PATH opens
METADATA = {
    "chmod": "import os\nos.chmod({victim!r}, 0o777); print('ESCAPED')",
    "lchmod-fchmodat": "import os\nos.chmod({victim!r}, 0o777, follow_symlinks=False); print('ESCAPED')",
    "chmod-via-o-path-fd": _O_PATH + "os.chmod(via, 0o777); print('ESCAPED')",
    "fchmodat2-raw": _RAW + "call(452, -100, {victim!r}.encode(), 0o777, 0); print('ESCAPED')",
    "fchmodat2-empty-path-raw": _O_PATH + _RAW + "call(452, fd, b'', 0o777, 0x1000); print('ESCAPED')",
    "chown-to-itself": "import os\nos.chown({victim!r}, os.getuid(), os.getgid()); print('ESCAPED')",
    "lchown": "import os\nos.lchown({victim!r}, os.getuid(), os.getgid()); print('ESCAPED')",
    "chown-via-o-path-fd": _O_PATH + "os.chown(via, os.getuid(), os.getgid()); print('ESCAPED')",
    "fchownat-empty-path-raw": _O_PATH
    + _RAW
    + "call(260, fd, b'', os.getuid(), os.getgid(), 0x1000); print('ESCAPED')",
    "utime-1970": "import os\nos.utime({victim!r}, (0, 0)); print('ESCAPED')",
    "utime-now": "import os\nos.utime({victim!r}); print('ESCAPED')",
    "utime-nofollow": "import os\nos.utime({victim!r}, (0, 0), follow_symlinks=False); print('ESCAPED')",
    "utime-via-o-path-fd": _O_PATH + "os.utime(via, (0, 0)); print('ESCAPED')",
    "utimensat-empty-path-raw": _O_PATH + _RAW + "call(280, fd, b'', None, 0x1000); print('ESCAPED')",
    "setxattr": "import os\nos.setxattr({victim!r}, 'user.x', b'1'); print('ESCAPED')",
    "lsetxattr": "import os\nos.setxattr({victim!r}, 'user.x', b'1', follow_symlinks=False); print('ESCAPED')",
    "setxattr-via-o-path-fd": _O_PATH + "os.setxattr(via, 'user.x', b'1'); print('ESCAPED')",
    "removexattr": "import os\nos.removexattr({victim!r}, 'user.keep'); print('ESCAPED')",
    "lremovexattr": "import os\nos.removexattr({victim!r}, 'user.keep', follow_symlinks=False); print('ESCAPED')",
    "setxattrat-raw": _RAW
    + (  # Linux 6.13: struct xattr_args {{ u64 value; u32 size, flags; }}
        "v = ctypes.create_string_buffer(b'1')\nargs = (ctypes.c_uint64 * 2)(ctypes.addressof(v), 1)\n"
        "call(463, -100, {victim!r}.encode(), 0, b'user.x', args, 16); print('ESCAPED')"
    ),
    "removexattrat-raw": _RAW + "call(466, -100, {victim!r}.encode(), 0, b'user.keep'); print('ESCAPED')",
    "file-setattr-nodump-raw": _RAW
    + (  # Linux 6.17: struct file_attr, 24 bytes; FS_XFLAG_NODUMP
        "attr = (ctypes.c_uint64 * 3)(0x80)\ncall(469, -100, {victim!r}.encode(), attr, 24, 0); print('ESCAPED')"
    ),
}
# x86_64 numbers of syscalls that aarch64 does not have at all
METADATA_X86_64 = {
    "utimes-raw": _RAW + "call(235, {victim!r}.encode(), None); print('ESCAPED')",
    "utime-syscall-raw": _RAW + "call(132, {victim!r}.encode(), None); print('ESCAPED')",
    "futimesat-raw": _RAW + "call(261, -100, {victim!r}.encode(), None); print('ESCAPED')",
    "chmod-syscall-raw": _RAW + "call(90, {victim!r}.encode(), 0o777); print('ESCAPED')",
}
# Calls on a file descriptor: Landlock lets the run open only its own files for them, so these
# show that seccomp refuses the call itself, wherever the file is (own files are fair game for
# file permissions). The hook is off for these too.
_OWN = "import os\nopen('own', 'w').close()\nfd = os.open('own', os.O_RDONLY)\n"
METADATA_BY_FD = {
    "fchmod": _OWN + "os.chmod(fd, 0o644); print('ESCAPED')",
    "fchown": _OWN + "os.chown(fd, os.getuid(), os.getgid()); print('ESCAPED')",
    "futimens": _OWN + "os.utime(fd, (0, 0)); print('ESCAPED')",
    "fsetxattr": _OWN + "os.setxattr(fd, 'user.x', b'1'); print('ESCAPED')",
    "fremovexattr": _OWN
    + (
        "try:\n    os.setxattr('own', 'user.x', b'1')\nexcept OSError:\n    pass\nos.removexattr(fd, 'user.x'); print('ESCAPED')"
    ),
    "chattr-ioctl": (  # FS_IOC_SETFLAGS with FS_NODUMP_FL (tmpfs has it); then with the request's high bits set
        _OWN + "import fcntl, struct\nfcntl.ioctl(fd, 0x40086602, struct.pack('l', 0x40)); print('ESCAPED')"
    ),
    "chattr-ioctl-high-bits-raw": _OWN
    + _RAW
    + (
        "import platform\nnr = {{'x86_64': 16, 'aarch64': 29}}[platform.machine()]\nflags = ctypes.c_long(0x40)\n"
        "call(nr, fd, ctypes.c_ulong(0xFFFFFFFF40086602), ctypes.byref(flags)); print('ESCAPED')"
    ),
}
