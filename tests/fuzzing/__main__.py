"""`make fuzz`: every entry point of `targets.py` on mutated inputs, on every core.

    python -m tests.fuzzing [--inputs N] [--jobs J] [--seed S] [--out DIR]

Each input is a seed (`seeds.py`) changed a few times: bytes flipped, dropped or doubled,
pieces of other seeds spliced in, and the values that broke parsers before (CR, LF, NUL,
digits outside ASCII, numbers of thousands of digits, unbalanced quotes) inserted. The run
fails (exit 1) on any exception a target does not declare, on any input that takes more
than a second, and on a server transaction left open; each failing input is saved to
`--out` for replay. Progress goes to stderr; the table of results to stdout.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.fuzzing.seeds import seeds
from tests.fuzzing.targets import TARGETS, Target

HANG = 1.0  # seconds
CHUNK = 20_000  # inputs per task: small enough to report progress, large enough to be cheap
INTERESTING = (
    b"\r\n", b"\r", b"\n", b"\x00", b"\xff", "²".encode(), "\u0661".encode(), b"9" * 5000,
    b"-1", b"0", b"4294967296", b",", b";", b'"', b"<", b">", b"\\", b" / ", b"\t", b"?",
    b"%00", b"[", b"]", b"=", b"Content-Length: 99\r\n", b"l: 0\r\n", b"Via: ,\r\n",
)  # fmt: skip


@dataclass
class Tally:
    target: str
    inputs: int = 0
    seconds: float = 0.0
    slowest: float = 0.0
    failures: list[tuple[str, bytes]] = field(default_factory=list)


def mutate(rng: random.Random, pool: Sequence[bytes]) -> bytes:
    data = bytearray(rng.choice(pool))
    for _ in range(rng.randint(1, 6)):
        kind = rng.randrange(6)
        at = rng.randint(0, len(data))
        if kind == 0 and data:
            data[min(at, len(data) - 1)] = rng.randrange(256)
        elif kind == 1:
            data[at:at] = rng.choice(INTERESTING)
        elif kind == 2:
            del data[at : at + rng.randint(1, 40)]
        elif kind == 3:
            data[at:at] = data[at : at + rng.randint(1, 80)]
        elif kind == 4:
            other = rng.choice(pool)
            start = rng.randint(0, len(other))
            data[at:at] = other[start : start + rng.randint(1, 200)]
        else:
            data = bytearray(rng.randbytes(rng.randint(0, 300)))
    return bytes(data[:70_000])


def run_chunk(task: tuple[int, int, int]) -> Tally:
    """`count` inputs for one target, from an RNG seeded with `seed`."""
    index, count, seed = task
    target: Target = TARGETS[index]
    rng = random.Random(seed)
    pool = seeds(target.name)
    tally = Tally(target.name)
    started = time.perf_counter()
    for _ in range(count):
        data = mutate(rng, pool)
        before = time.perf_counter()
        try:
            target.run(data)
        except target.declared:
            pass
        except Exception:  # the finding: record it and go on
            tally.failures.append((traceback.format_exc(limit=-3), data))
        took = time.perf_counter() - before
        tally.slowest = max(tally.slowest, took)
        if took > HANG:
            tally.failures.append((f"took {took:.2f} s (over {HANG} s)", data))
    tally.inputs = count
    tally.seconds = time.perf_counter() - started
    return tally


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzzing", description=__doc__)
    parser.add_argument("--inputs", type=int, default=1_000_000, help="in all (default 1M)")
    parser.add_argument("--jobs", type=int, default=multiprocessing.cpu_count())
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--out", type=Path, default=Path("fuzz-failures"))
    args = parser.parse_args(argv)
    per_target = max(1, -(-args.inputs // len(TARGETS)))  # rounded up: at least --inputs
    tasks = [
        (index, min(CHUNK, per_target - done), args.seed * 1_000_003 + index * 7919 + done)
        for index in range(len(TARGETS))
        for done in range(0, per_target, CHUNK)
    ]
    print(f"fuzzing {len(TARGETS)} entry points, {per_target:,} inputs each, seed {args.seed},"
          f" {args.jobs} processes", file=sys.stderr)  # fmt: skip
    totals = {t.name: Tally(t.name) for t in TARGETS}
    started = time.perf_counter()
    with multiprocessing.Pool(args.jobs) as workers:
        for finished, tally in enumerate(workers.imap_unordered(run_chunk, tasks), 1):
            total = totals[tally.target]
            total.inputs += tally.inputs
            total.seconds += tally.seconds
            total.slowest = max(total.slowest, tally.slowest)
            total.failures += tally.failures
            if finished % max(1, len(tasks) // 20) == 0 or finished == len(tasks):
                done = sum(t.inputs for t in totals.values())
                print(f"  {done:,} inputs, {time.perf_counter() - started:.0f} s",
                      file=sys.stderr)  # fmt: skip
    return report(list(totals.values()), time.perf_counter() - started, args.out)


def report(tallies: list[Tally], wall: float, out: Path) -> int:
    print(f"{'entry point':28} {'inputs':>12} {'CPU s':>8} {'slowest ms':>11} {'failures':>9}")
    for tally in tallies:
        print(f"{tally.target:28} {tally.inputs:>12,} {tally.seconds:>8.1f} "
              f"{tally.slowest * 1000:>11.2f} {len(tally.failures):>9}")  # fmt: skip
    inputs = sum(t.inputs for t in tallies)
    failures = [(t.target, f) for t in tallies for f in t.failures]
    print(f"{'total':28} {inputs:>12,} {wall:>8.1f} {'(wall)':>11} {len(failures):>9}")
    for number, (target, (reason, data)) in enumerate(failures[:50]):
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"{target}-{number}.bin"
        path.write_bytes(data)
        print(f"\n{target}: {path}\n{reason}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
