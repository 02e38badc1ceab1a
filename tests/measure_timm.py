"""Measure the receptive field of timm models: the ground truth rflint's static read of timm is held to.

Run: ``python tests/measure_timm.py`` (all models, rewrites ``tests/data/timm_measured.json``),
``--only NAME ...`` (re-measure those, keep the other records), ``--list`` (print the
model list), ``--check`` (the method's cross-checks below, nothing written),
``--timeout S`` (per model, default 120), ``--dry`` (measure, write nothing).

Each model of :data:`MODELS` is instantiated by timm (``pretrained=False``, eval mode,
float64) and measured with ``tests/measure.py``'s whole-model method
(:func:`measure.measure_whole`): positive averaging weights, max pools as average
pools, norms and activations as identities, a thin input (3 channels, the smallest
height the model takes) long along the width, the support of the input gradient
of one interior output and the shift between neighbouring outputs; then
:func:`settle_period` reads eight consecutive outputs on a wider input and keeps
the smallest period (1, 2, 4 or 8) they repeat with. The record keeps ``j``,
``alpha``, ``beta`` (per phase ``o mod q``, as strings of fractions), ``r`` and
``P = -min(alpha)`` along the width, in input pixels, the input it was read on
(``measured_on``) and the seconds the whole model took.

What is measured (``what``):

- ``"last_spatial_map"`` (convolutional models): the tensor that enters the first
  global pooling or flatten, as rflint's ``spatial_outputs`` defines it. The model
  runs ``forward_features`` and then ``forward_head`` until the head's first global
  step (:func:`measure.stop_at_global_pooling`): the map is *not* always
  ``forward_features``'s output, e.g. timm's VGG applies ``pre_logits`` (a 7x7
  ``ConvMlp``) in ``forward_head`` before pooling. ``where`` says where it was
  caught. ``global`` is false: the measured frame is finite.
- ``"patch_embed"`` (transformers, hybrids and convolutional stems followed by
  attention over all tokens): the final features depend on the whole input
  (``global: true``, checked below at ``global_checked_at``), so the frame measured is that of the
  embedding: ``module`` names the module (a convolution or pooling, timm's module
  path, which is also rflint's node name) whose output is measured, ``run`` the
  module applied to the input (the model's first step; ``module`` lies inside it;
  by default the last convolution or pooling it runs). ``PatchEmbed``'s fixed-size
  check is lifted (``strict_img_size=False``, ``dynamic_img_pad=True``: padding on
  the right and at the bottom moves no position), and inputs are cropped on the
  right to a multiple of a patch size that does not divide 32 (``Spec.multiple``).

timm specifics (each applied in place by :func:`timm_prepare`, or while measuring):

- Global statistics carry no gradient (:func:`measure.detach_global_statistics`,
  around ``forward_features`` only, never around the head's pooling): adaptive
  pools and spatial reductions (``mean``/``sum``/``amax``/``var``/``std``/``norm``...)
  of a 4-D map become constants (ones). This is rflint's convention (DESIGN.md: the RF of a model is the local
  frame, global gates left out) without naming every gate: ``SEModule``,
  ``EffectiveSEModule``, ``SqueezeExcite`` (efficientnet blocks, ghostnet, rexnet),
  ``EcaModule``/``CecaModule``, ``GatherExcite``, CBAM's channel half, ResNeSt's
  ``SplitAttn`` and ``SelectiveKernel`` (a positive sum of their branches: the union
  of the branches' frames), ConvNeXt-V2's GRN, EvoNorm-S/FRN statistics, CondConv
  routing. ``GlobalContext`` pools with a softmax-weighted matrix product, which no
  reduction catches: its forward computes the context from ``x.detach()``
  (:func:`_global_context_forward`). ``measure_whole(gates=False)``: gates are not
  also replaced by name. A global path that is not removed keeps the field growing
  with the input and the measurement fails (it never silently passes); see the
  ``--check`` cross-checks for the equivalence with ``neutralise_gates``.
- Pools: ``MaxPool2dSame`` (``create_pool2d(..., padding='same')``, ``tf_`` models)
  becomes timm's ``AvgPool2dSame`` with the same kernel and stride (zero 'same'
  padding where the max pool pads with -inf: the same positions); ``nn.MaxPool2d``
  becomes ``nn.AvgPool2d`` (``measure.prepare``), ``F.max_pool2d`` an average pool
  (``measure.functional_max_as_avg``). ``AvgPool2dSame``, ``BlurPool2d`` (a fixed
  positive binomial filter with reflect padding), ``Conv2dSame`` and
  ``create_conv2d(padding='same')`` are measured as they are, but dynamic 'same'
  padding depends on each layer's input size modulo its stride: for those models
  (``same_padding: true``) the input is cropped on the right and at the bottom to
  sizes congruent to the pretrained size modulo 32 (:class:`Crop`; 331 for
  ``nasnetalarge``), so that every layer pads as it does at the pretrained size.
- Weight standardisation (``StdConv2d``, ``ScaledStdConv2d`` and their ``Same``
  forms: ResNetV2-BiT, NFNet, ViT hybrids) would turn equal averaging weights into
  zeros: those convolutions run on their raw (positive) weights.
- Activations: timm's own (``timm.layers.activations*``, nfnet's ``GammaAct``,
  metaformer's ``StarReLU``...) become identities like torch's; norms that are
  not torch subclasses (``RmsNorm2d``, ``EvoNorm*``, ``FilterResponseNorm*``,
  ``FrozenBatchNorm2d``, GRN...) too, by class name (a class holding a convolution
  or a linear layer, e.g. levit's ``ConvNorm``, is kept). Functional activations
  (``sigmoid``, ``tanh``, ``hardtanh``, ``hardsigmoid``, ``relu6``, ``softplus``,
  ``mish``, ``elu``..., and the Tensor methods) become identities while measuring,
  so that nothing saturates (a zero derivative would cut a path).
- Values are kept in range (:class:`Rescaled`): with activations as identities,
  the product of two local paths (GhostNetV2's DFC gate, focal modulation, star
  and gated-linear units) squares the values block after block; a forward hook
  on every module scales an output whose magnitude leaves [1e-4, 1e4] back to one
  by a detached constant (no support moves). Any overflow left fails loudly.
- Parameters that are not convolution or linear weights (layer scales, gains,
  ``skipinit``/GRN zeros, CondConv expert weights, embeddings) are made positive:
  ones, or 1/fan-in for those of two or more dimensions (a zero gain would cut a
  path; an additive one changes no gradient).

``global`` for ``patch_embed`` records is measured, not assumed: the prepared model
(global statistics detached, as above, so a gate alone does not count) runs
``forward_features`` at its pretrained input size (``global_checked_at``: smaller for
``mobilenetv5_300m``, whose 768x768 check needs more memory than there is), and
one corner output (the first position of a map, the last token of a sequence)
must have a nonzero gradient at the opposite corner pixel. Hence a model whose
only global paths are gates is measured as a whole: ``mobilevitv2_050`` (its
separable attention multiplies a local value by a softmax-pooled context),
``focalnet_tiny_srf`` (its global context enters the modulator as a pooled
statistic).

Cross-checks (by reasoning, and against other measurements; ``--check`` reruns the
measurements involved and compares them with the data file):

1. ``resnet50`` is torchvision's ResNet-50 (7x7/2 convolution, 3x3/2 max pool,
   bottlenecks with the stride on the 3x3): both measure r=427, j=32, P=213
   (``tests/test_torchvision.py`` measures torchvision's). ``resnet18`` by hand: the
   stem gives r=7 (j=2, P=3), the pool r=11 (j=4, P=5); layer1's four 3x3 at j=4
   add 32 (r=43); layer2's strided 3x3 adds 8 (j=8) and its three others 48 (r=99);
   layer3 adds 16 + 96 (r=211, j=16); layer4 32 + 192: r=435, j=32, and as every
   layer pads (k-1)/2, P = (r-1)/2 = 217. Measured: r=435, j=32, P=217.
2. ``resnet50d`` (ResNet-D): the deep stem (three 3x3, the first of stride 2)
   reads r=3+4+4=11 at j=2 with P=1+2+2=5, against the 7x7's r=7, P=3; the
   average-pool shortcut reads no wider than the 3x3 path, so everything else is
   resnet50's: r=427+4=431, P=213+2=215, j=32. Measured: the same.
3. ``vgg11``: the 3x3 convolutions (1, 1, 2, 2, 2 per block, padding 1) and 2x2/2
   pools give r=150, j=32, P=1+2+2*4+2*8+2*16=59 after ``features``; timm's
   ``forward_head`` then applies ``pre_logits``, a 7x7 convolution without padding
   at j=32, before pooling: r=150+6*32=342, P=59. Measured r=342, j=32, P=59, caught
   in ``forward_head`` (``forward_features`` alone would say 150).
4. ``vit_tiny_patch16_224``, ``deit_tiny_patch16_224``: a 16x16/16 convolution without
   padding: r=16, j=16, P=0. ``vit_tiny_r_s16_p8_224`` (hybrid, 'same' padding at
   224): a 7x7/2 StdConv2dSame (pads 5: 2 left) and a 3x3/2 'same' max pool (pads
   1: 0 left) give r=11 at j=4, P=2; the 8x8/8 projection adds 7*4: r=39, j=32,
   P=2. Measured: the same.
5. ``efficientnet_b0`` has torchvision's ``efficientnet_b0``'s blocks, kernels and
   strides, and both measure r=851, j=32, P=425 (torchvision's with its gates
   neutralised by name, and again with :func:`measure.detach_global_statistics`:
   all three agree). ``tf_efficientnet_b0`` pads its five stride-2 layers 'same' on
   even sizes: k-2 in all, one pixel less on the left than symmetric padding, at
   input strides 1, 2, 4, 8, 16: P = 425 - 31 = 394, r and j unchanged. Measured:
   r=851, j=32, P=394.
6. ``ghostnetv2_100``: its DFC attention is a local gate (2x2 average pool, long
   1xk and kx1 convolutions, nearest upsampling x2), so neighbouring outputs of
   the last map pair up: a frame of period 2 (alpha -1557/-1525), which two
   outputs alone would misread (``settle_period``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import sys
import time
import types
import warnings
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import (  # noqa: E402
    Captured,
    Measured,
    WholeModel,
    detach_global_statistics,
    forward,
    frame_of,
    functional_max_as_avg,
    measure_each,
    measure_whole,
    prepare,
    span,
    stop_at_global_pooling,
    write_records,
)
from measure import _round_up  # noqa: E402

DATA = Path(__file__).resolve().parent / "data" / "timm_measured.json"


# ---------------------------------------------------------------------- the model list


@dataclass(frozen=True)
class Spec:
    """One model to measure.

    ``run``: for a global model, the module applied to the input whose inner
    ``module`` (default: the last convolution or pooling it runs) is measured;
    None for a convolutional model (its last spatial map). ``kwargs`` go to
    ``timm.create_model`` (and to rflint's entry). ``height`` fixes the thin input's
    height; ``multiple`` crops the input to a multiple of it (patch sizes that do not
    divide 32); ``nhwc``: ``forward_features`` returns NHWC and the head pools it as
    such (the map is taken there, permuted)."""

    name: str
    run: str | None = None
    module: str | None = None
    kwargs: tuple[tuple[str, Any], ...] = ()
    height: int | None = None
    multiple: int = 1
    nhwc: bool = False
    check_size: tuple[int, int] | None = None

    @property
    def key(self) -> str:
        """The record's name: the timm name, with keyword arguments as rflint's entry spells them."""
        if not self.kwargs:
            return self.name
        return f"{self.name}({', '.join(f'{k}={v!r}' for k, v in self.kwargs)})"


def L(name: str, **kw: Any) -> Spec:
    """A convolutional model: its last spatial map."""
    kwargs = tuple(sorted(kw.pop("kwargs", {}).items()))
    return Spec(name, kwargs=kwargs, **kw)


def E(name: str, run: str, module: str | None = None, **kw: Any) -> Spec:
    """A model whose final output is global: its embedding ``run`` (measured at ``module``)."""
    kwargs = tuple(sorted(kw.pop("kwargs", {}).items()))
    return Spec(name, run=run, module=module, kwargs=kwargs, **kw)


MODELS: list[Spec] = [
    # ResNet, ResNet-D and friends (resnet.py)
    L("resnet10t"), L("resnet14t"), L("resnet18"), L("resnet18d"), L("resnet26"), L("resnet26d"), L("resnet26t"),
    L("resnet34"), L("resnet34d"), L("resnet50"), L("resnet50c"), L("resnet50d"), L("resnet50s"), L("resnet50t"),
    L("resnext50_32x4d"), L("seresnet18"), L("seresnext26d_32x4d"), L("ecaresnet26t"), L("ecaresnetlight"),
    L("resnetblur18"), L("resnetaa34d"), L("resnetrs50"), L("resnet50_gn"), L("test_resnet"),
    L("resnet18", kwargs={"output_stride": 16}), L("resnet18", kwargs={"output_stride": 8}),
    # resnetv2.py (pre-activation; BiT: StdConv2d + GroupNorm)
    L("resnetv2_18"), L("resnetv2_18d"), L("resnetv2_50"), L("resnetv2_50d"), L("resnetv2_50x1_bit"),
    L("resnetv2_50d_gn"), L("resnetv2_50d_evos"), L("resnetv2_50d_frn"),
    L("legacy_seresnet18"), L("legacy_seresnext26_32x4d"),  # senet.py
    L("skresnet18"), L("skresnet34"),  # sknet.py
    L("resnest14d"), L("resnest26d"),  # resnest.py
    L("res2net50_14w_8s"), L("res2net50d"), L("res2next50"),  # res2net.py
    # efficientnet.py (EfficientNet, MixNet, MNASNet, MobileNetV1/V2, FBNet, TinyNet, EdgeTPU, CondConv)
    L("efficientnet_b0"), L("efficientnet_lite0"), L("efficientnet_es"), L("efficientnet_cc_b0_4e"),
    L("efficientnet_b0_gn"), L("efficientnet_blur_b0"), L("efficientnetv2_rw_t"), L("gc_efficientnetv2_rw_t"),
    L("tf_efficientnet_b0"), L("tf_efficientnet_lite0"), L("tf_efficientnetv2_b0"), L("mixnet_s"), L("tf_mixnet_s"),
    L("mnasnet_small"), L("mnasnet_100"), L("semnasnet_050"), L("spnasnet_100"), L("mobilenetv1_100"),
    L("mobilenetv2_035"), L("mobilenetv2_110d"), L("fbnetc_100"), L("tinynet_e"), L("mobilenet_edgetpu_v2_xs"),
    L("test_efficientnet"), L("efficientnet_b0", kwargs={"output_stride": 16}),
    # mobilenetv3.py (MobileNetV3, LCNet, FBNetV3, MobileNetV4)
    L("mobilenetv3_small_050"), L("mobilenetv3_large_100"), L("mobilenetv3_rw"), L("tf_mobilenetv3_small_minimal_100"),
    L("tf_mobilenetv3_large_075"), L("lcnet_050"), L("fbnetv3_b"), L("mobilenetv4_conv_small"),
    L("mobilenetv4_conv_blur_medium"), E("mobilenetv4_hybrid_medium", "conv_stem"),
    L("ghostnet_050"), L("ghostnetv2_100"), L("ghostnetv3_050"),  # ghostnet.py
    L("rexnet_100"), L("rexnetr_100"),  # rexnet.py
    L("hardcorenas_a"),  # hardcorenas.py
    # regnet.py
    L("regnetx_002"), L("regnety_002"), L("regnetx_004"), L("regnety_008"), L("regnetz_005"),
    # byobnet.py (RepVGG, GENet, MobileOne, RegNetZ, ResNet-ts, gates)
    L("repvgg_a0"), L("gernet_s"), L("mobileone_s0"), L("resnet32ts"), L("resnext26ts"), L("seresnext26ts"),
    L("eca_resnext26ts"), L("gcresnext26ts"), L("regnetz_b16"), L("regnetz_b16_evos"), L("test_byobnet"),
    L("resnet50_clip_gap"),
    # byoanet.py (attention in the later stages)
    E("botnet26t_256", "stem"), E("halonet26t", "stem"), E("lambda_resnet26t", "stem"),
    # cspnet.py, cspnext.py (CSPNet, DarkNet)
    L("cspresnet50"), L("cspresnext50"), L("cspdarknet53"), L("darknet17"), L("darknet21"), L("sedarknet21"),
    L("darknetaa53"), L("cs3darknet_s"), L("cs3darknet_focus_s"), L("cspnext_tiny"),
    L("densenet121"), L("densenetblur121d"),  # densenet.py
    L("dla34"), L("dla46_c"), L("dla46x_c"), L("dla60x_c"), L("dla60"),  # dla.py
    L("dpn48b"), L("dpn68"), L("dpn68b"),  # dpn.py
    L("hrnet_w18_small", height=32), L("hrnet_w18_small_v2", height=32),  # hrnet.py
    L("ese_vovnet19b_dw"), L("ese_vovnet19b_slim_dw"), L("vovnet39a"), L("eca_vovnet39b"),  # vovnet.py
    L("selecsls42"), L("selecsls42b"),  # selecsls.py
    L("tresnet_m"),  # tresnet.py
    # nfnet.py (ScaledStdConv2d, GammaAct, skipinit)
    L("nf_regnet_b0"), L("nf_resnet26"), L("nf_ecaresnet26"), L("nfnet_l0"), L("eca_nfnet_l0"), L("dm_nfnet_f0"),
    L("test_nfnet"),
    L("legacy_xception"), L("xception41"), L("xception41p"),  # xception.py, xception_aligned.py
    L("inception_v3"), L("inception_v4"), L("inception_resnet_v2"),  # inception_*.py
    L("nasnetalarge"), L("pnasnet5large"),  # nasnet.py, pnasnet.py
    L("vgg11", height=224), L("vgg11_bn", height=224),  # vgg.py (7 rows at the end: pre_logits' 7x7 runs)
    # convnext.py, convmixer.py
    L("convnext_zepto_rms"), L("convnext_atto"), L("convnext_atto_ols"), L("convnext_nano"), L("convnextv2_atto"),
    L("convnext_tiny"), L("test_convnext"),
    L("convmixer_1024_20_ks9_p14"), L("convmixer_768_32"),
    # recent convolutional families
    L("repghostnet_050"), L("repvit_m0_9"), L("starnet_s050"), L("starnet_s1"), L("fasternet_t0"),
    L("lcnetv2_small"), E("cpubone_nano", "stem"), L("hgnetv2_b0"), L("hgnet_tiny"), L("rdnet_tiny"),
    L("inception_next_atto"), L("mambaout_femto", nhwc=True), L("test_mambaout", nhwc=True),
    L("poolformer_s12"), L("poolformerv2_s12"), L("convformer_s18"), E("caformer_s18", "stem"),
    L("fastvit_t8"), L("fastvit_s12"), E("fastvit_sa12", "stem"), L("focalnet_tiny_srf"),
    E("csatv2", "stem_dct"),
    # hybrids and convolutional stems followed by attention
    E("efficientformer_l1", "stem"), E("efficientformerv2_s0", "stem"), E("edgenext_xx_small", "stem"),
    E("mobilevit_xxs", "stem"), L("mobilevitv2_050"), E("levit_128s", "stem"), E("levit_conv_128s", "stem"),
    E("coat_lite_mini", "patch_embed1"), E("crossvit_tiny_240", "patch_embed.0.proj"), E("convit_tiny", "patch_embed"),
    E("twins_pcpvt_small", "patch_embeds.0"), E("twins_svt_small", "patch_embeds.0"), E("pvt_v2_b0", "patch_embed"), E("nest_tiny", "patch_embed"),
    E("pit_ti_224", "patch_embed"), E("tnt_s_patch16_224", "pixel_embed.proj"), E("volo_d1_224", "patch_embed"),
    E("xcit_nano_12_p16_224", "patch_embed"), E("visformer_tiny", "stem"), E("sequencer2d_s", "stem"),
    E("gcvit_xxtiny", "stem"), E("davit_tiny", "stem"), E("swin_tiny_patch4_window7_224", "patch_embed"),
    E("swinv2_tiny_window8_256", "patch_embed"), E("swinv2_cr_tiny_224", "patch_embed"),
    E("hiera_tiny_224", "patch_embed"), E("sam2_hiera_tiny", "patch_embed"), E("mvitv2_tiny", "patch_embed"),
    E("tiny_vit_5m_224", "patch_embed"), E("coatnet_pico_rw_224", "stem"), E("maxvit_pico_rw_256", "stem"),
    E("vit_tiny_r_s16_p8_224", "patch_embed"), E("vit_small_resnet26d_224", "patch_embed"),
    E("vit_tiny_patch16_224", "patch_embed"), E("vit_small_patch32_224", "patch_embed"),
    E("vit_small_patch14_dinov2", "patch_embed", multiple=14), E("deit_tiny_patch16_224", "patch_embed"),
    E("beit_base_patch16_224", "patch_embed"), E("eva02_tiny_patch14_224", "patch_embed", multiple=14),
    E("cait_xxs24_224", "patch_embed"), E("vit_relpos_small_patch16_224", "patch_embed"),
    E("samvit_base_patch16_224", "patch_embed"), E("gmixer_12_224", "stem"), E("resmlp_12_224", "stem"),
    E("vitamin_small_224", "patch_embed"), E("iformer_t", "stem"), E("lowformer_b0", "stem"),
    E("nextvit_small", "stem"), E("shvit_s1", "patch_embed"), E("swiftformer_xs", "stem"),
    E("efficientvim_m1", "patch_embed"), E("efficientvit_b0", "stem"), E("efficientvit_m0", "patch_embed"),
    E("mobilenetv5_300m", "conv_stem", check_size=(256, 256)), E("deepseek_vit_412m", "encoder.patch_embed"),
    E("qwen3_vit_88m", "encoder.patch_embed"),
]


# ---------------------------------------------------------------------- timm-specific preparation


def _global_context_forward(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """timm's ``GlobalContext.forward`` with the context computed from ``x.detach()``:
    its attention pooling (a softmax-weighted matrix product over all positions) is
    a global statistic no reduction patch sees."""
    B, C, H, W = x.shape
    xd = x.detach()
    if self.conv_attn is not None:
        attn = F.softmax(self.conv_attn(xd).reshape(B, 1, H * W), dim=-1).unsqueeze(3)
        context = (xd.reshape(B, C, H * W).unsqueeze(1) @ attn).view(B, C, 1, 1)
    else:
        context = xd.mean(dim=(2, 3), keepdim=True)
    if self.mlp_scale is not None:
        x = x * self.gate(self.mlp_scale(context))
    if self.mlp_add is not None:
        x = x + self.mlp_add(context)
    return x


def _raw_weight_conv_forward(self: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """A weight-standardised convolution on its raw weights (same padding kept)."""
    from timm.layers.padding import pad_same

    if getattr(self, "same_pad", False):
        x = pad_same(x, self.kernel_size, self.stride, self.dilation)
    return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


_ACTIVATION_MODULES = ("timm.layers.activations", "timm.layers.activations_me", "torch.nn.modules.activation")
_NOT_ACTIVATIONS = {"MultiheadAttention", "Softmax", "Softmin", "LogSoftmax", "Softmax2d", "GLU", "Threshold"}
_MODEL_ACTIVATIONS = {"GammaAct", "StarReLU", "SquaredReLU"}
_NORM = re.compile(r"(Norm(\d?d)?|NormAct(\d?d)?|NormTlu(\d?d)?)$|^EvoNorm|^FilterResponseNorm")
_STD_CONVS = {"StdConv2d", "StdConv2dSame", "ScaledStdConv2d", "ScaledStdConv2dSame"}
_SAME = {"Conv2dSame", "StdConv2dSame", "ScaledStdConv2dSame", "AvgPool2dSame", "MaxPool2dSame"}


def _computes(module: nn.Module) -> bool:
    """Whether ``module`` holds a convolution or a linear layer (then it is no norm:
    levit's ``ConvNorm``, ``ConvNormAct``...)."""
    return any(isinstance(m, (nn.modules.conv._ConvNd, nn.Linear)) for m in module.modules())


def timm_prepare(model: nn.Module) -> list[str]:
    """The timm-specific steps of the module docstring, in place; what was done, as notes."""
    from timm.layers import AvgPool2dSame
    from timm.layers.pool2d_same import MaxPool2dSame

    done: dict[str, int] = {}

    def note(what: str) -> None:
        done[what] = done.get(what, 0) + 1

    def walk(parent: nn.Module) -> None:
        for name, child in list(parent.named_children()):
            cls = type(child).__name__
            if isinstance(child, MaxPool2dSame):
                if child.dilation not in (1, (1, 1)):
                    raise ValueError("dilated MaxPool2dSame has no average-pool twin")
                setattr(parent, name, AvgPool2dSame(child.kernel_size, child.stride, ceil_mode=child.ceil_mode))
                note("MaxPool2dSame->AvgPool2dSame")
                note("same padding")
                continue
            if isinstance(child, nn.MaxPool2d) and type(child) is not nn.MaxPool2d:
                raise ValueError(f"unknown max pool subclass {cls}")
            if cls in _STD_CONVS:
                child.forward = types.MethodType(_raw_weight_conv_forward, child)
                note(f"{cls} on raw weights")
            if cls in _SAME or getattr(child, "same_pad", False):
                note("same padding")
            if cls == "GlobalContext":
                child.forward = types.MethodType(_global_context_forward, child)
                note("GlobalContext context detached")
                # its submodules (convs, mlps) are prepared like any other
            is_act = (type(child).__module__ in _ACTIVATION_MODULES and cls not in _NOT_ACTIVATIONS) \
                or cls in _MODEL_ACTIVATIONS
            if is_act and not isinstance(child, nn.Identity):
                setattr(parent, name, nn.Identity())
                continue
            if _NORM.search(cls) and not _computes(child):
                if not isinstance(child, (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm)):
                    note(f"{cls}->Identity")
                setattr(parent, name, nn.Identity())
                continue
            walk(child)

    walk(model)
    with torch.no_grad():
        weights = {id(m.weight) for m in model.modules()
                   if isinstance(m, (nn.modules.conv._ConvNd, nn.Linear)) and isinstance(getattr(m, "weight", None), torch.Tensor)}
        for pname, p in model.named_parameters():
            if id(p) in weights or pname.endswith("bias"):
                continue
            p.fill_(1.0 / p[0].numel() if p.dim() >= 2 else 1.0)
    return sorted(f"{k} x{v}" if v > 1 else k for k, v in done.items())


_IDENTITY_FUNCTIONS = {
    F: ("sigmoid", "tanh", "hardtanh", "hardsigmoid", "softplus", "mish", "elu", "celu", "selu", "relu6", "silu",
        "gelu", "hardswish", "relu", "leaky_relu"),
    torch: ("sigmoid", "tanh", "relu"),
    torch.Tensor: ("sigmoid", "sigmoid_", "tanh", "tanh_", "relu", "relu_"),
}


class functional_identities:
    """Functional activations as identities (beyond ``measure.functional_max_as_avg``'s)."""

    def __enter__(self) -> None:
        self.saved = []
        ident = lambda x, *a, **k: x  # noqa: E731
        for owner, names in _IDENTITY_FUNCTIONS.items():
            for name in names:
                self.saved.append((owner, name, getattr(owner, name)))
                setattr(owner, name, ident)

    def __exit__(self, *exc: object) -> None:
        for owner, name, fn in reversed(self.saved):
            setattr(owner, name, fn)


# ---------------------------------------------------------------------- what is measured


_AMAX = torch.Tensor.amax  # before any patch of measure.detach_global_statistics


class Rescaled:
    """Forward hooks on every module that scale an output whose largest magnitude
    leaves [1e-4, 1e4] back to 1, by a detached positive constant (no support moves).
    With activations as identities, products of two local paths (a local gate such as
    GhostNetV2's DFC attention, focal modulation, star and gated-linear units) square
    the values block after block until they overflow. Recurrent layers also have
    their input scaled to one."""

    def __init__(self, model: nn.Module) -> None:
        self.count = 0
        self.handles = [m.register_forward_hook(self._hook) for m in model.modules()]
        self.handles += [m.register_forward_pre_hook(self._pre_hook) for m in model.modules()
                         if isinstance(m, nn.RNNBase)]

    def _pre_hook(self, module: nn.Module, inputs: tuple) -> tuple:
        """A recurrent layer's input scaled to magnitude one: its gates (sigmoid, tanh,
        inside the C++ kernel) must not saturate, or the gradient along the sequence
        dies (Sequencer's LSTMs)."""
        x, *rest = inputs
        big = float(_AMAX(x.detach().abs()))
        return (x / big, *rest) if big > 0 and math.isfinite(big) else None

    def _hook(self, module: nn.Module, inputs: object, out: object) -> object:
        if not isinstance(out, torch.Tensor) or not out.is_floating_point() or out.numel() == 0:
            return None
        big = float(_AMAX(out.detach().abs()))
        if 1e-4 <= big <= 1e4 or not math.isfinite(big) or big == 0:
            return None
        self.count += 1
        return out / big


def _first_tensor(y: object) -> torch.Tensor:
    while not isinstance(y, torch.Tensor):
        if isinstance(y, dict):
            y = next(iter(y.values()))
        elif isinstance(y, (list, tuple)):
            y = y[-1] if isinstance(y, list) else y[0]
        else:
            raise TypeError(f"no tensor in {type(y).__name__}")
    return y


@contextlib.contextmanager
def _size_errors() -> Iterator[None]:
    """timm's size checks (``_assert``) as the ValueError ``measure.smallest_input`` expects
    of an input too small."""
    try:
        yield
    except AssertionError as e:
        raise ValueError(f"size check: {e}") from e


def _finite(t: torch.Tensor) -> torch.Tensor:
    """``t``, if every value is finite: an overflow would leave NaN gradients, which
    read as zero, and the field would shrink without a word."""
    if not torch.isfinite(t).all():
        raise AssertionError("values overflowed while measuring")
    return t


@dataclass(frozen=True)
class Crop:
    """Crop the input, on the right and at the bottom (no position moves), to sizes
    congruent to ``residues`` modulo ``modulus``: a multiple of a patch size, or the
    pretrained size's residue modulo 32 for dynamic 'same' padding (whose pads depend
    on each layer's input size modulo its stride)."""

    modulus: int = 1
    residues: tuple[int, int] = (0, 0)

    def size(self, n: int, axis: int) -> int:
        return n - (n - self.residues[axis]) % self.modulus

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        h, w = self.size(x.shape[-2], 0), self.size(x.shape[-1], 1)
        if h <= 0 or w <= 0:
            raise ValueError(f"input {tuple(x.shape[-2:])} too small to crop to {self}")
        return x[..., :h, :w]


class LastMap:
    """The output of a convolutional model: ``forward_features`` with global statistics
    detached, then ``forward_head`` up to its first global pooling."""

    def __init__(self, spec: Spec, crop: Crop = Crop()) -> None:
        self.spec = spec
        self.crop = crop
        self.where = ""

    def __call__(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        with detach_global_statistics(), functional_identities(), _size_errors():
            f = _first_tensor(model.forward_features(self.crop(x)))
        if f.dim() != 4:
            raise AssertionError(f"forward_features gave shape {tuple(f.shape)}, not a map")
        if self.spec.nhwc:
            self.where = "forward_features (NHWC)"
            return _finite(f.permute(0, 3, 1, 2))
        try:
            with stop_at_global_pooling(), functional_identities(), _size_errors():
                model.forward_head(f)
        except Captured as c:
            if c.tensor is f:
                self.where = f"forward_features ({c.where} in forward_head)"
            else:
                self.where = f"forward_head ({c.where})"
            if c.tensor.dim() != 4:
                raise AssertionError(f"the head pooled a tensor of shape {tuple(c.tensor.shape)}")
            return _finite(c.tensor)
        raise AssertionError("forward_head never pooled globally")


class Embedding:
    """The output of ``module`` inside ``run`` (run on the input, cropped to ``multiple``)."""

    def __init__(self, spec: Spec, model: nn.Module, crop: Crop = Crop()) -> None:
        self.spec = spec
        self.crop = crop
        self.run = model.get_submodule(spec.run)
        for m in self.run.modules():
            if hasattr(m, "strict_img_size"):
                m.strict_img_size = False
            if hasattr(m, "dynamic_img_pad"):
                m.dynamic_img_pad = True  # pads right and bottom only: no position moves
        self.module = spec.module or self._last_leaf(model)
        target = model.get_submodule(self.module)
        rel = self.module[len(spec.run) + 1:] if self.module != spec.run else ""
        self.target = self.run.get_submodule(rel) if rel else self.run
        assert self.target is target

    def _last_leaf(self, model: nn.Module) -> str:
        """The last convolution or pooling ``run`` executes on an input of its usual size."""
        order: list[str] = []
        hooks = []
        prefix = self.spec.run
        for name, m in self.run.named_modules():
            if isinstance(m, (nn.modules.conv._ConvNd, nn.modules.pooling._AvgPoolNd, nn.modules.pooling._MaxPoolNd)) \
                    or type(m).__name__ == "BlurPool2d":
                full = f"{prefix}.{name}" if name else prefix
                hooks.append(m.register_forward_hook(lambda mod, i, o, full=full: order.append(full)))
        size = _input_size(self.spec.name)
        try:
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.run(self.crop(torch.zeros(1, 3, *size)))
        finally:
            for h in hooks:
                h.remove()
        if not order:
            raise AssertionError(f"{prefix} runs no convolution")
        return order[-1]

    def __call__(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        def grab(mod: nn.Module, inputs: object, out: torch.Tensor) -> None:
            raise Captured(out, self.module)

        handle = self.target.register_forward_hook(grab)
        try:
            with detach_global_statistics(), functional_identities(), _size_errors():
                self.run(self.crop(x))
        except Captured as c:
            return _finite(c.tensor)
        finally:
            handle.remove()
        raise AssertionError(f"{self.module} never ran")


def reaches_everywhere(model: nn.Module, size: tuple[int, int]) -> bool:
    """Whether one corner output of ``forward_features`` (prepared, global statistics
    detached) at ``size`` reads the opposite corner pixel of the input: in float32
    (only the support is read, and attention over a large input is heavy), again in
    float64 if float32 overflows."""
    dtype = torch.get_default_dtype()
    try:
        torch.set_default_dtype(torch.float32)
        model.float()
        return _reaches_everywhere(model, size, torch.float32)
    except AssertionError as e:
        if "overflow" not in str(e):
            raise
    finally:
        model.double()
        torch.set_default_dtype(dtype)
    return _reaches_everywhere(model, size, torch.float64)


def _reaches_everywhere(model: nn.Module, size: tuple[int, int], dtype: torch.dtype) -> bool:
    x = torch.ones((1, 3, *size), dtype=dtype, requires_grad=True)
    with functional_max_as_avg(), detach_global_statistics(), functional_identities():
        y = _first_tensor(model.forward_features(x))
    if y.dim() == 4:
        out, pixel = y.flatten()[0], (size[0] - 1, size[1] - 1)
    elif y.dim() == 3:
        out, pixel = y[0, -1].sum(), (0, 0)
    else:
        raise AssertionError(f"forward_features gave shape {tuple(y.shape)}")
    _finite(y)
    grad, = torch.autograd.grad(out, x)
    _finite(grad)
    return bool(grad[0, :, pixel[0], pixel[1]].abs().sum() > 0)


def settle_period(model: nn.Module, output: Callable, whole: WholeModel,
                  outputs: int = 8) -> tuple[Measured, tuple[int, ...]]:
    """The frame with its period: ``measure_whole`` compares two neighbouring outputs
    only, which a frame of period 2 (e.g. GhostNetV2's DFC attention: a 2x2 average
    pool, then a nearest upsampling) can fool (it even reads j=0). Measure ``outputs``
    consecutive outputs from a multiple of ``outputs`` (phases are ``o mod q``), on the
    input widened by ``2 * outputs`` strides, and keep the smallest period ``q`` in 1,
    2, 4 that they repeat with (twice at least); then 16 outputs for q=8. Returns
    the frame and the input shape it was read on."""
    f = whole.frame
    width = whole.shape[-1]
    j = f.j
    if not j:
        _, y = forward(model, whole.shape, output)
        j = Fraction(width, y.shape[-1])
    for count, periods in ((outputs, (1, 2, 4)), (2 * outputs, (8,))):
        wide = _round_up(width + 2 * count * math.ceil(j), 32)
        x, y = forward(model, (*whole.shape[:-1], wide), output)
        n_out = y.shape[-1]
        centre = (f.alpha[0] + f.beta[0]) / 2 if f.j else 0  # j=0: alpha is meaningless
        o_c = round(((wide - 1) / 2 - centre) / j)
        o0 = max(0, round((o_c - count / 2) / 8) * 8)
        if o0 + count > n_out:
            raise AssertionError(f"output too short ({n_out}) to settle the period")
        spans = [span(x, y, o, last=o == o0 + count - 1) for o in range(o0, o0 + count)]
        size = max(b - a + 1 for a, b in spans)
        if min(a for a, _ in spans) < max(1, size // 4) or max(b for _, b in spans) > wide - 1 - max(1, size // 4):
            raise AssertionError(f"outputs {o0}..{o0 + count - 1} come close to the borders of {wide}: {spans}")
        for q in periods:
            shifts = {(spans[i + q][0] - spans[i][0], spans[i + q][1] - spans[i][1]) for i in range(count - q)}
            if len(shifts) == 1 and len(set(next(iter(shifts)))) == 1 and next(iter(shifts))[0] > 0:
                frame = frame_of(o0, spans[: 2 * q], q)
                return frame, (*whole.shape[:-1], wide)
    raise AssertionError(f"no period up to 8 (spans {spans})")


# ---------------------------------------------------------------------- one model


def _input_size(name: str) -> tuple[int, int]:
    import timm

    cfg = timm.models.get_pretrained_cfg(name)
    size = getattr(cfg, "input_size", None) if cfg is not None else None
    return tuple(size[-2:]) if size else (224, 224)


def _file(name: str) -> str:
    from timm.models import _registry

    return _registry._model_to_module[name].rsplit(".", 1)[-1] + ".py"


def _fractions(values: tuple[Fraction, ...]) -> list[str]:
    return [str(v) for v in values]


def measure_spec(spec: Spec) -> dict[str, Any]:
    """Instantiate, prepare and measure one model: its record."""
    import timm

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = timm.create_model(spec.name, pretrained=False, **dict(spec.kwargs))
    model.eval()
    notes = timm_prepare(model)
    Rescaled(model)
    size = _input_size(spec.name)
    same = any(n.startswith("same padding") for n in notes)
    if same and spec.multiple > 1:
        raise ValueError("a patch multiple and 'same' padding: not handled")
    crop = Crop(32, (size[0] % 32, size[1] % 32)) if same else Crop(spec.multiple)
    record: dict[str, Any] = {"name": spec.key, "model": spec.name, "file": _file(spec.name)}
    if spec.kwargs:
        record["kwargs"] = dict(spec.kwargs)
    record["input_size"] = list(size)
    if spec.run is None:
        output = LastMap(spec, crop)
        measured = model
        whole = measure_whole(model, output, gates=False, height=spec.height, limit=1 << 14)
        record.update({"what": "last_spatial_map", "where": output.where, "global": False})
    else:
        prepare(model, weights="mean")
        checked = spec.check_size or size
        if not reaches_everywhere(model, checked):
            raise AssertionError(f"{spec.name}: the final output is not global at {checked}: measure it as a whole")
        output = Embedding(spec, model, crop)
        measured = output.run
        whole = measure_whole(output.run, output, gates=False, height=spec.height, limit=1 << 13)
        record.update({"what": "patch_embed", "run": spec.run, "module": output.module, "global": True,
                       "global_checked_at": list(checked)})
    f, shape = settle_period(measured, output, whole)
    record.update({
        "r": f.r, "j": str(f.j), "P": str(f.padding), "alpha": _fractions(f.alpha), "beta": _fractions(f.beta),
        "measured_on": [*shape[:2], crop.size(shape[2], 0), crop.size(shape[3], 1)],
        "same_padding": same,
        "handling": [n for n in notes if not n.startswith("same padding")],
        "seconds": round(time.perf_counter() - start, 1),
    })
    if same and 32 % int(f.j):
        raise AssertionError(f"{spec.name}: 'same' padding with j={f.j}: widths congruent modulo 32 may differ")
    return record


# ---------------------------------------------------------------------- the data file


def load() -> list[dict[str, Any]]:
    return json.loads(DATA.read_text())["models"] if DATA.exists() else []


def dump(records: list[dict[str, Any]]) -> None:
    import timm

    records = sorted(records, key=lambda r: r["name"])
    head = {"generated_by": "tests/measure_timm.py", "timm": timm.__version__, "torch": torch.__version__.split("+")[0]}
    write_records(DATA, head, "models", records)


def _summary(rec: dict[str, Any], seconds: float) -> str:
    return (f"{rec['what']} r={rec['r']} j={rec['j']} P={rec['P']} alpha={rec['alpha']} on {rec['measured_on']} "
            f"({seconds:.1f}s) {rec.get('where', '')} {rec['handling'] or ''}")


def run(specs: list[Spec], timeout: int) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    return measure_each(specs, lambda s: s.key, measure_spec, _summary, timeout)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="+", metavar="NAME", help="measure these (record names or timm names) only")
    ap.add_argument("--list", action="store_true", help="print the model list and exit")
    ap.add_argument("--check", action="store_true", help="run the cross-checks of the docstring")
    ap.add_argument("--timeout", type=int, default=120)
    ap.add_argument("--dry", action="store_true", help="measure but do not write the data file")
    args = ap.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("RFLINT_MEASURE_THREADS", "2")))
    torch.set_default_dtype(torch.float64)
    if args.list:
        for s in MODELS:
            print(s.key, "" if s.run is None else f"(global; embedding {s.run})")
        return 0
    if args.check:
        return check()
    specs = MODELS
    if args.only:
        wanted = set(args.only)
        specs = [s for s in MODELS if s.key in wanted or s.name in wanted]
        unknown = wanted - {s.key for s in specs} - {s.name for s in specs}
        if unknown:
            print(f"not in the model list: {sorted(unknown)}", file=sys.stderr)
            return 2
    start = time.perf_counter()
    records, failed = run(specs, args.timeout)
    total = time.perf_counter() - start
    if not args.dry:
        listed = {s.key for s in MODELS}  # a record whose model left the list goes too
        keep = [r for r in load() if r["name"] not in {s.key for s in specs} and r["name"] in listed] if args.only else []
        dump(keep + records)
    print(f"{len(records)} measured, {len(failed)} failed, {total:.0f}s", flush=True)
    for key, why in failed:
        print(f"  FAILED {key}: {why}")
    return 1 if failed else 0


# ---------------------------------------------------------------------- the cross-checks


def check() -> int:
    """Re-measure the docstring's cross-checks; print them; nonzero if one fails."""
    import timm
    import torchvision

    from measure import last_spatial_map

    problems = []

    def agree(label: str, a: WholeModel, b: WholeModel) -> None:
        fa, fb = a.frame, b.frame
        ok = (fa.j, fa.alpha, fa.beta) == (fb.j, fb.alpha, fb.beta)
        print(f"{'ok ' if ok else 'BAD'} {label}: r={fa.r} j={fa.j} P={fa.padding} | r={fb.r} j={fb.j} P={fb.padding}")
        if not ok:
            problems.append(label)

    def tv(name: str) -> nn.Module:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return getattr(torchvision.models, name)(weights=None)

    def tv_detached(body: Callable[[nn.Module, torch.Tensor], torch.Tensor]) -> Callable:
        def out(m: nn.Module, x: torch.Tensor) -> torch.Tensor:
            with detach_global_statistics():
                return body(m, x)
        return out

    # Detached statistics against gates neutralised by name, on torchvision's gated models.
    bodies = {
        "mobilenet_v3_large": lambda m, x: m.features(x),
        "efficientnet_b0": lambda m, x: m.features(x),
        "regnet_y_400mf": lambda m, x: m.trunk_output(m.stem(x)),
    }
    tv_frames = {}
    for name, body in bodies.items():
        by_name = measure_whole(tv(name), last_spatial_map)
        detached = measure_whole(tv(name), tv_detached(body), gates=False)
        agree(f"torchvision {name}: neutralise_gates vs detach_global_statistics", by_name, detached)
        tv_frames[name] = by_name

    # A gate's global path is really removed: without the detach, the field spans the input.
    try:
        measure_whole(tv("mobilenet_v3_large"), lambda m, x: m.features(x), gates=False, limit=4096)
    except AssertionError as e:
        print(f"ok  torchvision mobilenet_v3_large with its SE gates live: no finite field ({e})")
    else:
        print("BAD torchvision mobilenet_v3_large with its SE gates live measured a finite field")
        problems.append("gates live")

    def timm_whole(name: str, gates: bool = False) -> WholeModel:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = timm.create_model(name, pretrained=False).eval()
        timm_prepare(model)
        return measure_whole(model, LastMap(L(name)), gates=gates)

    agree("timm resnet50 vs torchvision resnet50", timm_whole("resnet50"), measure_whole(tv("resnet50")))
    agree("timm efficientnet_b0 vs torchvision efficientnet_b0", timm_whole("efficientnet_b0"), tv_frames["efficientnet_b0"])
    agree("timm mobilenetv3_large_100 vs torchvision mobilenet_v3_large", timm_whole("mobilenetv3_large_100"),
          tv_frames["mobilenet_v3_large"])
    agree("timm seresnext26d_32x4d: SE neutralised by name vs detached", timm_whole("seresnext26d_32x4d", gates=True),
          timm_whole("seresnext26d_32x4d"))
    recorded = {r["name"]: r for r in load()}
    reasoned = {"resnet18": (435, 32, 217), "resnet50": (427, 32, 213), "resnet50d": (431, 32, 215),
                "vgg11": (342, 32, 59), "vit_tiny_patch16_224": (16, 16, 0), "deit_tiny_patch16_224": (16, 16, 0),
                "vit_tiny_r_s16_p8_224": (39, 32, 2), "tf_efficientnet_b0": (851, 32, 394),
                "efficientnet_b0": (851, 32, 425)}
    for name, (r, j, p) in reasoned.items():
        rec = recorded.get(name)
        ok = rec is not None and (rec["r"], rec["j"], rec["P"]) == (r, str(j), str(p))
        print(f"{'ok ' if ok else 'BAD'} {name} recorded {rec and (rec['r'], rec['j'], rec['P'])}, reasoned {(r, j, p)}")
        if not ok:
            problems.append(name)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
