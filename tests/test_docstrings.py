"""Every public object of fastmlp has a docstring, and every parameter has an entry in its
NumPy-style ``Parameters`` section (what the documentation site renders from, docs/api).

Public: the modules of the package without a leading underscore in their path, and in each
the classes and functions it defines or lists in ``__all__`` (re-exports such as
``fastmlp.get_num_threads``), with every public method and property of those classes,
inherited ones from fastmlp's own base classes included. A class documents its
constructor's parameters in its own docstring."""
import importlib
import inspect
import pkgutil
import re

import pytest

import fastmlp

MODULES = ["fastmlp"] + sorted(
    m.name for m in pkgutil.walk_packages(fastmlp.__path__, "fastmlp.")
    if not any(part.startswith("_") for part in m.name.split(".")))


def _api_objects():
    """(module, name) -> object of every public class and function, each object once."""
    found, seen = {}, set()
    for modname in MODULES:
        module = importlib.import_module(modname)
        exported = set(getattr(module, "__all__", ()))
        for name, obj in vars(module).items():
            if name.startswith("_") or not (inspect.isclass(obj) or inspect.isroutine(obj)):
                continue
            if getattr(obj, "__module__", None) != modname and name not in exported:
                continue  # an import: checked in the module that defines or exports it
            if id(obj) not in seen:
                seen.add(id(obj))
                found[f"{modname}.{name}"] = obj
    return found


def _members(cls):
    """(qualified name, defining class, function) of the public methods and properties of
    cls, including those it inherits from fastmlp classes (public or not)."""
    for klass in cls.__mro__:
        if not klass.__module__.startswith("fastmlp"):
            continue  # object's, typing.Protocol's, scikit-learn's mixins
        for name, attr in vars(klass).items():
            if name.startswith("_"):
                continue
            if isinstance(attr, property):
                yield f"{klass.__module__}.{klass.__qualname__}.{name}", klass, attr
            elif isinstance(attr, (classmethod, staticmethod)):
                yield f"{klass.__module__}.{klass.__qualname__}.{name}", klass, attr.__func__
            elif inspect.isfunction(attr):
                yield f"{klass.__module__}.{klass.__qualname__}.{name}", klass, attr


def _cases():
    cases = {}
    for qualname, obj in _api_objects().items():
        cases[qualname] = (obj, obj)
        if inspect.isclass(obj):
            for member_name, klass, member in _members(obj):
                cases.setdefault(member_name, (klass, member))
    return cases


CASES = _cases()


def _own_doc(obj):
    """The docstring as the site shows it: a class's own (not a base class's), a method's
    or property's own or else the one it overrides (as autodoc inherits it)."""
    if inspect.isclass(obj):
        doc = vars(obj).get("__doc__")
        return inspect.cleandoc(doc) if doc else ""
    doc = inspect.getdoc(obj) or ""
    # A pybind11 function's docstring starts with its signature, which documents nothing.
    if inspect.isbuiltin(obj) and doc.startswith(f"{obj.__name__}("):
        doc = doc.partition("\n")[2].strip()
    return doc


def _documented(doc):
    """Names with an entry in the Parameters (or Other Parameters) section: a line at the
    section's indentation, ``x : type`` or ``x, y : type`` or ``*layers``."""
    names, in_section = set(), False
    lines = doc.splitlines()
    for i, line in enumerate(lines):
        underline = i + 1 < len(lines) and re.fullmatch(r"-{3,}", lines[i + 1].strip())
        if underline:
            in_section = line.strip() in ("Parameters", "Other Parameters")
        elif in_section and line and not line[0].isspace() and not re.fullmatch(r"-+", line):
            entry = line.split(" : ")[0]
            names.update(n.strip().lstrip("*") for n in entry.split(","))
    return names


def _parameters(obj):
    """(named parameters, other names an entry may have) of a function or of a class's
    constructor: no self or cls; ``*args`` may have an entry, and with ``**kwargs`` any name
    may (the keywords it passes on)."""
    if isinstance(obj, property):
        return [], set()  # the setter takes the value that the property describes
    try:
        params = list(inspect.signature(obj).parameters.values())
    except ValueError:  # a builtin without a signature
        return [], set()
    if params and params[0].name in ("self", "cls") and not inspect.isclass(obj):
        params = params[1:]
    named = [p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return named, None
    return named, {p.name for p in params if p.kind is p.VAR_POSITIONAL}


@pytest.mark.parametrize("modname", MODULES)
def test_module_has_a_docstring(modname):
    assert (importlib.import_module(modname).__doc__ or "").strip(), f"{modname}: no docstring"


@pytest.mark.parametrize("qualname", sorted(CASES))
def test_public_object_documents_its_parameters(qualname):
    owner, obj = CASES[qualname]
    doc = _own_doc(obj)
    assert doc, f"{qualname} has no docstring"
    named, others = _parameters(obj)
    documented = _documented(doc)
    missing = [n for n in named if n not in documented]
    assert not missing, f"{qualname}: parameters {missing} have no entry under Parameters"
    if others is not None:  # an entry for no parameter: it was renamed or removed
        stale = sorted(documented - set(named) - others)
        assert not stale, f"{qualname}: Parameters has {stale}, which the signature has not"


def test_the_walk_finds_the_api():
    # Guards the walk itself: a filter gone wrong would make every test above vacuous.
    for name in ("fastmlp.Sequential", "fastmlp.nn.Sequential.fit", "fastmlp.functional.linear",
                 "fastmlp.optim.SGD", "fastmlp.cli.main", "fastmlp.get_num_threads",
                 "fastmlp.params.Parameter.data", "fastmlp.tabular.Preprocessing.from_json"):
        assert name in CASES, name
    assert {m.rpartition(".")[0] for m in CASES} >= {"fastmlp.onnx", "fastmlp.interop"}
