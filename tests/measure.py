"""Measure the receptive field of a real torch network: the oracle for whole models.

DESIGN.md's method: positive weights, max pools as average pools (also
``F.max_pool2d`` called in ``forward``), norms and activations as
identities, so that no path cancels; backpropagate from one output position
whose field stays clear of the borders; the support of the input gradient is
the field. Thin inputs, long along the measured axis, keep this cheap.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import math
import signal
import time
import types
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence, TypeVar

import torch
import torch.nn as nn
import torch.nn.functional as F

_NORMS = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm, nn.modules.instancenorm._InstanceNorm, nn.LocalResponseNorm)


def _avg_like(pool: nn.Module) -> nn.Module:
    cls = {nn.MaxPool1d: nn.AvgPool1d, nn.MaxPool2d: nn.AvgPool2d, nn.MaxPool3d: nn.AvgPool3d}[type(pool)]
    if getattr(pool, "dilation", 1) not in (1, (1, 1), (1, 1, 1)):
        raise ValueError("dilated max pooling has no average-pool twin")
    return cls(pool.kernel_size, pool.stride, pool.padding, ceil_mode=pool.ceil_mode)


def prepare(model: nn.Module, weights: str = "random") -> nn.Module:
    """Make every path positive and linear (in place): see the module docstring.

    ``weights``: ``"random"`` draws each weight in [0.5, 1.5); ``"mean"`` sets every
    weight of a layer to 1/fan-in, so that each layer averages and values stay of
    order one through a hundred layers (whole models), and costs no random draws.
    Biases become zero either way.
    """
    _linearise(model)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.modules.conv._ConvNd, nn.Linear)):
                if weights == "mean":
                    m.weight.fill_(1.0 / m.weight[0].numel())
                else:
                    m.weight.copy_(torch.rand_like(m.weight) + 0.5)
                if m.bias is not None:
                    m.bias.zero_()
    return model.eval().double()


def _linearise(model: nn.Module) -> None:
    """Max pools become average pools; norms, activations and dropout identities."""
    for name, child in list(model.named_children()):
        if isinstance(child, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)):
            setattr(model, name, _avg_like(child))
        elif isinstance(child, _NORMS) or isinstance(child, (nn.ReLU, nn.ReLU6, nn.SiLU, nn.GELU, nn.Hardswish,
                                                              nn.LeakyReLU, nn.ELU, nn.Dropout, nn.Dropout2d,
                                                              nn.Sigmoid, nn.Tanh, nn.Hardsigmoid, nn.Mish)):
            setattr(model, name, nn.Identity())
        else:
            _linearise(child)


@contextlib.contextmanager
def functional_max_as_avg() -> Iterator[None]:
    """``F.max_pool2d`` and friends called in forward become average pools while measuring;
    activations called functionally become identities."""
    saved = {}
    patches: dict[str, Callable] = {}
    for n in (1, 2, 3):
        avg = getattr(F, f"avg_pool{n}d")

        def max_as_avg(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False, _avg=avg):
            return _avg(x, kernel_size, stride, padding, ceil_mode=ceil_mode)

        patches[f"max_pool{n}d"] = max_as_avg
    ident = lambda x, *a, **k: x  # noqa: E731
    for name in ("relu", "relu6", "silu", "gelu", "hardswish", "leaky_relu", "dropout"):
        patches[name] = ident
    for name, fn in patches.items():
        saved[name] = getattr(F, name)
        setattr(F, name, fn)
    saved_torch_relu = torch.relu
    torch.relu = ident  # type: ignore[assignment]
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(F, name, fn)
        torch.relu = saved_torch_relu  # type: ignore[assignment]


@dataclass(frozen=True)
class Measured:
    """Measured frame along one axis: per phase (start, end) relative to ``o*j``."""

    j: Fraction
    alpha: tuple[Fraction, ...]
    beta: tuple[Fraction, ...]

    @property
    def r(self) -> int:
        return int(max(b - a for a, b in zip(self.alpha, self.beta))) + 1

    @property
    def padding(self) -> Fraction:
        return -min(self.alpha)


def support(grad: torch.Tensor, axis: int) -> tuple[int, int] | None:
    """First and last input index along ``axis`` with a nonzero gradient."""
    dims = [d for d in range(grad.dim()) if d != axis]
    mass = grad.abs().sum(dim=dims)
    idx = torch.nonzero(mass > 0).flatten()
    if idx.numel() == 0:
        return None
    return int(idx[0]), int(idx[-1])


def measure(
    model: nn.Module,
    shape: tuple[int, ...],
    period: int = 1,
    output: Callable[[nn.Module, torch.Tensor], torch.Tensor] | None = None,
    axis: int = -1,
) -> Measured:
    """Frame of ``output(model, x)`` (default: ``model(x)``) along the last axis.

    ``shape`` is the input shape, long along ``axis``. Positions ``m..m+2*period``
    around the middle of the output are measured; ``j`` comes from the shift
    between outputs ``period`` apart.
    """
    mid, spans = measure_spans(prepare(model), shape, period, output, axis)
    return frame_of(mid, spans, period)


def measure_spans(
    model: nn.Module,
    shape: tuple[int, ...],
    period: int = 1,
    output: Callable[[nn.Module, torch.Tensor], torch.Tensor] | None = None,
    axis: int = -1,
    position: Callable[[int], int] | None = None,
) -> tuple[int, list[tuple[int, int]]]:
    """The measuring step of :func:`measure`, on a model :func:`prepare` has made linear:
    the first output position ``m`` and, for ``m..m+2*period-1``, the first and last
    input index along ``axis`` with a nonzero gradient (one forward, one backward each).
    ``position(n_out)`` picks ``m`` (default: the middle of the output)."""
    x, y = forward(model, shape, output)
    n_out = y.shape[axis]
    mid = n_out // 2 if position is None else position(n_out)
    mid -= mid % period
    if mid < 0 or mid + 2 * period > n_out:
        raise AssertionError(f"output is too short ({n_out}) to measure positions {mid}..{mid + 2 * period - 1}")
    spans = [span(x, y, o, axis, last=o == mid + 2 * period - 1) for o in range(mid, mid + 2 * period)]
    return mid, spans


def forward(model: nn.Module, shape: tuple[int, ...],
            output: Callable[[nn.Module, torch.Tensor], torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """An all-ones float64 input of ``shape`` that requires grad, and what ``output`` makes of it."""
    x = torch.ones(shape, dtype=torch.float64, requires_grad=True)
    with functional_max_as_avg():
        y = output(model, x) if output is not None else model(x)
    return x, y


def span(x: torch.Tensor, y: torch.Tensor, o: int, axis: int = -1, last: bool = False) -> tuple[int, int]:
    """First and last input index along ``axis`` that output position ``o`` depends on
    (one backward; ``last`` frees the graph)."""
    grad, = torch.autograd.grad(_select(y, axis, o).sum(), x, retain_graph=not last)
    s = support(grad, axis % x.dim())
    if s is None:
        raise AssertionError(f"output {o} reads no input (a gap)")
    return s


def frame_of(mid: int, spans: list[tuple[int, int]], period: int = 1) -> Measured:
    """The frame from the spans of outputs ``mid..mid+2*period-1``: ``j`` from the
    shift between outputs ``period`` apart, which must move both ends alike."""
    j = Fraction(spans[period][0] - spans[0][0], period)
    if spans[period][1] - spans[0][1] != j * period:
        raise AssertionError(f"measured frame is not periodic with period {period}: {spans}")
    alpha = tuple(Fraction(spans[p][0]) - (mid + p) * j for p in range(period))
    beta = tuple(Fraction(spans[p][1]) - (mid + p) * j for p in range(period))
    return Measured(j, alpha, beta)


def _select(y: torch.Tensor, axis: int, index: int) -> torch.Tensor:
    """Output position ``index`` along ``axis`` and the middle of every other spatial axis."""
    axis %= y.dim()
    idx: list[object] = [slice(None)] * y.dim()
    for d in range(2, y.dim()):
        idx[d] = index if d == axis else y.shape[d] // 2
    return y[tuple(idx)]


# ---------------------------------------------------------------------- whole models (torchvision)
#
# A whole classification network ends in a global pooling or a flatten; the
# "RF of the model" is the frame of the last spatial feature map, the tensor
# that enters it. Squeeze-and-excitation gates would make every value depend
# on the whole input: while measuring they pass their input through.


def _is_gate(module: nn.Module) -> bool:
    """Squeeze-and-excitation style gates: torchvision's ``SqueezeExcitation``
    (MobileNetV3, EfficientNet, RegNet) and any model's own class of such a name."""
    try:
        from torchvision.ops.misc import SqueezeExcitation
    except ImportError:  # pragma: no cover - torchvision is installed where this runs
        return False
    names = {c.__name__ for c in type(module).__mro__}
    return isinstance(module, SqueezeExcitation) or bool(names & {"SqueezeExcitation", "SqueezeExcite", "SELayer", "SEModule"})


def neutralise_gates(model: nn.Module) -> nn.Module:
    """Replace every squeeze-and-excitation gate by the identity (in place): such a
    gate scales its input by a global statistic, which the local frame leaves out."""
    for name, child in list(model.named_children()):
        if _is_gate(child):
            setattr(model, name, nn.Identity())
        else:
            neutralise_gates(child)
    return model


class Captured(Exception):
    """Raised by :func:`stop_at_global_pooling` with the tensor that entered the global step."""

    def __init__(self, tensor: torch.Tensor, where: str) -> None:
        super().__init__(where)
        self.tensor = tensor
        self.where = where


def _covers_spatial(x: torch.Tensor, dims: object) -> bool:
    """Whether ``dims`` (of ``Tensor.mean``) covers every spatial axis of an (N, C, ...) tensor."""
    if x.dim() < 3 or dims is None:
        return False
    listed = [dims] if isinstance(dims, int) else list(dims)  # type: ignore[call-overload]
    return set(range(2, x.dim())) <= {int(d) % x.dim() for d in listed}


@contextlib.contextmanager
def stop_at_global_pooling() -> Iterator[None]:
    """While active, the first global pooling or flatten of a tensor with spatial
    axes raises :class:`Captured` carrying its input: the last spatial feature map,
    still attached to the autograd graph.

    Caught: ``nn.AdaptiveAvgPool2d``/``nn.AdaptiveMaxPool2d`` and their functional
    forms, ``torch.flatten``/``Tensor.flatten``/``nn.Flatten``, and ``Tensor.mean``
    over all spatial axes (ShuffleNet, MNASNet).
    """
    saved: list[tuple[object, str, object]] = []

    def patch(owner: object, name: str, fn: object) -> None:
        saved.append((owner, name, getattr(owner, name)))
        setattr(owner, name, fn)

    def stopping(original: Callable, where: str) -> Callable:
        def fn(x, *args, **kwargs):
            if isinstance(x, torch.Tensor) and x.dim() >= 3:
                raise Captured(x, where)
            return original(x, *args, **kwargs)
        return fn

    def stopping_method(original: Callable, where: str) -> Callable:
        def forward(self, x, *args, **kwargs):
            if isinstance(x, torch.Tensor) and x.dim() >= 3:
                raise Captured(x, where)
            return original(self, x, *args, **kwargs)
        return forward

    original_mean = torch.Tensor.mean

    def mean(self, *args, **kwargs):
        if _covers_spatial(self, kwargs.get("dim", args[0] if args else None)):
            raise Captured(self, "Tensor.mean")
        return original_mean(self, *args, **kwargs)

    for owner, name in ((F, "adaptive_avg_pool2d"), (F, "adaptive_max_pool2d"), (torch, "flatten")):
        patch(owner, name, stopping(getattr(owner, name), name))
    patch(torch.Tensor, "flatten", stopping(torch.Tensor.flatten, "Tensor.flatten"))
    for cls in (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.Flatten):
        patch(cls, "forward", stopping_method(cls.forward, cls.__name__))
    patch(torch.Tensor, "mean", mean)
    try:
        yield
    finally:
        for owner, name, fn in reversed(saved):
            setattr(owner, name, fn)


def last_spatial_map(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The tensor that enters ``model``'s first global pooling or flatten."""
    try:
        with stop_at_global_pooling():
            model(x)
    except Captured as c:
        return c.tensor
    raise AssertionError(f"{type(model).__name__} never pooled globally nor flattened: no last spatial map")


def smallest_input(model: nn.Module, output: Callable[[nn.Module, torch.Tensor], torch.Tensor],
                   channels: int = 3, limit: int = 1024) -> int:
    """Smallest square input side ``s`` for which ``output(model, x)`` runs and keeps
    every spatial axis non-empty. Each axis is separable, so ``s`` is also the
    smallest valid height of a thin input."""

    def runs(s: int) -> bool:
        x = torch.ones((1, channels, s, s), dtype=torch.float64)
        try:
            with torch.no_grad(), functional_max_as_avg():
                y = output(model, x)
        except (RuntimeError, ValueError):  # what torch raises for a map that shrank to nothing
            return False
        return all(n > 0 for n in y.shape[2:])

    hi = 1
    while not runs(hi):
        hi *= 2
        if hi > limit:
            raise AssertionError(f"no input up to {limit} pixels runs through {type(model).__name__}")
    lo = hi // 2  # runs(lo) is False (or lo == 0)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if runs(mid):
            hi = mid
        else:
            lo = mid
    return hi


@dataclass(frozen=True)
class WholeModel:
    """A whole model's measured frame along the last axis and how it was measured."""

    frame: Measured
    shape: tuple[int, ...]
    spans: tuple[tuple[int, int], ...]
    tries: int


def measure_whole(
    model: nn.Module,
    output: Callable[[nn.Module, torch.Tensor], torch.Tensor] = last_spatial_map,
    channels: int = 3,
    width: int = 512,
    limit: int = 1 << 15,
    gates: bool = True,
    height: int | None = None,
) -> WholeModel:
    """Frame of the last spatial feature map of ``model`` along its width.

    Gates are neutralised and the model prepared in place (each layer averaging:
    ``prepare(weights="mean")``). The input is thin: the smallest height the model
    accepts, and a width that grows until the measured field stays clear of both
    borders by at least half its size. A path that reads padding would leave the
    measured field short of the true one, but then the measured field would reach
    to within one dilated tap of the border, and no tap step exceeds half the
    field. Each try measures one output first (one backward); only when that one
    is clear does a second backward, on its neighbour, give ``j``. The output
    measured is the one whose field is centred in the input.

    ``gates=False`` leaves squeeze-and-excitation gates in place (for an ``output``
    that removes their global path itself, e.g. under :func:`detach_global_statistics`);
    ``height`` fixes the thin input's height (for models whose valid sizes are not
    an interval, e.g. multi-resolution fusions that need a multiple of 32).
    """
    model = prepare(neutralise_gates(model) if gates else model, weights="mean")
    for p in model.parameters():
        p.requires_grad_(False)  # only the input's gradient is read
    if height is None:
        height = smallest_input(model, output, channels)
    offset: float | None = None  # centre of the field relative to o * (width / n_out)
    tries = 0
    while width <= limit:
        tries += 1
        shape = (1, channels, height, width)
        x, y = forward(model, shape, output)
        n_out = y.shape[-1]
        if n_out < 2:
            width *= 2
            continue
        step = width / n_out  # an estimate of j, only to choose positions
        o = n_out // 2 if offset is None else round(((width - 1) / 2 - offset) / step)
        o = max(0, min(n_out - 2, o))
        first, last = span(x, y, o)
        size = last - first + 1
        if first == 0 or last == width - 1:
            # The field reached a border, so it may be clipped: widen and look again.
            offset = None
            width *= 2
            continue
        offset = (first + last) / 2 - o * step
        if min(first, width - 1 - last) < size / 2:
            width = max(width + 32, _round_up(2 * size + 4 * math.ceil(step), 32))
            continue
        spans = [(first, last), span(x, y, o + 1, last=True)]
        frame = frame_of(o, spans)
        return WholeModel(frame, shape, tuple(spans), tries)
    raise AssertionError(f"the field still reaches the borders at width {limit}")


def _round_up(n: int, m: int) -> int:
    return -(-n // m) * m


# ---------------------------------------------------------------------- global statistics without gradient
#
# A gate scales (or shifts) its input by a function of a global statistic of it:
# SE, ECA, gather-excite, split attention, selective kernels, GRN, EvoNorm's group
# std... The local frame leaves that path out. Rather than knowing every gate by
# name, the statistics themselves can be cut from the autograd graph while
# measuring: then only local paths reach the input's gradient.

#: Reductions whose result is detached when they reduce over a spatial axis of a 4-D tensor,
#: with the position of their ``dim`` argument (after the tensor).
_REDUCTIONS = {"mean": 0, "sum": 0, "nansum": 0, "nanmean": 0, "amax": 0, "amin": 0, "var": 0, "std": 0,
               "logsumexp": 0, "norm": 1}
_PAIRED = {"var_mean": 0, "std_mean": 0}  # torch.* only, returning two tensors


def _reduces_spatially(x: object, args: tuple, kwargs: dict, dim_at: int) -> bool:
    """Whether a reduction of ``x`` covers axis 2 or 3 of a 4-D tensor: H or W of NCHW,
    W or C of NHWC (a per-position channel statistic carries no spatial reach, so
    detaching it changes no frame). A channel reduction of NCHW (``dim=1``, CBAM's
    local spatial attention) is left alone; so is every tensor of another rank."""
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        return False
    dims = kwargs.get("dim", args[dim_at] if len(args) > dim_at else None)
    if dims is None:
        return True  # a full reduction
    if isinstance(dims, str):
        return False  # named dimensions: not used by the models measured here
    listed = [dims] if isinstance(dims, int) else list(dims)
    return bool({int(d) % 4 for d in listed} & {2, 3})


def _detached(out: object) -> object:
    """A statistic as a constant: ones (floating) or the detached value (integer)."""
    if isinstance(out, torch.Tensor):
        return torch.ones_like(out) if out.is_floating_point() else out.detach()
    if isinstance(out, tuple):
        return type(out)(*(_detached(o) for o in out)) if hasattr(out, "_fields") else tuple(_detached(o) for o in out)
    return out


@contextlib.contextmanager
def detach_global_statistics() -> Iterator[None]:
    """While active, every global statistic of a feature map carries no gradient.

    Detached: ``F.adaptive_{avg,max}_pool{1,2,3}d`` (whatever the output size: an
    adaptive cell grows with the input) and the reductions ``mean``, ``sum``,
    ``amax``, ``amin``, ``var``, ``std``, ``norm``, ``logsumexp`` (Tensor methods and
    ``torch.*``, and ``torch.linalg.vector_norm``, ``torch.var_mean``/``std_mean``) of a
    4-D tensor over axis 2 or 3 (see :func:`_reduces_spatially`). Each such statistic
    becomes a constant, ones: a gate ``x * g(mean(x))`` becomes, for the gradient,
    ``x`` times a constant, which has ``x``'s local frame; split attention
    ``sum_i a_i * branch_i`` becomes a positive sum of its branches. (Ones rather
    than the detached values: with activations as identities a gate's value would
    be of the order of ``x``, and gates in series would square the values until
    they overflow.)
    A global statistic on the main path itself would leave no gradient at all (the
    measurement fails loudly, "a gap"); one not caught here (e.g. an attention over
    all positions) keeps the field growing with the input (it fails loudly too).
    """
    saved: list[tuple[object, str, object]] = []

    def patch(owner: object, name: str, fn: object) -> None:
        saved.append((owner, name, getattr(owner, name)))
        setattr(owner, name, fn)

    def method(original: Callable, dim_at: int) -> Callable:
        def fn(self, *args, **kwargs):
            out = original(self, *args, **kwargs)
            return _detached(out) if _reduces_spatially(self, args, kwargs, dim_at) else out
        return fn

    def function(original: Callable, dim_at: int) -> Callable:
        def fn(x, *args, **kwargs):
            out = original(x, *args, **kwargs)
            return _detached(out) if _reduces_spatially(x, args, kwargs, dim_at) else out
        return fn

    def always(original: Callable) -> Callable:
        def fn(*args, **kwargs):
            return _detached(original(*args, **kwargs))
        return fn

    for name, dim_at in _REDUCTIONS.items():
        patch(torch.Tensor, name, method(getattr(torch.Tensor, name), dim_at))
        patch(torch, name, function(getattr(torch, name), dim_at))
    for name, dim_at in _PAIRED.items():
        patch(torch, name, function(getattr(torch, name), dim_at))
    patch(torch.linalg, "vector_norm", function(torch.linalg.vector_norm, 1))
    for kind in ("avg", "max"):
        for n in (1, 2, 3):
            name = f"adaptive_{kind}_pool{n}d"
            patch(F, name, always(getattr(F, name)))
    try:
        yield
    finally:
        for owner, name, fn in reversed(saved):
            setattr(owner, name, fn)


# ---------------------------------------------------------------------- measuring scripts


def import_file(path: Path, name: str) -> types.ModuleType:
    """Import the model file ``path`` as module ``name``: the test, not rflint, runs it."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Timeout(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise Timeout()


T = TypeVar("T")


def measure_each(items: Sequence[T], name: Callable[[T], str], measure_one: Callable[[T], dict[str, Any]],
                 summary: Callable[[dict[str, Any], float], str],
                 timeout: int) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """Measure every item, each under ``timeout`` seconds; one that fails or times out is
    said and skipped (the others go on). The records, and (name, why) of the failures."""
    records, failed = [], []
    signal.signal(signal.SIGALRM, _alarm)
    for i, item in enumerate(items, 1):
        start = time.perf_counter()
        signal.alarm(timeout)
        try:
            rec = measure_one(item)
        except Timeout:
            failed.append((name(item), f"timeout after {timeout}s"))
            print(f"[{i}/{len(items)}] {name(item)}: TIMEOUT", flush=True)
            continue
        except Exception as e:  # noqa: BLE001 - report and go on
            failed.append((name(item), f"{type(e).__name__}: {e}"))
            print(f"[{i}/{len(items)}] {name(item)}: FAILED {type(e).__name__}: {str(e)[:300]}", flush=True)
            continue
        finally:
            signal.alarm(0)
        records.append(rec)
        print(f"[{i}/{len(items)}] {name(item)}: {summary(rec, time.perf_counter() - start)}", flush=True)
    return records, failed


def write_records(path: Path, head: dict[str, Any], key: str, records: list[dict[str, Any]]) -> None:
    """A data file of measured records, one per line (diffs stay readable)."""
    lines = ["{"] + [f"  {json.dumps(k)}: {json.dumps(v)}," for k, v in head.items()] + [f"  {json.dumps(key)}: ["]
    lines += [f"    {json.dumps(r)}{',' if i < len(records) - 1 else ''}" for i, r in enumerate(records)]
    lines += ["  ]", "}"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
