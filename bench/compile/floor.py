"""The floor of a command: libyaml loading its input plus libyaml writing its output.

Run as its own process by `bench.compile` so its peak memory can be compared
with the command's: `python -m bench.compile.floor --output OUT.yaml IN...`.
The output objects are read from the command's own output one document at a
time, outside the timed part; what is timed is loading every input file to
plain data (CSafeLoader) and writing the output objects (CSafeDumper). Prints
one JSON line: CPU seconds and wall seconds of the timed part.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import yaml

try:
    from yaml import CSafeDumper as Dumper
    from yaml import CSafeLoader as Loader
except ImportError:  # PyYAML without libyaml
    from yaml import SafeDumper as Dumper  # type: ignore[assignment]
    from yaml import SafeLoader as Loader  # type: ignore[assignment]


def _inputs(paths: list[str]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        out.extend(sorted(f for f in p.rglob("*.yaml")) if p.is_dir() else [p])
    return out


def _output_objects(path: str | None) -> list[Any]:
    """The objects a command wrote: a YAML stream, or JSON objects one after another,
    with or without `---` between them (as some targets write their own config entries)."""
    if not path:
        return []
    text = Path(path).read_text(encoding="utf-8")
    if text.lstrip().startswith(("{", "[")):
        return _json_stream(text)
    return [d for d in yaml.load_all(text, Loader=Loader) if d is not None]


def _json_stream(text: str) -> list[Any]:
    decoder, at = json.JSONDecoder(), 0
    out: list[Any] = []
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if text.startswith("---", at):
            at += 3
            continue
        if at == len(text):
            return out
        value, at = decoder.raw_decode(text, at)
        out.append(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="+")
    parser.add_argument("--output", default=None, help="the command's output (YAML)")
    args = parser.parse_args(argv)
    files = _inputs(args.inputs)
    objects = _output_objects(args.output)
    wall, cpu = time.perf_counter(), time.process_time()
    loaded = []
    for f in files:
        with f.open(encoding="utf-8") as fh:
            loaded.append(list(yaml.load_all(fh, Loader=Loader)))
    text = yaml.dump_all(objects, Dumper=Dumper, sort_keys=False) if objects else ""
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(json.dumps({"seconds": cpu, "wall": wall, "bytes": len(text), "files": len(loaded)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
