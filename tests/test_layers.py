"""The package's layers: every import of a module goes downward, as the package docstring lists them.

The docstring of ``minitorch_vision/__init__.py`` names every module from the bottom up; a module may
import only modules named before it. Read with ``ast`` (nothing is imported), so a new module that is
not placed in the list, or an import that goes up or sideways, fails here with its file and line.
Also: no module imports a name from the package only to pass it on (a re-export), so "go to
definition" from a lesson lands on the definition.
"""
import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "minitorch_vision"


def _modules():
    """``{"data.paths": Path, ...}``: every module of the package, by its name inside the package."""
    out = {}
    for p in PKG.rglob("*.py"):
        parts = p.relative_to(PKG).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts:
            out[".".join(parts)] = p
    return out


def _layer_order():
    """The module names of the docstring's layer list, bottom first."""
    doc = ast.get_docstring(ast.parse((PKG / "__init__.py").read_text()))
    block = doc.split("\n\n")[2]                     # the indented list after the paragraph that explains it
    names = []
    for line in block.splitlines():
        text = line.split(":", 1)[1] if ":" in line else line
        names += [n.strip() for n in text.split(",") if n.strip()]
    return names


def _imports(name, path):
    """``[(line, imported module, imported name or None), ...]`` of the package modules ``path`` imports."""
    mods = _modules()
    pkg = name.split(".")[:-1] if path.name != "__init__.py" else name.split(".")
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[:len(pkg) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            elif (node.module or "").startswith("minitorch_vision"):
                target = node.module.removeprefix("minitorch_vision").lstrip(".")
            else:
                continue
            for a in node.names:
                sub = f"{target}.{a.name}" if target else a.name
                out.append((node.lineno, sub, None) if sub in mods else (node.lineno, target, a.asname or a.name))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name.removeprefix("minitorch_vision."), None) for a in node.names
                    if a.name.startswith("minitorch_vision.")]
    return out


def test_the_docstring_lists_every_module_once():
    order, mods = _layer_order(), _modules()
    assert len(order) == len(set(order)), [n for n in order if order.count(n) > 1]
    assert set(order) == set(mods), {"not in the list": set(mods) - set(order), "no such module": set(order) - set(mods)}


def test_imports_go_downward():
    rank = {n: i for i, n in enumerate(_layer_order())}
    wrong = [f"{path.relative_to(PKG.parent)}:{line} imports {target} (listed after {name})"
             for name, path in _modules().items() for line, target, _ in _imports(name, path)
             if target in rank and name in rank and rank[target] >= rank[name]]
    assert not wrong, "\n".join(wrong)


def test_no_import_only_forwards_a_name():
    """A name imported from the package is used in the module that imports it, not only re-exported."""
    forwarded = []
    for name, path in _modules().items():
        tree = ast.parse(path.read_text())
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        forwarded += [f"{path.relative_to(PKG.parent)}:{line} {target}.{what}"
                      for line, target, what in _imports(name, path) if what is not None and what not in used]
    assert not forwarded, "\n".join(forwarded)
