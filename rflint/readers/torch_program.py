"""Reading a ``torch.export`` archive (``.pt2``) without torch's deserialiser.

A ``.pt2`` written by ``torch.export.save`` is a zip: ``<stem>/models/<name>.json``
holds the program (graph, signature, tensor shapes, per-node ``stack_trace``
and ``nn_module_stack``) as JSON; ``data/weights``, ``data/constants`` and
``data/sample_inputs`` hold tensors, some of them as pickles. rflint needs the
graph and the shapes of the parameters, which the JSON has, so this module
opens the zip with ``zipfile``, reads the JSON with ``json``, and never
touches the other members: no pickle, no ``torch.load``, no ``sympy``. See
``readers/torch.py`` for what ``torch.export.load`` would run and why it is
not used. The archives of torch 2.7 and earlier
(``serialized_exported_program.json`` at the top) have the same JSON.

Everything here is pure Python and imports no torch: a corrupt or hostile
file is at worst a clear RL001 error.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Any

from .torch_graph import Call, Program, Ref, Shape

MAX_JSON_BYTES = 32 * 1024 * 1024
"""A program's JSON larger than this is refused, whatever size its zip entry claims (it is
read through a bounded stream): a ResNet-50's is under a megabyte, a ViT-H's a few, and a
400 KB zip bomb once expanded to 2.4 GB."""

_MODEL_JSON = re.compile(r"(?:^|/)models/(?P<name>[^/]+)\.json$")
_LEGACY_JSON = "serialized_exported_program.json"
KNOWN_SCHEMA_MAJOR = 8
"""The major version of torch.export's serialisation schema this reader was written for."""


class BadProgram(Exception):
    """The archive or its program is not what ``torch.export.save`` writes; the message says how."""


def programs(data: bytes, stem: str) -> list[tuple[Program, str]]:
    """Every program in a ``.pt2`` archive, with a note on its schema version ('' when known)."""
    if not data:
        raise BadProgram("empty file (a .pt2 written by torch.export.save is a zip archive)")
    if not data.startswith(b"PK"):
        raise BadProgram("not a zip archive (a .pt2 written by torch.export.save is one)")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise BadProgram(f"truncated or corrupt zip archive ({exc})") from None
    with archive:
        members = [i for i in archive.infolist() if _MODEL_JSON.search(i.filename) or i.filename.endswith(_LEGACY_JSON)]
        if not members:
            names = ", ".join(i.filename for i in archive.infolist()[:6]) or "no members"
            raise BadProgram(f"a zip archive without a torch.export program (no models/*.json; it holds: {names})")
        found: list[tuple[Program, str]] = []
        for info in members:
            match = _MODEL_JSON.search(info.filename)
            name = match.group("name") if match else "model"
            if info.file_size > MAX_JSON_BYTES:
                raise BadProgram(f"{info.filename}: {info.file_size} bytes, more than a program's JSON can be")
            try:
                with archive.open(info) as member:
                    raw = member.read(MAX_JSON_BYTES + 1)
            except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as exc:
                raise BadProgram(f"{info.filename}: cannot read the member ({exc})") from None
            if len(raw) > MAX_JSON_BYTES:
                raise BadProgram(f"{info.filename}: expands to more than {MAX_JSON_BYTES:,} bytes, more than a program's JSON can be")
            try:
                doc = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise BadProgram(f"{info.filename}: not UTF-8 (byte {exc.start})") from None
            except json.JSONDecodeError as exc:
                raise BadProgram(f"{info.filename}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
            except RecursionError:
                raise BadProgram(f"{info.filename}: JSON nested too deeply") from None
            found.append(parse_program(doc, name if len(members) > 1 or name != "model" else stem, info.filename))
        return found


def parse_program(doc: Any, name: str, where: str) -> tuple[Program, str]:
    """The neutral Program of one serialised ``ExportedProgram`` (a JSON document)."""
    try:
        return _parse(doc, name)
    except BadProgram:
        raise
    except (KeyError, TypeError, AttributeError, ValueError, IndexError) as exc:
        detail = f"missing key {exc}" if isinstance(exc, KeyError) else f"{type(exc).__name__}: {exc}"
        raise BadProgram(f"{where}: not a torch.export program this reader understands ({detail})") from None


def _parse(doc: Any, name: str) -> tuple[Program, str]:
    if not isinstance(doc, dict) or "graph_module" not in doc:
        raise BadProgram("the JSON is not a serialised ExportedProgram (no graph_module)")
    note = ""
    version = doc.get("schema_version") or {}
    major = version.get("major") if isinstance(version, dict) else None
    if isinstance(major, int) and major != KNOWN_SCHEMA_MAJOR:
        note = (f"written with torch.export schema version {major}.{version.get('minor')}; this reader knows "
                f"{KNOWN_SCHEMA_MAJOR}.x, so an operator may be misread")
    gm = doc["graph_module"]
    graph = gm["graph"]
    shapes = {k: _shape(v.get("sizes")) for k, v in (graph.get("tensor_values") or {}).items()}
    constants: dict[str, Shape | None] = {}
    inputs: list[str] = []
    for spec in gm["signature"]["input_specs"]:
        (kind, body), = spec.items()
        arg = body.get("arg", {})
        tensor = arg.get("name") if "name" in arg else _tensor_name(arg)
        if tensor is None:
            continue
        if kind == "user_input":
            inputs.append(tensor)
        else:
            constants[tensor] = shapes.get(tensor)
    calls: list[Call] = []
    for index, node in enumerate(graph["nodes"]):
        target = str(node["target"])
        target = target.removeprefix("torch.ops.")
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for item in node.get("inputs") or []:
            value = _arg(item["arg"])
            if item.get("kind", 1) == 1 and not kwargs:
                args.append(value)
            else:
                kwargs[str(item.get("name"))] = value
        outputs = tuple(_output(o) for o in node.get("outputs") or [])
        out_shapes = tuple(
            tuple(shapes.get(n) for n in o) if isinstance(o, tuple) else shapes.get(o) if isinstance(o, str) else None
            for o in outputs
        )
        meta = node.get("metadata") or {}
        calls.append(Call(index, str(node.get("name") or _first(outputs) or f"node{index}"), target, tuple(args),
                          kwargs, outputs, out_shapes, _module_stack(meta.get("nn_module_stack")),
                          meta.get("stack_trace") or None))
    outputs = [_tensor_name(spec_arg) for spec_arg in _user_outputs(gm["signature"])]
    program = Program(name, inputs, constants, calls, outputs, {n: shapes.get(n) for n in inputs})
    return program, note


def _shape(sizes: Any) -> Shape | None:
    if not isinstance(sizes, list):
        return None
    out: list[int | str] = []
    for s in sizes:
        if "as_int" in s:
            out.append(int(s["as_int"]))
        elif "as_expr" in s:
            out.append(str(s["as_expr"].get("expr_str", "?")))  # kept as text, never evaluated
        else:
            out.append("?")
    return tuple(out)


def _tensor_name(arg: Any) -> str | None:
    if isinstance(arg, dict) and "as_tensor" in arg:
        return str(arg["as_tensor"]["name"])
    return None


def _first(outputs: tuple[Any, ...]) -> str | None:
    return next((o for o in outputs if isinstance(o, str)), None)


def _output(o: Any) -> Any:
    """A tensor name, a tuple of names (``as_tensors``), or None for a non-tensor output."""
    (kind, body), = o.items()
    if kind == "as_tensor":
        return str(body["name"])
    if kind in ("as_tensors", "as_optional_tensors"):
        return tuple(str(t["name"]) if "name" in t else _tensor_name(t) for t in body)
    return None


def _arg(arg: Any) -> Any:
    """One serialised argument as a plain value: ``Ref`` for tensors, ints, floats,
    strings, lists; a symbolic int as its expression text (never evaluated)."""
    if not isinstance(arg, dict) or len(arg) != 1:
        raise BadProgram(f"malformed argument {str(arg)[:60]}")
    (kind, body), = arg.items()
    if kind == "as_none":
        return None
    if kind == "as_tensor":
        return Ref(str(body["name"]))
    if kind == "as_tensors":
        return [Ref(str(t["name"])) for t in body]
    if kind == "as_optional_tensors":
        return [Ref(str(t["as_tensor"]["name"])) if "as_tensor" in t else None for t in body]
    if kind in ("as_int", "as_float", "as_bool", "as_string", "as_ints", "as_floats", "as_bools", "as_strings"):
        return body
    if kind == "as_sym_int":
        return _sym(body)
    if kind == "as_sym_ints":
        return [_sym(b) for b in body]
    if kind in ("as_sym_float", "as_sym_bool"):
        return _sym(body)
    return f"<{kind}>"  # dtypes, layouts, devices, graphs of higher-order ops: not geometry


def _sym(body: Any) -> Any:
    if isinstance(body, dict):
        if "as_int" in body:
            return int(body["as_int"])
        if "as_float" in body:
            return float(body["as_float"])
        if "as_name" in body:
            return str(body["as_name"])
    return "?"


def _module_stack(text: Any) -> tuple[tuple[str, str], ...]:
    """``key,path,class;key,path,class`` (outermost first) -> ((path, class), ...)."""
    if not isinstance(text, str) or not text:
        return ()
    out: list[tuple[str, str]] = []
    for item in text.split(";"):
        parts = item.split(",")
        if len(parts) >= 3:
            out.append((",".join(parts[1:-1]), parts[-1]))
    return tuple(out)


def _user_outputs(signature: dict[str, Any]) -> list[Any]:
    out = []
    for spec in signature.get("output_specs") or []:
        (kind, body), = spec.items()
        if kind == "user_output":
            out.append(body.get("arg"))
    return out
