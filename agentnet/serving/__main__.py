"""`python -m agentnet.serving build-llama-server | llama-server-path`: the one-off step that
makes the embedded `llama-server` engine available on this machine (`make install-dev` and
`make demo` run it; with the binary in the cache it returns at once)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from agentnet.errors import AgentNetError, ConfigError
from agentnet.serving.llama_server import BUILD_HINT, build, cache_is_current, cached_binary, find_binary
from agentnet.serving.models import default_cache_dir


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agentnet.serving", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("build-llama-server", help="compile llama-server into the cache (once per machine)")
    make.add_argument("--sdist", type=Path, help="a llama-cpp-python sdist already downloaded")
    make.add_argument("--jobs", type=int, help="parallel compile jobs (default: all cores)")
    make.add_argument("--force", action="store_true", help="rebuild even if the cache has one")
    make.add_argument("--quiet", action="store_true", help="CMake's output to <cache>/logs/llama-server-build.log")
    sub.add_parser("llama-server-path", help="print the llama-server binary the engine would use")
    args = parser.parse_args(argv)
    try:
        if args.command == "llama-server-path":
            found = find_binary()
            print(found or f"no llama-server found; {BUILD_HINT}")
            return 0 if found else 1
        if args.jobs is not None and args.jobs < 1:
            raise ConfigError(f"--jobs {args.jobs} must be at least 1 (or omit it for all cores)")
        cache = default_cache_dir()
        if cache_is_current(cache) and not args.force:
            print(f"{cached_binary(cache)} is built (use --force to rebuild)")
            return 0
        started = time.monotonic()
        log = cache / "logs" / "llama-server-build.log" if args.quiet else None
        if log is not None:
            log.unlink(missing_ok=True)
            print(f"building llama-server into {cached_binary(cache)} (~7 min on 2 cores, once; log {log})", flush=True)
        path = build(sdist=args.sdist, jobs=args.jobs, log=log)
        print(f"built {path} in {time.monotonic() - started:.0f} s", flush=True)
        return 0
    except AgentNetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
