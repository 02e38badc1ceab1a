"""CC: coordinates for position-dependent outputs.

Convolutions are translation-equivariant and global pooling discards where
things were, so a CNN that must output *coordinates as numbers* has to
recover absolute position from side effects (zero padding at the borders).
Liu et al. ("An Intriguing Failing of Convolutional Neural Networks and the
CoordConv Solution", NeurIPS 2018) show that it does so badly, and that
concatenating coordinate channels (CoordConv) fixes it.

Which tasks count (``task`` in the configuration or a pragma): ``regression``
and ``keypoints`` (the configuration's vocabulary), and in pragmas and model
tables also ``coordinate-regression``, ``coordinates``, ``landmarks``,
``pose``, ``localization``/``localisation``. The rule fires only when some
model output is a vector (its spatial frame ended: global pooling, flatten,
Linear), i.e. coordinates regressed as numbers: a model whose outputs are all
feature maps (keypoint heatmaps) is translation-equivariant by design and
finds the peak with convolutions alone.

What counts as coordinates or a positional encoding, from the graph:
a merge (concat or add) one of whose operands is a constant or parameter
tensor (``torch.linspace(...)`` grids, ``nn.Parameter`` embeddings, which the
static reader shows as a non-tensor operand of the merge), a node a reader
marks with ``attrs['coords']`` or ``attrs['positional']``, or a layer whose
class or module path names coordinates or positions (``CoordConv``,
``AddCoords``, ``pos_embed``, ``positional_encoding``). An embedding *added*
with ``x + self.pos_embed`` leaves no node in the static reader's graph, so
such a model needs one of the other signals (or ``# noqa: CC101``).
"""

from __future__ import annotations

import re
from typing import Iterator

from ..diagnostics import Diagnostic, Severity
from ..ir import Constant, Merge, Node
from ..settings import ModelSettings
from .base import ModelContext, Rule, register

COORDINATE_TASKS = frozenset({
    "regression", "keypoints", "keypoint", "coordinate-regression", "coordinates", "coordinate",
    "keypoint-regression", "landmarks", "landmark", "pose", "localization", "localisation",
})

_POSITIONAL_NAME = re.compile(
    r"coord|pos(?:ition(?:al)?)?_?(?:embed|emb|enc)|positional|position_?(?:embed|enc)", re.IGNORECASE
)


def coordinate_task(task: str | None) -> bool:
    return task is not None and task.strip().lower().replace("_", "-") in COORDINATE_TASKS


def _constant_operand(node: Node) -> bool:
    """A tensor operand that is a constant or a parameter varying over positions, not a
    feature map: a ``Constant`` node, or one a reader marked (``attrs['constant']``)."""
    return isinstance(node.op, Constant) or bool(node.attrs.get("constant"))


def coordinate_evidence(ctx: ModelContext) -> Node | None:
    """The first node that gives the model coordinates or a positional encoding."""
    nodes = ctx.graph.nodes
    for node in nodes:
        if node.attrs.get("coords") or node.attrs.get("positional"):
            return node
        if _POSITIONAL_NAME.search(node.type_name or "") or _POSITIONAL_NAME.search(node.name or ""):
            return node
        if isinstance(node.op, Merge) and not node.attrs.get("alternatives"):
            if any(_constant_operand(nodes[i]) for i in node.inputs):
                return node
    return None


@register
class PositionTaskWithoutCoordinates(Rule):
    code = "CC101"
    name = "position-task-without-coordinates"
    severity = Severity.INFO
    summary = "Coordinate-regression task, but the model has no coordinate channels or positional encoding"
    needs_complete_graph = True

    def applicable(self, settings: ModelSettings) -> bool:
        return coordinate_task(settings.task)

    def check(self, ctx: ModelContext) -> Iterator[Diagnostic | None]:
        if not coordinate_task(ctx.settings.task):
            return
        vectors = [name for name, nid in ctx.graph.outputs if ctx.analysis.info(nid).status == "ended"]
        if not vectors:
            return  # every output is a feature map (heatmaps): translation-equivariant by design
        if coordinate_evidence(ctx) is not None:
            return
        outputs = ", ".join(f"'{v}'" for v in vectors)
        yield self.diagnostic(
            ctx,
            ctx.graph.loc,
            f"task '{ctx.settings.task}' regresses positions, and output {outputs} is a vector "
            f"(the spatial map was pooled or flattened), but no coordinate channels or positional "
            f"encoding reach the model: convolutions are translation-equivariant, so absolute position "
            f"is only available from border effects of the padding, and coordinate regression learns "
            f"slowly and generalises poorly (Liu et al. 2018, CoordConv). Concatenate coordinate channels "
            f"(torch.cat([x, xx, yy], dim=1) with xx, yy in [-1, 1]) at the input or before the head, add "
            f"a positional encoding, or predict heatmaps and take a (soft-)argmax.",
        )
