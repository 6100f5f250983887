"""Print the import graph between hoifit's packages and check the layering.

python scripts/import_graph.py [--root DIR]

The kernel (`reconstruction`) imports no other package; a stage (`perception`, `retrieval`,
`contact`, `optim`) imports the kernel and never another stage; only the composition root
(`hoifit`) composes them. Exit status 1 when an import breaks that rule (each one is listed).
"""

import argparse
import ast
import sys
from collections import defaultdict
from pathlib import Path

KERNEL = "reconstruction"
STAGES = ("perception", "retrieval", "contact", "optim")
ROOT = "hoifit"
PACKAGES = (ROOT, KERNEL, *STAGES)
ALLOWED = {ROOT: set(PACKAGES), KERNEL: {KERNEL}} | {stage: {stage, KERNEL} for stage in STAGES}


def package_imports(root: Path) -> dict[tuple[str, str], list[str]]:
    """{(importer package, imported package): ["file:line", ...]} over the packages' modules."""
    edges = defaultdict(list)
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    target = name.split(".")[0]
                    if target in PACKAGES:
                        where = f"{path.relative_to(root)}:{node.lineno}"
                        edges[(package, target)].append(where)
    return edges


def violations(edges: dict[tuple[str, str], list[str]]) -> list[str]:
    """One line per import that breaks the layering."""
    return [
        f"{where}: {source} imports {target}"
        for (source, target), places in sorted(edges.items())
        if target not in ALLOWED[source]
        for where in places
    ]


def main(argv: list[str] | None = None) -> int:
    """Print the graph and the broken imports; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--root", default=Path(__file__).resolve().parent.parent, type=Path)
    args = parser.parse_args(argv)
    edges = package_imports(args.root)
    for source in PACKAGES:
        targets = sorted(t for (s, t) in edges if s == source and t != source)
        print(f"{source:15s} -> {', '.join(targets) or '(nothing)'}")
    broken = violations(edges)
    for line in broken:
        print(f"layering broken: {line}")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
