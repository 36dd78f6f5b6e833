"""The suite's boundaries, checked on the source (every import statement, those inside
functions included):

- the engine (``mobench/``) imports no family and no solver;
- ``metrics`` imports neither the engine nor a family nor a solver;
- no family imports a solver, and no family imports another family;
- a solver imports a family only through its public API (``mobench.problems.<family>``, its
  ``__init__``), never one of its modules;
- no import circle among the modules.

Why not import-linter (grimp): it builds the graph by walking one package's folder, and this
distribution maps four folders (``mobench/``, ``problems/``, ``solvers/``, ``metrics/``) into one
package through setuptools' package-dir, which its walk does not follow; reading the four
folders' ASTs takes forty lines.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {"mobench": "mobench", "problems": "mobench.problems", "solvers": "mobench.solvers",
           "metrics": "mobench.metrics"}


def modules(root: Path, folders=FOLDERS) -> dict[str, Path]:
    """Module name -> file, for every .py file of the mapped folders."""
    out = {}
    for folder, package in folders.items():
        for path in sorted((root / folder).rglob("*.py")):
            parts = path.relative_to(root / folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if "templates" in parts or "__pycache__" in parts:
                continue
            out[".".join((package, *parts))] = path
    return out


def bound_names(path: Path) -> set[str]:
    """The names a module binds at its top level (definitions, assignments, imports)."""
    names = set()
    for node in ast.parse(path.read_text(), str(path)).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.ImportFrom) and node.level and node.module is None:
            continue  # ``from . import sub``: binds a submodule, which stays a module
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                names |= {n.id for n in ast.walk(t) if isinstance(n, ast.Name)}
    return names


def imports(name: str, path: Path, known: dict[str, Path]) -> list[tuple[str, int]]:
    """(imported module, line) for every import in the file: relative imports resolved, and
    ``from package import name`` read as the module ``package.name`` when that is a module the
    package's ``__init__`` does not bind a name over (then it is the package's attribute)."""
    is_package = path.name == "__init__.py"
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base if is_package else base[:-1]
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            exported = bound_names(known[target]) if target in known else set()
            for a in node.names:
                sub = f"{target}.{a.name}"
                out.append((sub if sub in known and a.name not in exported else target, node.lineno))
    return [(m, line) for m, line in out if m == "mobench" or m.startswith("mobench.")]


def area(module: str) -> tuple[str, str | None]:
    """('engine' | 'metrics' | 'family' | 'solvers', family name or None)."""
    parts = module.split(".")
    if len(parts) > 1 and parts[1] == "problems":
        return "family", (parts[2] if len(parts) > 2 else None)
    if len(parts) > 1 and parts[1] in ("solvers", "metrics"):
        return parts[1], None
    return "engine", None


def violations(root: Path, folders=FOLDERS) -> list[str]:
    mods = modules(root, folders)
    known = mods
    graph: dict[str, set[str]] = {m: set() for m in mods}
    found = []
    for name, path in mods.items():
        src_area, src_family = area(name)
        where = path.relative_to(root)
        for target, line in imports(name, path, known):
            graph[name].add(target)
            dst_area, dst_family = area(target)
            if src_area == "engine" and dst_area in ("family", "solvers"):
                found.append(f"{where}:{line}: the engine imports {target}")
            elif src_area == "metrics" and dst_area != "metrics":
                found.append(f"{where}:{line}: metrics imports {target}")
            elif src_area == "family" and dst_area == "solvers":
                found.append(f"{where}:{line}: a family imports the solver module {target}")
            elif src_area == "family" and dst_area == "family" and dst_family not in (None, src_family):
                found.append(f"{where}:{line}: family {src_family!r} imports family {dst_family!r} ({target})")
            elif src_area == "solvers" and dst_area == "family" and len(target.split(".")) > 3:
                public = ".".join(target.split(".")[:3])
                found.append(f"{where}:{line}: a solver imports {target}, a module inside a family; "
                             f"import it from {public} (the family's public API)")
    found += [f"import circle: {' -> '.join(c + [c[0]])}" for c in circles(graph)]
    return found


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (or a module importing
    itself), each as a list of modules (Tarjan's algorithm, iterative)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        m = stack.pop()
                        on.discard(m)
                        comp.append(m)
                        if m == node:
                            break
                    if len(comp) > 1 or node in graph[node]:
                        out.append(sorted(comp))
    return out


def test_the_suite_keeps_its_boundaries_and_has_no_import_circle():
    found = violations(ROOT)
    assert not found, "\n".join(found)
    assert {area(m)[0] for m in modules(ROOT)} == {"engine", "metrics", "family", "solvers"}


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_each_rule_fails_on_a_deliberate_violation(tmp_path):
    """A small tree with one breach of each rule: the check names every one."""
    _write(tmp_path, {
        "mobench/__init__.py": "",
        "mobench/runner.py": "def f():\n    from .solvers import ppo\n",             # engine -> solver
        "metrics/__init__.py": "from ..registry import make\n",                     # metrics -> engine
        "problems/__init__.py": "",
        "problems/shop/__init__.py": "from .rules import dispatch\n",
        "problems/shop/rules.py": "from ...solvers.sac import X\n",                 # family -> solver
        "problems/store/__init__.py": "from ..shop import rules\n",                 # family -> family
        "solvers/__init__.py": "",
        "solvers/sac.py": "",
        "solvers/ppo.py": "from ..problems.shop.rules import dispatch\n",           # solver -> family internals
        "solvers/a.py": "from . import b\n",
        "solvers/b.py": "def g():\n    from .a import h\n",                         # circle a -> b -> a
    })
    found = "\n".join(violations(tmp_path))
    assert "mobench/runner.py:2: the engine imports mobench.solvers.ppo" in found
    assert "metrics/__init__.py:1: metrics imports mobench.registry" in found
    assert "problems/shop/rules.py:1: a family imports the solver module mobench.solvers.sac" in found
    assert "problems/store/__init__.py:1: family 'store' imports family 'shop'" in found
    assert ("solvers/ppo.py:1: a solver imports mobench.problems.shop.rules, a module inside a family; "
            "import it from mobench.problems.shop") in found
    assert "import circle: mobench.solvers.a -> mobench.solvers.b -> mobench.solvers.a" in found
    assert len(violations(tmp_path)) == 6


def test_public_imports_pass(tmp_path):
    _write(tmp_path, {
        "mobench/__init__.py": "from .registry import make\nfrom .metrics import hv\n",
        "mobench/registry.py": "",
        "metrics/__init__.py": "from .pareto import hv\n",
        "metrics/pareto.py": "",
        "problems/__init__.py": "",
        "problems/shop/__init__.py": "from ...registry import make\nfrom ...metrics import hv\nfrom .rules import d\n",
        "problems/shop/rules.py": "",
        "solvers/__init__.py": "",
        "solvers/ppo.py": "from ..problems.shop import d\nfrom ..problems import shop\n",
    })
    assert violations(tmp_path) == []


@pytest.mark.parametrize("text, expected", [("from . import x", "mobench.solvers"), ("from .. import x", "mobench"),
                                            ("from ..problems import shop", "mobench.problems.shop")])
def test_relative_imports_resolve(tmp_path, text, expected):
    _write(tmp_path, {"solvers/__init__.py": "", "solvers/m.py": text, "problems/__init__.py": "",
                      "problems/shop/__init__.py": ""})
    known = modules(tmp_path)
    assert imports("mobench.solvers.m", tmp_path / "solvers" / "m.py", known)[0][0] == expected
