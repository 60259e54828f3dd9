"""What a two-model team costs on this machine: one layer of the mixed team (two agents on the
small model, one on the large model, all at once) served three ways.

    python benchmarks/two_models.py                       # qwen2.5-coder-0.5b x2 + qwen2.5-coder-1.5b x1
    python benchmarks/two_models.py --max-tokens 64 --repeats 1 --ways split,full

Ways:
  split   one llama-server per model, the cores divided between them (the pool's default)
  full    one llama-server per model, each with every core (they compete for the cores)
  router  one llama-server in router mode (newer llama.cpp) serving both models: it runs each
          model in a child process of its own, so it is `split` behind one URL; measured when
          the binary has `--models-preset`
  alone   each model by itself with every core, one after the other (the layer's calls of a
          model at once): what a layer costs when the models take turns

For each way it reports each model's completion tokens/s (its tokens over the time until its
last call ended), its tokens/s per slot, and the layer's wall time (the last call's end). The
machine may be shared: the 1-minute load average is printed with each row.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from rich.console import Console
from rich.table import Table

from agentnet.llm import LLMBackend, OpenAIBackend
from agentnet.serving import ServeConfig
from agentnet.serving.llama_server import find_binary
from agentnet.serving.models import resolve
from agentnet.serving.pool import ModelDemand, available_cores, serve_models, split_threads
from agentnet.serving.process import ServerProcess, free_port
from agentnet.types import GenerationSettings, Message

TASK = "A farmer has 3 pens with 4 sheep in each pen. Each sheep eats 2 kg of hay a day. How much hay a week?"
ROLES = ("a careful mathematician", "a programmer who checks by computing", "a sceptical reviewer", "a teacher")


def prompt(i: int) -> list[Message]:
    # each agent asked for a long answer, so every call runs to max_tokens and rows compare
    role = ROLES[i % len(ROLES)]
    return [Message("system", f"You are {role} on a team. Explain every step at length."), Message("user", TASK)]


@dataclass
class Row:
    way: str
    model: str
    slots: int
    threads: str
    tokens: int
    seconds: float  # until the model's last call ended
    layer_s: float
    load: float

    @property
    def tok_s(self) -> float:
        return self.tokens / self.seconds


async def _layer(
    backends: dict[str, LLMBackend], demands: Sequence[ModelDemand], max_tokens: int
) -> dict[str, tuple[int, float]]:
    """All the layer's calls at once; per model (completion tokens, seconds until its last call ended)."""
    settings = GenerationSettings(max_tokens=max_tokens, temperature=0.7, seed=1)
    started = time.perf_counter()

    async def one(model: str, i: int) -> tuple[str, int, float]:
        done = await backends[model].complete(prompt(i), settings)
        return model, done.usage.completion_tokens, time.perf_counter() - started

    calls = [one(d.name, i) for d in demands for i in range(d.slots)]
    out: dict[str, tuple[int, float]] = {}
    for model, tokens, ended in await asyncio.gather(*calls):
        before = out.get(model, (0, 0.0))
        out[model] = (before[0] + tokens, max(before[1], ended))
    for backend in backends.values():  # this loop's HTTP clients, before asyncio.run closes it
        closer = getattr(backend, "aclose", None)
        if closer is not None:
            await closer()
    return out


def wait_for_quiet(max_load: float, max_wait_s: float, console: Console) -> float:
    """The 1-minute load average once it is below `max_load` (or after `max_wait_s`)."""
    waited = 0.0
    while (load := os.getloadavg()[0]) >= max_load and waited < max_wait_s:
        if waited == 0:
            console.print(f"[dim]load {load:.2f} >= {max_load}: waiting (up to {max_wait_s:.0f} s)…[/]")
        time.sleep(10)
        waited += 10
    return load


def measure(
    way: str,
    backends: dict[str, LLMBackend],
    demands: Sequence[ModelDemand],
    threads: dict[str, str],
    args: argparse.Namespace,
    console: Console,
) -> list[Row]:
    asyncio.run(_layer(backends, demands, 4))  # warm-up: loading, first-call costs
    before = wait_for_quiet(args.max_load, args.max_wait_s, console)
    best: dict[str, tuple[int, float]] | None = None
    for _ in range(args.repeats):
        got = asyncio.run(_layer(backends, demands, args.max_tokens))
        if best is None or max(s for _, s in got.values()) < max(s for _, s in best.values()):
            best = got
    assert best is not None
    layer = max(s for _, s in best.values())
    load = max(before, os.getloadavg()[0])
    rows = [Row(way, d.name, d.slots, threads[d.name], *best[d.name], layer, load) for d in demands]
    for r in rows:
        console.print(f"[dim]{way} {r.model}: {r.tok_s:.1f} tok/s, layer {layer:.1f} s (load {load:.2f})[/]")
    return rows


def pooled(
    way: str, demands: Sequence[ModelDemand], config: ServeConfig, args: argparse.Namespace, console: Console
) -> list[Row]:
    with serve_models(demands, config, timeout_s=900) as pool:
        for note in pool.notes:
            console.print(f"[yellow]{note}[/]")
        threads = {m: _threads_flag(s[0].process.cmd if s[0].process else []) for m, s in pool.servers.items()}
        return measure(way, pool.backends, demands, threads, args, console)


def alone(demands: Sequence[ModelDemand], config: ServeConfig, args: argparse.Namespace, console: Console) -> list[Row]:
    rows = []
    for demand in demands:
        rows += pooled("alone", [demand], config, args, console)
    return rows


def _threads_flag(cmd: Sequence[str]) -> str:
    return cmd[cmd.index("--threads") + 1] if "--threads" in cmd else "?"


def router_supported(config: ServeConfig) -> Path | None:
    import subprocess

    binary = find_binary(config.cache_dir, config.binary)
    if binary is None:
        return None
    text = subprocess.run([str(binary), "--help"], capture_output=True, text=True, timeout=60).stdout
    return binary if "--models-preset" in text else None


@contextmanager
def router(binary: Path, demands: Sequence[ModelDemand], config: ServeConfig, threads: list[int]) -> Iterator[str]:
    """One llama-server in router mode, a preset per model (its file, slots and threads)."""
    with tempfile.TemporaryDirectory(prefix="router-") as tmp:
        preset = Path(tmp) / "models.ini"
        sections = ["version = 1"]
        for demand, n in zip(demands, threads, strict=True):
            model = resolve(demand.name, config.cache_dir)
            sections.append(
                f"[{demand.name}]\nmodel = {model.source}\nparallel = {demand.slots}\n"
                f"c = {config.ctx_size * demand.slots}\nthreads = {n}\nthreads-batch = {n}\n"
                "kv-unified = true\njinja = true\ncache-reuse = 256\nload-on-startup = true"
            )
        preset.write_text("\n\n".join(sections) + "\n")
        port = free_port()
        cmd = [
            str(binary),
            "--models-preset",
            str(preset),
            "--models-max",
            str(len(demands)),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-webui",
        ]
        with ServerProcess(cmd, config.cache_dir / "logs" / f"llama-router-{port}.log") as process:
            url = f"http://127.0.0.1:{port}/v1"
            process.wait_ready(f"{url}/models", 300)
            yield url


def routed(
    binary: Path, demands: Sequence[ModelDemand], config: ServeConfig, args: argparse.Namespace, console: Console
) -> list[Row]:
    threads = split_threads([d.slots for d in demands], available_cores())
    with router(binary, demands, config, threads) as url:
        backends: dict[str, LLMBackend] = {
            d.name: OpenAIBackend(url, model=d.name, timeout_s=900, max_concurrency=d.slots) for d in demands
        }
        return measure(
            "router", backends, demands, {d.name: str(n) for d, n in zip(demands, threads, strict=True)}, args, console
        )


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--models",
        default="qwen2.5-coder-0.5b:2,qwen2.5-coder-1.5b:1",
        help="MODEL:SLOTS,… (slots: the model's agents in the layer)",
    )
    parser.add_argument("--ways", default="split,full,router,alone")
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=1, help="keep the fastest layer of this many")
    parser.add_argument("--ctx-size", type=int, default=2048, help="per slot")
    parser.add_argument("--max-load", type=float, default=2.5, help="wait until the 1-minute load is below this")
    parser.add_argument("--max-wait-s", type=float, default=300)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(argv)
    console = Console(stderr=True)
    demands = [ModelDemand(name, int(slots)) for name, _, slots in (m.partition(":") for m in args.models.split(","))]
    config = ServeConfig(ctx_size=args.ctx_size)
    cores = available_cores()
    rows: list[Row] = []
    for way in args.ways.split(","):
        if way == "split":
            rows += pooled(way, demands, config, args, console)
        elif way == "full":
            rows += pooled(way, demands, replace(config, threads=cores), args, console)
        elif way == "alone":
            rows += alone(demands, config, args, console)
        elif way == "router":
            binary = router_supported(config)
            if binary is None:
                console.print("[yellow]router: this llama-server has no --models-preset (router mode); skipped[/]")
                continue
            rows += routed(binary, demands, config, args, console)
        else:
            raise SystemExit(f"unknown way {way!r}; use split, full, router, alone")
    table = Table(
        "way",
        "model",
        "slots",
        "threads",
        "tokens",
        "s",
        "tok/s",
        "tok/s per slot",
        "layer s",
        "load",
        title=f"one layer, max_tokens {args.max_tokens} · {cores} cores",
    )
    for r in rows:
        table.add_row(
            r.way,
            r.model,
            str(r.slots),
            r.threads,
            str(r.tokens),
            f"{r.seconds:.1f}",
            f"{r.tok_s:.1f}",
            f"{r.tok_s / r.slots:.1f}",
            f"{r.layer_s:.1f}",
            f"{r.load:.2f}",
        )
    Console(width=160).print(table)
    print(
        "| way | model | slots | threads | tok/s | tok/s per slot | layer s | load |\n|---|---|---|---|---|---|---|---|"
    )
    for r in rows:
        print(
            f"| {r.way} | {r.model} | {r.slots} | {r.threads} | {r.tok_s:.1f} | {r.tok_s / r.slots:.1f} | {r.layer_s:.1f} | {r.load:.2f} |"
        )
    alone_rows = [r for r in rows if r.way == "alone"]
    if alone_rows:
        console.print(
            f"alone: the models one after the other take {sum(r.layer_s for r in alone_rows):.1f} s per layer"
        )


if __name__ == "__main__":
    main()
