"""RF: receptive field against the objects the model must see.

The "RF of a model" is the local frame of its last spatial feature map, with
global gates left out (DESIGN.md); squeeze-and-excitation and attention
gates give global context, which the message mentions rather than counts.
"""

from __future__ import annotations

from typing import Iterator

from ..diagnostics import Diagnostic, Severity
from ..settings import ModelSettings
from .base import ModelContext, Rule, register


def _px(values: list[int]) -> str:
    return (str(values[0]) if len(set(values)) == 1 else "x".join(map(str, values))) + " px"


@register
class RfSmallerThanObject(Rule):
    code = "RF101"
    name = "rf-smaller-than-object"
    severity = Severity.WARNING
    summary = "A model output's receptive field is smaller than the largest configured object"
    needs_complete_graph = True

    def applicable(self, settings: ModelSettings) -> bool:
        return settings.object_size is not None

    def check(self, ctx: ModelContext) -> Iterator[Diagnostic | None]:
        if ctx.settings.object_size is None:
            return
        largest = max(ctx.settings.object_size)
        ndim = ctx.graph.ndim
        sizes = ctx.analysis.input_size
        if sizes is None and ctx.settings.input_size is not None:
            given = tuple(ctx.settings.input_size)
            sizes = given if len(given) == ndim else given[-1:] * ndim
        # An object cannot be larger than the image it is in.
        need = [min(largest, sizes[a]) if sizes else largest for a in range(ndim)]

        short: list[tuple[str, list[int], bool]] = []
        for name, nid in ctx.analysis.spatial_outputs():
            info = ctx.analysis.info(nid)
            if info.frames is None:
                continue
            r = [f.r for f in info.frames]
            if any(r[a] < need[a] for a in range(ndim)):
                short.append((name, r, info.is_global))
        if not short:
            return
        at = f" at input {_px(list(sizes))}" if sizes else ""
        object_text = f"object size {largest} px"
        if need != [largest] * ndim:
            object_text += f" (capped at the input, {_px(need)})"
        if len(short) == 1 and len(ctx.graph.outputs) == 1:
            _, r, is_global = short[0]
            head = f"Output RF {_px(r)} < {object_text}{at}"
            gates = is_global
        else:
            listed = ", ".join(f"'{name}' {_px(r)}" for name, r, _ in short)
            head = f"Output RF < {object_text}{at} for {listed}"
            gates = any(g for _, _, g in short)
        message = (
            f"{head}: the largest objects do not fit in what one output position sees "
            f"(local receptive field, per axis). Grow it with more stride or depth, dilation or larger "
            f"kernels, or lower the configured object-size."
        )
        if gates:
            message += (
                " The output also has global context through a squeeze-and-excitation or attention gate, "
                "which is not counted as receptive field."
            )
        yield self.diagnostic(ctx, ctx.graph.loc, message)
