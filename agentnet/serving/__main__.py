"""`python -m agentnet.serving build-llama-server | llama-server-path`: the one-off steps
that make the batched `llama-server` engine available on this machine."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from agentnet.errors import AgentNetError
from agentnet.serving.llama_server import BUILD_HINT, build, cached_binary, find_binary
from agentnet.serving.models import default_cache_dir


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agentnet.serving", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("build-llama-server", help="compile llama-server into the cache (once per machine)")
    make.add_argument("--sdist", type=Path, help="a llama-cpp-python sdist already downloaded")
    make.add_argument("--jobs", type=int, help="parallel compile jobs (default: all cores)")
    make.add_argument("--force", action="store_true", help="rebuild even if the cache has one")
    sub.add_parser("llama-server-path", help="print the llama-server binary the engine would use")
    args = parser.parse_args(argv)
    try:
        if args.command == "llama-server-path":
            found = find_binary()
            print(found or f"no llama-server found; {BUILD_HINT}")
            return 0 if found else 1
        existing = cached_binary(default_cache_dir())
        if existing.exists() and not args.force:
            print(f"{existing} exists (use --force to rebuild)")
            return 0
        started = time.monotonic()
        path = build(sdist=args.sdist, jobs=args.jobs)
        print(f"built {path} in {time.monotonic() - started:.0f} s")
        return 0
    except AgentNetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
