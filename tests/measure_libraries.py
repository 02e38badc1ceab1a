"""Measure the receptive field of the model libraries people use: the ground truth rflint's
static read of segmentation-models-pytorch, MONAI, diffusers, efficientnet_pytorch and
torchvision's detection and segmentation models is held to.

Run: ``python tests/measure_libraries.py`` (every record, rewrites
``tests/data/libraries_measured.json``), ``--only NAME ...`` (re-measure those records, keep
the others), ``--list`` (the records, how each model is built and what rflint reads),
``--check`` (the cross-checks below, nothing written), ``--dry`` (measure, write nothing),
``--timeout S`` (per record, default 300).

What is measured, per record (one record per model and output)
----------------------------------------------------------------

Each model of :data:`SPECS` is instantiated by its library, exactly as ``build`` says (no
pretrained weights anywhere), and measured with ``tests/measure.py``'s gradient-support
method: positive averaging weights (``measure.prepare(weights="mean")``), max pools as
average pools, norms, activations and dropout as identities (also the libraries' own:
efficientnet_pytorch's ``Swish``/``MemoryEfficientSwish``, MONAI's ``PReLU``, by
``measure_timm.timm_prepare``'s rules and :data:`_ACTIVATION_CLASSES`), functional
activations as identities (``measure_timm.functional_identities``), values kept in range
by detached rescaling (``measure_timm.Rescaled``: attention gates and SE gates multiply two
local paths); the support of the input gradient of one output position is that
position's field. The input is thin, long along the width, and the frame is read along
the width; its ``height`` is a small multiple of the model's largest stride (its natural
input shape: every level has whole rows, skip connections meet at equal sizes, smp's
divisibility check passes), always through the model's own ``forward``.

- **Width**: grown until the field of the middle output stays clear of both borders by
  half its size (as ``measure.measure_whole`` does: a path that read padding would bring
  the field within one tap of a border).
- **Every phase**: outputs after upsampling (UNet decoders, FPN top-down paths, diffusion
  and VAE decoders, DeepLabV3's bilinear head) read their input with a period ``q > 1``:
  output ``o`` reads ``[o*j + alpha[o mod q], o*j + beta[o mod q]]``. ``2*qmax + 8``
  consecutive outputs around the middle are measured (``qmax`` per spec: the largest
  period the model's strides allow, e.g. 32 for a depth-5 UNet, 8 for three
  downsamplings) on an input widened so that all of them are clear of the borders by half
  the largest field, and the smallest period ``q`` (any integer up to half the outputs)
  that they all repeat with, both ends shifting alike by ``q*j > 0``, is kept. ``j`` may be
  a fraction (the VAE decoder reads its latent: ``j = 1/2``).
- **Precision**: measured in float32 on one thread (float32 convolutions are five times
  faster than float64 ones on this CPU, and with two threads OpenMP's workers wait on each
  other whenever the second core is busy: 30 ms for a convolution that takes 0.5 ms on one;
  ``RFLINT_MEASURE_THREADS`` overrides); then the two outputs whose phases give ``min(alpha)`` and ``max(beta)`` are
  measured again in float64 and must give the same supports (no gradient underflowed at
  the edges of the field).
- **Global**: ``global`` is measured, not assumed. The prepared model runs with every gate
  and attention live (no statistic detached) on an input of the record's height and a
  width past the local field of the first output; ``global`` is true when output (row 0,
  column 0) has a nonzero gradient at the opposite corner pixel (last row, last column).
  The same check with the local context on (below) must find a zero there: then the local
  frame recorded is all there is besides the global path (``global_checked_at``).
- **Local frame** (``local_context``): every record is measured with global statistics
  detached (``measure.detach_global_statistics``: SE gates of EfficientNet encoders,
  ASPP image pooling of DeepLabV3/V3+ become constants) and, for diffusers, attention
  detached (:func:`attention_detached`: each ``Attention`` returns ``(ones + input) /
  rescale_output_factor``, i.e. its residual with the attention term a constant; an
  attention without a residual connection would leave no local path and fails loudly).
  This is rflint's convention (DESIGN.md: global paths end their frame; a merge with a
  local branch keeps the local frame and marks it global). MONAI's ``AttentionUnet``
  gates are local (``x * psi(W_x x + W_g up(g))``): measured ``global: false``.

Record fields: ``name``; ``library`` (pip distribution) and its ``version``; ``build``
(the Python call that instantiated the model and what was measured on it); for rflint
``file`` (relative to site-packages) and ``entry`` (``FILE::entry``) and ``output`` (the
output's name as rflint names the values ``forward`` returns: a tensor is ``output``, a
dict entry ``output['key']``, a tuple item ``output[i]``); ``what``: ``output`` (that
output's frame) or ``last_spatial_map`` (the map before the global pooling that ends
``output``, rflint's ``spatial_outputs``); ``input_size`` ``[H, W]`` (the measured input's
spatial size, to give rflint); ``measured_on`` (the tensor shape); ``periodic``; ``r``,
``j``, ``P``, ``alpha``, ``beta`` (fractions as strings, ``q = len(alpha)``, along the
width, in input pixels); ``global``, ``global_checked_at``, ``local_context``;
``outputs_measured``; ``handling`` (what was done to the model); ``seconds``.

Output names chosen
-------------------

- smp models, MONAI networks, the VAE's ``Encoder``/``Decoder``: ``forward`` returns one
  tensor: ``output`` (smp returns ``(masks, labels)`` only with ``aux_params``; DynUNet
  stacks deep-supervision heads only in training).
- diffusers ``UNet2DModel``: ``forward`` returns ``UNet2DOutput(sample=...)``, a
  ``BaseOutput``, which is an ``OrderedDict`` whose one key is ``'sample'``:
  ``output['sample']`` (as rflint names a dict entry; ``return_dict`` left at its default).
- torchvision ``BackboneWithFPN``: an ``OrderedDict`` with keys ``'0'``..``'3'``, ``'pool'``:
  ``output['0']`` ... ``output['pool']``, one record each. ``deeplabv3_resnet50``: an
  ``OrderedDict`` with ``'out'`` only (no ``aux_loss``): ``output['out']``.
- efficientnet_pytorch ``EfficientNet``: ``forward`` pools and classifies: ``output`` has
  no spatial axes; the record is its ``last_spatial_map`` (``extract_features``' result,
  the tensor entering ``_avg_pooling``).

What rflint reads (``file::entry``), and where it differs from what was instantiated
------------------------------------------------------------------------------------

- smp: ``segmentation_models_pytorch/decoders/<unet|fpn|deeplabv3>/model.py::<Class>(
  encoder_name=..., encoder_weights=None)``: the classes themselves.
- MONAI: ``monai/networks/nets/<file>.py::<Class>(spatial_dims=2, ...)``; diffusers:
  ``diffusers/models/unets/unet_2d.py::UNet2DModel(...)``; the VAE halves are read as
  ``diffusers/models/autoencoders/vae.py::Encoder(...)`` / ``Decoder(...)`` with the
  keyword arguments ``AutoencoderKL.__init__`` passes them (the measured modules are
  ``AutoencoderKL(...).encoder`` / ``.decoder``; ``--check`` compares their parameter
  shapes with ``Encoder(...)``/``Decoder(...)`` built directly).
- efficientnet_pytorch: ``efficientnet_pytorch/model.py::EfficientNet.from_name(
  'efficientnet-b0')``: a classmethod call, the only way the library builds a model from
  literals (``EfficientNet(blocks_args, global_params)`` takes namedtuples). rflint's entry
  grammar takes ``Name(literal args)`` today, not a dotted name: the test fails until it does.
- ``fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None).backbone`` is built by
  ``_resnet_fpn_extractor(resnet50(), 5, norm_layer=nn.BatchNorm2d)``; rflint reads
  ``torchvision/models/detection/backbone_utils.py::resnet_fpn_backbone(
  backbone_name='resnet50', weights=None)``, the public factory of the same
  ``BackboneWithFPN`` (same layers; its default norm is ``FrozenBatchNorm2d``, and norms
  are identities in the measurement: ``--check`` compares the two modules' convolutions
  and pools). The detector's own ``forward`` resizes images to 800 pixels and returns
  boxes: not a dense map.
- ``deeplabv3_resnet50(weights=None, weights_backbone=None)``: the factory in
  ``torchvision/models/segmentation/deeplabv3.py``.

Not periodic: smp FPN and DeepLabV3+
-------------------------------------

Both upsample with ``align_corners=True`` bilinear interpolation (FPN's segmentation
blocks, DeepLabV3+'s ``decoder.up``, and both heads' ``nn.Upsample(scale_factor=4,
align_corners=True)``), and then merge pyramid levels. With ``align_corners=True`` a map of
``n`` positions upsampled to ``m`` is read at ``o*(n-1)/(m-1)``: the jump of the upsampled
level becomes ``J*(n-1)/(m-1)``, which differs from the finer level's ``J*n/m`` at every
input size (FPN at width W: ``32*(W/32-1)/(W/4-1)`` for the deepest level against ``4`` for
``p2``: the deepest level spans ``W-32`` input pixels where ``p2`` spans ``W-4``). Merged
branches with different jumps have no periodic frame at any size. These records say
``periodic: false`` with ``why``, keep ``spans`` (``[o, first, last]`` of 16 consecutive
outputs around the middle, measured as above, for the record's input) and ``r_window``
(the widest of them), and no ``j``/``alpha``/``beta``; the test expects rflint to read the
whole model and to report the output's frame unknown because merged branches have
different jumps. Their records use height 64 (the deepest level then has two rows: an
``align_corners`` resampling from one row is a case of its own).

Cross-checks (``--check`` re-measures them with ``measure.measure_whole``, float64)
----------------------------------------------------------------------------------

1. smp ``Unet(encoder_name='resnet34')``'s encoder is torchvision's ResNet-34 (7x7/2,
   3x3/2 max pool, basic blocks [3, 4, 6, 3]): its deepest map (``encoder(x)[-1]``) and
   torchvision ``resnet34``'s last spatial map both measure r=899, j=32, P=449. By hand:
   stem r=7 (j=2), pool r=11 (j=4); layer1's six 3x3 at j=4 add 48 (r=59); layer2's
   strided 3x3 adds 8 (j=8), its seven others 112 (r=179); layer3 16 + 11*32 (r=547,
   j=16); layer4 32 + 5*64: r=899, j=32, and every layer pads (k-1)/2: P=(r-1)/2=449.
2. smp's ``efficientnet-b0`` encoder (smp's port of efficientnet_pytorch) and
   efficientnet_pytorch's ``extract_features`` have the same blocks and the same static
   'same' padding (computed for 224 pixels): the encoder's deepest map and
   ``extract_features`` (which only adds a 1x1 ``_conv_head``) measure the same frame,
   r=851, j=32, P=394 (alpha -394, beta 456): timm's ``tf_efficientnet_b0`` in
   ``timm_measured.json`` (dynamic 'same' padding at 224) has the same r and P, and
   torchvision's symmetric ``efficientnet_b0`` r=851, P=425.
3. torchvision's FPN: ``'3'`` is a 1x1 then a 3x3 convolution (padding 1) on ResNet-50's
   ``layer4`` (r=427, j=32, P=213): r=427+64=491, j=32, P=245; ``'pool'`` is
   ``max_pool2d(kernel 1, stride 2)`` of ``'3'``: the same alpha/beta at j=64.
4. The VAE decoder has one nearest x2 upsampling: its output reads its latent with
   ``j = 1/2`` and period 2.
5. Detaching attention by making it a constant keeps exactly the residual path: the
   same frame comes out when each attention returns its input unchanged (attention as
   the identity, no constant).
6. Not re-run by ``--check``, seen in ``tests/test_libraries_measured.py``: rflint's static
   read of torchvision's ``deeplabv3_resnet50`` (its backbone already held to measurement
   by ``tests/test_torchvision.py``) gives exactly this file's record, r=1027, j=1, P=520
   with eight phases (the bilinear x8 head) and the global flag (ASPP image pooling); and
   its read of smp's FPN and DeepLabV3+ with the resnet34 encoder stops exactly where the
   measurement says no periodic frame exists (merged branches with different jumps).
   ``test_the_harness_settles_periods_and_detects_global_paths`` runs the whole pipeline
   on two toys with known answers (a period-2 frame; an SE-style gate: global, local
   frame of the convolutions).

A full run takes about 150 s on this machine (smp's resnet34 Unet and torchvision's
DeepLabV3, about 30 s each, are the slowest; MONAI's and the VAE's records take under
two seconds).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import importlib.util
import json
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import (
    Measured,
    _round_up,
    detach_global_statistics,
    functional_max_as_avg,
    measure_each,
    prepare,
    span,
    write_records,
)
from measure_timm import Rescaled, functional_identities, timm_prepare

DATA = Path(__file__).resolve().parent / "data" / "libraries_measured.json"

#: Activation modules of the libraries measured here, by class name (identities while measuring).
_ACTIVATION_CLASSES = {"Swish", "MemoryEfficientSwish", "Mish", "MemoryEfficientMish", "GELU", "SiLU", "PReLU"}


# ---------------------------------------------------------------------- how each model is built


def _quiet(fn: Callable[[], nn.Module]) -> nn.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn()


def smp_model(cls: str, encoder: str) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        import segmentation_models_pytorch as smp

        return _quiet(lambda: getattr(smp, cls)(encoder_name=encoder, encoder_weights=None))
    return build


MONAI_KW: dict[str, dict[str, Any]] = {
    "UNet": dict(spatial_dims=2, in_channels=1, out_channels=2, channels=(16, 32, 64, 128), strides=(2, 2, 2)),
    "BasicUNet": dict(spatial_dims=2, in_channels=1, out_channels=2),
    "SegResNet": dict(spatial_dims=2, in_channels=1, out_channels=2),
    "DynUNet": dict(spatial_dims=2, in_channels=1, out_channels=2, kernel_size=[3, 3, 3, 3], strides=[1, 2, 2, 2],
                    upsample_kernel_size=[2, 2, 2]),
    "AttentionUnet": dict(spatial_dims=2, in_channels=1, out_channels=2, channels=(16, 32, 64, 128), strides=(2, 2, 2)),
}


def monai_model(cls: str) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        from monai.networks import nets

        return _quiet(lambda: getattr(nets, cls)(**MONAI_KW[cls]))
    return build


UNET2D_KW: dict[str, Any] = dict(sample_size=64, block_out_channels=(32, 64, 64, 64), layers_per_block=1)
#: A small AutoencoderKL: two levels (one downsampling), one ResNet block per level.
VAE_KW: dict[str, Any] = dict(block_out_channels=(32, 64), down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
                              up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"), layers_per_block=1,
                              latent_channels=4, norm_num_groups=32)
#: What ``AutoencoderKL.__init__`` passes to ``Encoder`` and ``Decoder`` for :data:`VAE_KW` (rflint's entries).
ENCODER_KW: dict[str, Any] = dict(in_channels=3, out_channels=4, down_block_types=VAE_KW["down_block_types"],
                                  block_out_channels=(32, 64), layers_per_block=1, act_fn="silu", norm_num_groups=32,
                                  double_z=True, mid_block_add_attention=True)
DECODER_KW: dict[str, Any] = dict(in_channels=4, out_channels=3, up_block_types=VAE_KW["up_block_types"],
                                  block_out_channels=(32, 64), layers_per_block=1, norm_num_groups=32, act_fn="silu",
                                  mid_block_add_attention=True)
TIMESTEP = 10  # UNet2DModel's forward takes a timestep: fixed (it enters as a per-channel bias only)


def unet2d() -> nn.Module:
    import diffusers

    return _quiet(lambda: diffusers.UNet2DModel(**UNET2D_KW))


def vae_half(half: str) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        import diffusers

        return getattr(_quiet(lambda: diffusers.AutoencoderKL(**VAE_KW)), half)
    return build


def efficientnet_b0() -> nn.Module:
    from efficientnet_pytorch import EfficientNet

    return _quiet(lambda: EfficientNet.from_name("efficientnet-b0"))


def fasterrcnn_backbone() -> nn.Module:
    import torchvision

    return _quiet(lambda: torchvision.models.detection.fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None)).backbone


def deeplabv3() -> nn.Module:
    import torchvision

    return _quiet(lambda: torchvision.models.segmentation.deeplabv3_resnet50(weights=None, weights_backbone=None))


# ---------------------------------------------------------------------- the records


def _call(model: nn.Module, x: torch.Tensor) -> object:
    return model(x)


def _unet2d_call(model: nn.Module, x: torch.Tensor) -> object:
    return model(x, TIMESTEP)


def _extract_features(model: nn.Module, x: torch.Tensor) -> object:
    return model.extract_features(x)


def _same(y: object) -> torch.Tensor:
    assert isinstance(y, torch.Tensor), type(y).__name__
    return y


def _key(k: str) -> Callable[[object], torch.Tensor]:
    def pick(y: object) -> torch.Tensor:
        return y[k]  # type: ignore[index]
    pick.__name__ = f"[{k!r}]"
    return pick


def _kw(kw: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kw.items())


@dataclass(frozen=True)
class Spec:
    """One record: a model's output.

    ``build`` instantiates the model (``build_doc`` says how, in Python); ``run`` applies it to
    the input and ``pick`` takes the measured output from what it returns. rflint reads
    ``file`` (relative to site-packages) at ``entry`` and names the output ``output``.
    ``height``: the thin input's height (a multiple of the model's largest stride, so that every
    level has whole rows and skip connections meet at equal sizes); ``qmax``: the
    largest period looked for; ``periodic=False``: the output has no periodic frame
    (``why``), see the module docstring."""

    name: str
    library: str
    build: Callable[[], nn.Module]
    build_doc: str
    file: str
    entry: str
    output: str = "output"
    what: str = "output"
    run: Callable[[nn.Module, torch.Tensor], object] = _call
    pick: Callable[[object], torch.Tensor] = _same
    channels: int = 3
    height: int = 32
    qmax: int = 8
    periodic: bool = True
    why: str = ""
    attention: bool = False  # diffusers Attention modules to detach

    @property
    def target(self) -> str:
        return f"{self.file}::{self.entry}"


_ALIGN = ("FPN and DeepLabV3+ merge pyramid levels upsampled with align_corners=True bilinear interpolation: "
          "the upsampled level's jump J*(n-1)/(m-1) differs from the finer level's J*n/m at every input size, "
          "so the merged output has no periodic frame (rflint: merged branches have different jumps)")

_SMP_FILES = {"Unet": "decoders/unet/model.py", "FPN": "decoders/fpn/model.py", "DeepLabV3Plus": "decoders/deeplabv3/model.py"}


def _smp(cls: str, encoder: str) -> Spec:
    periodic = cls == "Unet"
    return Spec(
        f"smp-{cls.lower()}-{encoder}", "segmentation-models-pytorch", smp_model(cls, encoder),
        f"segmentation_models_pytorch.{cls}(encoder_name={encoder!r}, encoder_weights=None)",
        f"segmentation_models_pytorch/{_SMP_FILES[cls]}", f"{cls}(encoder_name={encoder!r}, encoder_weights=None)",
        height=32 if periodic else 64, qmax=32, periodic=periodic, why="" if periodic else _ALIGN)


_MONAI_FILES = {"UNet": "unet.py", "BasicUNet": "basic_unet.py", "SegResNet": "segresnet.py", "DynUNet": "dynunet.py",
                "AttentionUnet": "attentionunet.py"}
_MONAI_QMAX = {"UNet": 8, "BasicUNet": 16, "SegResNet": 8, "DynUNet": 8, "AttentionUnet": 8}  # 2**downsamplings


def _monai(cls: str) -> Spec:
    return Spec(f"monai-{cls.lower()}", "monai", monai_model(cls), f"monai.networks.nets.{cls}({_kw(MONAI_KW[cls])})",
                f"monai/networks/nets/{_MONAI_FILES[cls]}", f"{cls}({_kw(MONAI_KW[cls])})", channels=1,
                height=_MONAI_QMAX[cls], qmax=_MONAI_QMAX[cls])


def _fpn(key: str) -> Spec:
    return Spec(f"torchvision-fasterrcnn_resnet50_fpn-backbone-{key}", "torchvision", fasterrcnn_backbone,
                "torchvision.models.detection.fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None).backbone",
                "torchvision/models/detection/backbone_utils.py", "resnet_fpn_backbone(backbone_name='resnet50', weights=None)",
                output=f"output[{key!r}]", pick=_key(key), qmax=8)


SPECS: list[Spec] = [
    *(_smp(cls, enc) for enc in ("resnet34", "efficientnet-b0") for cls in ("Unet", "FPN", "DeepLabV3Plus")),
    *(_monai(cls) for cls in ("UNet", "BasicUNet", "SegResNet", "DynUNet", "AttentionUnet")),
    Spec("diffusers-unet2dmodel", "diffusers", unet2d, f"diffusers.UNet2DModel({_kw(UNET2D_KW)}); forward(x, {TIMESTEP})",
         "diffusers/models/unets/unet_2d.py", f"UNet2DModel({_kw(UNET2D_KW)})", output="output['sample']",
         run=_unet2d_call, pick=lambda y: y.sample, height=8, qmax=8, attention=True),  # type: ignore[attr-defined]
    Spec("diffusers-autoencoderkl-encoder", "diffusers", vae_half("encoder"), f"diffusers.AutoencoderKL({_kw(VAE_KW)}).encoder",
         "diffusers/models/autoencoders/vae.py", f"Encoder({_kw(ENCODER_KW)})", height=8, qmax=4, attention=True),
    Spec("diffusers-autoencoderkl-decoder", "diffusers", vae_half("decoder"), f"diffusers.AutoencoderKL({_kw(VAE_KW)}).decoder",
         "diffusers/models/autoencoders/vae.py", f"Decoder({_kw(DECODER_KW)})", channels=4, height=4, qmax=4, attention=True),
    Spec("efficientnet_pytorch-efficientnet-b0", "efficientnet_pytorch", efficientnet_b0,
         "efficientnet_pytorch.EfficientNet.from_name('efficientnet-b0'); extract_features(x)",
         "efficientnet_pytorch/model.py", "EfficientNet.from_name('efficientnet-b0')", what="last_spatial_map",
         run=_extract_features, qmax=4),
    *(_fpn(k) for k in ("0", "1", "2", "3", "pool")),
    Spec("torchvision-deeplabv3_resnet50", "torchvision", deeplabv3,
         "torchvision.models.segmentation.deeplabv3_resnet50(weights=None, weights_backbone=None)",
         "torchvision/models/segmentation/deeplabv3.py", "deeplabv3_resnet50(weights=None, weights_backbone=None)",
         output="output['out']", pick=_key("out"), qmax=8),
]


# ---------------------------------------------------------------------- preparing and running


class _DetachedAttention:
    """A diffusers attention processor for the local frame: the attention term is a constant
    (ones), the residual stays: ``(ones + x) / rescale_output_factor``."""

    def __call__(self, attn: nn.Module, hidden_states: torch.Tensor, encoder_hidden_states: Any = None,
                 attention_mask: Any = None, temb: Any = None, *args: Any, **kwargs: Any) -> torch.Tensor:
        if not getattr(attn, "residual_connection", False):
            raise AssertionError("an attention without a residual connection leaves no local path")
        return (torch.ones_like(hidden_states) + hidden_states) / attn.rescale_output_factor


class _IdentityAttention:
    """The attention term left out altogether: ``x / rescale_output_factor`` (cross-check 5)."""

    def __call__(self, attn: nn.Module, hidden_states: torch.Tensor, encoder_hidden_states: Any = None,
                 attention_mask: Any = None, temb: Any = None, *args: Any, **kwargs: Any) -> torch.Tensor:
        if not getattr(attn, "residual_connection", False):
            raise AssertionError("an attention without a residual connection leaves no local path")
        return hidden_states / attn.rescale_output_factor


def _attentions(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if type(m).__name__ == "Attention" and hasattr(m, "set_processor")]


@contextlib.contextmanager
def attention_detached(model: nn.Module, processor: object | None = None) -> Iterator[int]:
    """While active, every diffusers ``Attention`` in ``model`` has its attention term detached
    (:class:`_DetachedAttention`); yields how many."""
    found = _attentions(model)
    saved = [m.processor for m in found]
    for m in found:
        m.processor = processor or _DetachedAttention()
    try:
        yield len(found)
    finally:
        for m, p in zip(found, saved):
            m.processor = p


def library_prepare(model: nn.Module) -> list[str]:
    """The library-specific preparation, in place, before ``measure.prepare``: timm's rules
    (torch activations of every kind, norms by class name, parameters made positive) and the
    libraries' own activation modules as identities."""
    notes = timm_prepare(model)
    count = 0

    def walk(parent: nn.Module) -> None:
        nonlocal count
        for name, child in list(parent.named_children()):
            if type(child).__name__ in _ACTIVATION_CLASSES and not any(True for _ in child.children()):
                setattr(parent, name, nn.Identity())
                count += 1
            else:
                walk(child)

    walk(model)
    if count:
        notes.append(f"library activations->Identity x{count}")
    return notes


class Runner:
    """A prepared model and how to get the measured output from an input, with or without
    the local context (global statistics and attention detached)."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.model = spec.build().eval()
        self.notes = library_prepare(self.model)
        prepare(self.model, weights="mean")
        self.model.float()
        for p in self.model.parameters():
            p.requires_grad_(False)
        Rescaled(self.model)
        self.processor: object | None = None  # the attention processor of the local context (default: detached)
        self.attentions = len(_attentions(self.model))
        if spec.attention and not self.attentions:
            raise AssertionError(f"{spec.name}: no diffusers Attention found to detach")

    @property
    def local_context(self) -> list[str]:
        done = ["global statistics detached (measure.detach_global_statistics)"]
        if self.attentions:
            done.append(f"attention detached: {self.attentions} diffusers Attention as (ones + x) / rescale_output_factor")
        return done

    def forward(self, shape: tuple[int, ...], dtype: torch.dtype = torch.float32, local: bool = True,
                grad: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.ones(shape, dtype=dtype, requires_grad=grad)
        with contextlib.ExitStack() as stack:
            stack.enter_context(functional_max_as_avg())
            stack.enter_context(functional_identities())
            if local:
                stack.enter_context(detach_global_statistics())
                stack.enter_context(attention_detached(self.model, self.processor))
            if not grad:
                stack.enter_context(torch.no_grad())
            y = self.spec.pick(self.spec.run(self.model, x))
        if y.dim() != 4:
            raise AssertionError(f"{self.spec.name}: output of shape {tuple(y.shape)}, not a map")
        if not torch.isfinite(y).all():
            raise AssertionError(f"{self.spec.name}: values overflowed")
        return x, y

    def shape(self, height: int, width: int) -> tuple[int, int, int, int]:
        return (1, self.spec.channels, height, width)

    def runs(self, height: int, width: int) -> bool:
        try:
            _, y = self.forward(self.shape(height, width), grad=False)
        except Exception:  # noqa: BLE001 - any library's complaint about a size it does not take
            return False
        return all(n > 0 for n in y.shape[2:])


# ---------------------------------------------------------------------- measuring


LIMIT = 1 << 14


def _width_for(runner: Runner, height: int, align: int) -> tuple[int, int, float, float]:
    """Grow the width until the middle output's field is clear of both borders by half its
    size: (width, field size, step = width / outputs, centre offset of the field)."""
    width = 256
    offset: float | None = None
    while width <= LIMIT:
        x, y = runner.forward(runner.shape(height, width))
        n_out = y.shape[-1]
        if n_out < 2:
            width *= 2
            continue
        step = width / n_out
        o = n_out // 2 if offset is None else round(((width - 1) / 2 - offset) / step)
        o = max(0, min(n_out - 1, o))
        first, last = span(x, y, o, last=True)
        if first == 0 or last == width - 1:
            offset = None
            width *= 2
            continue
        size = last - first + 1
        offset = (first + last) / 2 - o * step
        if min(first, width - 1 - last) < size / 2:
            width = max(width + align, _round_up(2 * size + 4 * math.ceil(step), align))
            continue
        return width, size, step, offset
    raise AssertionError(f"the field still reaches the borders at width {LIMIT}")


def _block(runner: Runner, height: int, align: int, size: int, step: float, offset: float,
           count: int) -> tuple[int, list[tuple[int, int]], tuple[int, ...]]:
    """``count`` consecutive outputs around the middle of an input wide enough that each
    is clear of the borders by half the widest field among them: (first output, spans, shape)."""
    for _ in range(4):
        width = _round_up(2 * size + (count + 4) * math.ceil(step), align)
        shape = runner.shape(height, width)
        x, y = runner.forward(shape)
        n_out = y.shape[-1]
        centre = round(((width - 1) / 2 - offset) / step)
        o0 = max(0, min(n_out - count, centre - count // 2))
        if o0 + count > n_out:
            raise AssertionError(f"output too short ({n_out}) for {count} positions")
        spans = [span(x, y, o, last=o == o0 + count - 1) for o in range(o0, o0 + count)]
        widest = max(b - a + 1 for a, b in spans)
        if min(a for a, _ in spans) >= widest / 2 and width - 1 - max(b for _, b in spans) >= widest / 2:
            return o0, spans, shape
        size = max(size, widest) + align
    raise AssertionError(f"outputs {o0}..{o0 + count - 1} stay close to the borders of {width}: {spans}")


def period_of(o0: int, spans: list[tuple[int, int]]) -> Measured:
    """The frame of consecutive outputs ``o0..``: the smallest period ``q`` (up to half of them)
    with which both ends of every span shift alike by ``q*j > 0``; phases are ``o mod q``."""
    count = len(spans)
    for q in range(1, count // 2 + 1):
        shifts = {(spans[i + q][0] - spans[i][0], spans[i + q][1] - spans[i][1]) for i in range(count - q)}
        if len(shifts) != 1:
            continue
        d_lo, d_hi = next(iter(shifts))
        if d_lo != d_hi or d_lo <= 0:
            continue
        j = Fraction(d_lo, q)
        alpha: list[Fraction] = [Fraction(0)] * q
        beta: list[Fraction] = [Fraction(0)] * q
        for i in range(q):
            o = o0 + i
            alpha[o % q] = spans[i][0] - o * j
            beta[o % q] = spans[i][1] - o * j
        return Measured(j, tuple(alpha), tuple(beta))
    raise AssertionError(f"no period up to {count // 2} in {count} outputs from {o0}: {spans}")


def _check_float64(runner: Runner, shape: tuple[int, ...], o0: int, spans: list[tuple[int, int]],
                   frame: Measured) -> list[int]:
    """The outputs whose phases give min(alpha) and max(beta), measured again in float64."""
    q = len(frame.alpha)
    lo_phase = min(range(q), key=lambda p: frame.alpha[p])
    hi_phase = max(range(q), key=lambda p: frame.beta[p])
    outs = sorted({next(o for o in range(o0, o0 + len(spans)) if o % q == p) for p in (lo_phase, hi_phase)})
    runner.model.double()
    try:
        x, y = runner.forward(shape, dtype=torch.float64)
        for k, o in enumerate(outs):
            got = span(x, y, o, last=k == len(outs) - 1)
            if got != spans[o - o0]:
                raise AssertionError(f"output {o}: float32 read {spans[o - o0]}, float64 {got}")
    finally:
        runner.model.float()
    return outs


def _corner_reached(runner: Runner, height: int, width: int, local: bool) -> bool:
    """Whether output (row 0, column 0) has a nonzero gradient at input pixel (last row, last column)."""
    x, y = runner.forward(runner.shape(height, width), local=local)
    grad, = torch.autograd.grad(y[0, :, 0, 0].sum(), x)
    if not torch.isfinite(grad).all():
        raise AssertionError("the gradient overflowed")
    return bool(grad[0, :, height - 1, width - 1].abs().sum() > 0)


def global_check(runner: Runner, height: int, width: int, align: int) -> tuple[bool, list[int]]:
    """``global`` as the module docstring says: the local context must not reach the opposite
    corner (the width is doubled until it does not); then the live model must, or not."""
    while _corner_reached(runner, height, width, local=True):
        width *= 2
        if width > 2 * LIMIT:
            raise AssertionError("with global paths detached, the first output still reads the last pixel")
    return _corner_reached(runner, height, width, local=False), [height, width]


def _fractions(values: tuple[Fraction, ...]) -> list[str]:
    return [str(v) for v in values]


def _version(library: str) -> str:
    return importlib.metadata.version(library)


def measure_spec(spec: Spec) -> dict[str, Any]:
    """Instantiate, prepare and measure one record."""
    start = time.perf_counter()
    runner = Runner(spec)
    align = 32
    height = spec.height
    if not runner.runs(height, 256):
        raise AssertionError(f"{spec.name}: height {height} does not run")
    _, size, step, offset = _width_for(runner, height, align)
    record: dict[str, Any] = {
        "name": spec.name, "library": spec.library, "version": _version(spec.library), "build": spec.build_doc,
        "file": spec.file, "entry": spec.entry, "output": spec.output, "what": spec.what,
    }
    if spec.periodic:
        count = 2 * spec.qmax + 8
        o0, spans, shape = _block(runner, height, align, size, step, offset, count)
        frame = period_of(o0, spans)
        checked = _check_float64(runner, shape, o0, spans, frame)
        reach = int(max(frame.beta)) + 2
        record.update({"input_size": list(shape[2:]), "measured_on": list(shape), "periodic": True,
                       "r": frame.r, "j": str(frame.j), "P": str(frame.padding),
                       "alpha": _fractions(frame.alpha), "beta": _fractions(frame.beta),
                       "outputs_measured": [o0, o0 + count - 1], "float64_rechecked": checked})
    else:
        count = 16
        o0, spans, shape = _block(runner, height, align, size, step, offset, count)
        reach = max(b for _, b in spans) - o0 * math.ceil(step) + 2
        record.update({"input_size": list(shape[2:]), "measured_on": list(shape), "periodic": False, "why": spec.why,
                       "r_window": max(b - a + 1 for a, b in spans),
                       "spans": [[o0 + i, a, b] for i, (a, b) in enumerate(spans)],
                       "outputs_measured": [o0, o0 + count - 1]})
    is_global, at = global_check(runner, height, _round_up(max(reach, 2 * align), align), align)
    record.update({"global": is_global, "global_checked_at": at, "local_context": runner.local_context,
                   "handling": runner.notes, "seconds": round(time.perf_counter() - start, 1)})
    return record


# ---------------------------------------------------------------------- the data file


def load() -> list[dict[str, Any]]:
    return json.loads(DATA.read_text())["records"] if DATA.exists() else []


def dump(records: list[dict[str, Any]]) -> None:
    order = {s.name: i for i, s in enumerate(SPECS)}
    records = sorted(records, key=lambda r: order.get(r["name"], len(order)))
    head = {"generated_by": "tests/measure_libraries.py", "torch": torch.__version__.split("+")[0]}
    write_records(DATA, head, "records", records)


def _summary(rec: dict[str, Any], seconds: float) -> str:
    if rec["periodic"]:
        frame = f"r={rec['r']} j={rec['j']} P={rec['P']} q={len(rec['alpha'])}"
    else:
        frame = f"not periodic, r_window={rec['r_window']}"
    return f"{frame} global={rec['global']} on {rec['measured_on']} ({rec['seconds']}s)"


def run(specs: list[Spec], timeout: int) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    return measure_each(specs, lambda s: s.name, measure_spec, _summary, timeout)


def setup() -> None:
    """One thread (see the module docstring) and float32 by default."""
    torch.set_num_threads(int(os.environ.get("RFLINT_MEASURE_THREADS", "1")))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="+", metavar="NAME", help="measure these records only")
    ap.add_argument("--list", action="store_true", help="print the records and exit")
    ap.add_argument("--check", action="store_true", help="run the cross-checks of the docstring")
    ap.add_argument("--timeout", type=int, default=300)
    ap.add_argument("--dry", action="store_true", help="measure but do not write the data file")
    args = ap.parse_args(argv)
    setup()
    if args.list:
        for s in SPECS:
            print(f"{s.name}: {s.build_doc}\n    rflint: {s.target} -> {s.output}{'' if s.what == 'output' else ' (last spatial map)'}")
        return 0
    if args.check:
        return check()
    specs = SPECS
    if args.only:
        wanted = set(args.only)
        specs = [s for s in SPECS if s.name in wanted]
        unknown = wanted - {s.name for s in specs}
        if unknown:
            print(f"not in the list: {sorted(unknown)}", file=sys.stderr)
            return 2
    start = time.perf_counter()
    records, failed = run(specs, args.timeout)
    total = time.perf_counter() - start
    if not args.dry:
        names = {s.name for s in specs}
        listed = {s.name for s in SPECS}
        keep = [r for r in load() if r["name"] not in names and r["name"] in listed] if args.only else []
        dump(keep + records)
    print(f"{len(records)} measured, {len(failed)} failed, {total:.0f}s", flush=True)
    for key, why in failed:
        print(f"  FAILED {key}: {why}")
    return 1 if failed else 0


# ---------------------------------------------------------------------- the cross-checks


def check() -> int:
    """Re-measure the docstring's cross-checks; print them; nonzero if one fails."""
    import torchvision
    from measure import measure_whole

    problems: list[str] = []

    def report(label: str, ok: bool, detail: str) -> None:
        print(f"{'ok ' if ok else 'BAD'} {label}: {detail}", flush=True)
        if not ok:
            problems.append(label)

    def fmt(f: Measured) -> str:
        return f"r={f.r} j={f.j} P={f.padding} alpha={_fractions(f.alpha)} beta={_fractions(f.beta)}"

    def same(a: Measured, b: Measured) -> bool:
        return (a.j, a.alpha, a.beta) == (b.j, b.alpha, b.beta)

    def detached(body: Callable[[nn.Module, torch.Tensor], torch.Tensor]) -> Callable:
        def out(m: nn.Module, x: torch.Tensor) -> torch.Tensor:
            with detach_global_statistics(), functional_identities():
                return body(m, x)
        return out

    # 1. smp Unet(resnet34)'s encoder against torchvision's resnet34, and the reasoned numbers.
    unet = smp_model("Unet", "resnet34")()
    library_prepare(unet)
    enc = measure_whole(unet.encoder, detached(lambda m, x: m(x)[-1]), gates=False).frame
    tv = measure_whole(_quiet(lambda: torchvision.models.resnet34(weights=None))).frame
    report("smp Unet(resnet34).encoder deepest map vs torchvision resnet34", same(enc, tv), f"{fmt(enc)} | {fmt(tv)}")
    report("resnet34 by hand: r=899 j=32 P=449", (tv.r, tv.j, tv.padding) == (899, 32, 449), fmt(tv))

    # 2. smp's efficientnet-b0 encoder against efficientnet_pytorch's extract_features.
    eff = smp_model("Unet", "efficientnet-b0")()
    library_prepare(eff)
    smp_eff = measure_whole(eff.encoder, detached(lambda m, x: m(x)[-1]), gates=False).frame
    ep = efficientnet_b0()
    library_prepare(ep)
    ep_f = measure_whole(ep, detached(lambda m, x: m.extract_features(x)), gates=False).frame
    report("smp efficientnet-b0 encoder deepest map vs efficientnet_pytorch extract_features", same(smp_eff, ep_f),
           f"{fmt(smp_eff)} | {fmt(ep_f)}")

    recorded = {r["name"]: r for r in load()}

    def rec_frame(name: str) -> Measured | None:
        r = recorded.get(name)
        if r is None or not r.get("periodic"):
            return None
        return Measured(Fraction(r["j"]), tuple(map(Fraction, r["alpha"])), tuple(map(Fraction, r["beta"])))

    # 3. torchvision's FPN '3' and 'pool' from resnet50's layer4 (r=427, j=32, P=213).
    r50 = measure_whole(_quiet(lambda: torchvision.models.resnet50(weights=None))).frame
    f3, fp = rec_frame("torchvision-fasterrcnn_resnet50_fpn-backbone-3"), rec_frame("torchvision-fasterrcnn_resnet50_fpn-backbone-pool")
    want3 = Measured(r50.j, tuple(a - 32 for a in r50.alpha), tuple(b + 32 for b in r50.beta))
    report("FPN '3' = resnet50 layer4 + 3x3 at j=32", f3 is not None and same(f3, want3),
           f"recorded {fmt(f3) if f3 else None}, resnet50 {fmt(r50)}")
    report("FPN 'pool' = '3' at j=64", fp is not None and f3 is not None and (fp.j, fp.alpha, fp.beta) == (2 * f3.j, f3.alpha, f3.beta),
           f"recorded {fmt(fp) if fp else None}")

    # 4. The VAE decoder reads its latent with j=1/2.
    dec = rec_frame("diffusers-autoencoderkl-decoder")
    report("VAE decoder j=1/2, period 2", dec is not None and dec.j == Fraction(1, 2) and len(dec.alpha) == 2,
           fmt(dec) if dec else "no record")

    # 5. Attention detached as a constant vs left out: the same frame (the VAE encoder, quick).
    spec = next(s for s in SPECS if s.name == "diffusers-autoencoderkl-encoder")
    frames = []
    for processor in (None, _IdentityAttention()):
        runner = Runner(spec)
        runner.processor = processor
        height = spec.height
        _, size, step, offset = _width_for(runner, height, 32)
        o0, spans, _ = _block(runner, height, 32, size, step, offset, 2 * spec.qmax + 8)
        frames.append(period_of(o0, spans))
    report("attention as a constant vs as the identity (VAE encoder)", same(frames[0], frames[1]),
           f"{fmt(frames[0])} | {fmt(frames[1])}")

    # The VAE halves built by AutoencoderKL are Encoder(**ENCODER_KW) / Decoder(**DECODER_KW).
    from diffusers.models.autoencoders.vae import Decoder, Encoder

    for half, cls, kw in (("encoder", Encoder, ENCODER_KW), ("decoder", Decoder, DECODER_KW)):
        a = {k: tuple(v.shape) for k, v in vae_half(half)().state_dict().items()}
        b = {k: tuple(v.shape) for k, v in cls(**kw).state_dict().items()}
        report(f"AutoencoderKL(...).{half} has the parameters of {cls.__name__}(**{half.upper()}_KW)", a == b, f"{len(a)} tensors")

    # fasterrcnn_resnet50_fpn(...).backbone vs resnet_fpn_backbone('resnet50'): same convolutions and pools.
    from torchvision.models.detection.backbone_utils import resnet_fpn_backbone

    def geometry(m: nn.Module) -> list[tuple]:
        out = []
        for name, mod in m.named_modules():
            if isinstance(mod, nn.modules.conv._ConvNd):
                out.append((name, mod.in_channels, mod.out_channels, mod.kernel_size, mod.stride, mod.padding, mod.dilation, mod.groups))
            elif isinstance(mod, (nn.MaxPool2d, nn.AvgPool2d)):
                out.append((name, type(mod).__name__, mod.kernel_size, mod.stride, mod.padding))
        return out

    fr = geometry(fasterrcnn_backbone())
    rb = geometry(_quiet(lambda: resnet_fpn_backbone(backbone_name="resnet50", weights=None)))
    report("fasterrcnn_resnet50_fpn().backbone vs resnet_fpn_backbone('resnet50'): convolutions and pools", fr == rb,
           f"{len(fr)} layers")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
