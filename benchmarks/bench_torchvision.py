"""Static against dynamic: the receptive fields of torchvision's model zoo.

Run: ``python benchmarks/bench_torchvision.py``. Two fresh processes compute
``r``, ``j`` and the effective padding of the last spatial feature map of the
same models:

- static: rflint reads the installed torchvision source (nothing imported);
- dynamic: ``import torch, torchvision``, build each model (weights=None) and
  back-propagate from one interior output, as gradient-based tools do.

Prints wall time and peak memory (max RSS) of each, and their ratios. No
assertion: the figures go into the notes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

MODELS = [
    ("alexnet.py", "alexnet"), ("vgg.py", "vgg11"), ("vgg.py", "vgg16"), ("vgg.py", "vgg19_bn"),
    ("resnet.py", "resnet18"), ("resnet.py", "resnet34"), ("resnet.py", "resnet50"), ("resnet.py", "resnet101"),
    ("resnet.py", "resnet152"), ("resnet.py", "resnext50_32x4d"), ("resnet.py", "wide_resnet50_2"),
    ("densenet.py", "densenet121"), ("googlenet.py", "googlenet"), ("inception.py", "inception_v3"),
    ("mobilenetv2.py", "mobilenet_v2"), ("mobilenetv3.py", "mobilenet_v3_large"), ("mnasnet.py", "mnasnet1_0"),
    ("shufflenetv2.py", "shufflenet_v2_x1_0"), ("squeezenet.py", "squeezenet1_0"),
    ("efficientnet.py", "efficientnet_b0"), ("efficientnet.py", "efficientnet_v2_s"),
    ("regnet.py", "regnet_y_400mf"), ("convnext.py", "convnext_tiny"),
]

STATIC = """
import importlib.util, json, os, resource, sys
from rflint import api
tv = os.path.join(os.path.dirname(importlib.util.find_spec("torchvision").origin), "models")
out = {}
for file, name in json.loads(sys.argv[1]):
    e = api.explain(f"{tv}/{file}::{name}")
    (_, node), = e.analysis.spatial_outputs()
    f = e.analysis.info(node).frames[-1]
    out[name] = [f.r, str(f.j), str(f.padding)]
print(json.dumps({"rf": out, "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""

DYNAMIC = """
import json, resource, sys
import torch, torchvision
torch.set_grad_enabled(True)
out = {}
for file, name in json.loads(sys.argv[1]):
    model = getattr(torchvision.models, name)(weights=None).eval()
    feats = {}
    def grab(module, inputs):
        feats.setdefault("x", inputs[0])
        raise StopIteration
    handles = [m.register_forward_pre_hook(grab) for m in model.modules() if isinstance(m, torch.nn.AdaptiveAvgPool2d)]
    x = torch.ones(1, 3, 224, 448, requires_grad=True)
    try:
        model(x)
    except StopIteration:
        pass
    for h in handles:
        h.remove()
    y = feats.get("x")
    if y is None:
        out[name] = None
        continue
    y[0, :, y.shape[2] // 2, y.shape[3] // 2].sum().backward()
    cols = (x.grad.abs().sum(dim=(0, 1, 2)) > 0).nonzero().flatten()
    out[name] = int(cols[-1] - cols[0] + 1)
print(json.dumps({"rf": out, "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def run(code: str) -> tuple[float, dict]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, json.dumps(MODELS)], capture_output=True, text=True, check=True)
    return time.perf_counter() - start, json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    t_static, static = run(STATIC)
    t_dynamic, dynamic = run(DYNAMIC)
    m_static, m_dynamic = static["maxrss_kb"] / 1024, dynamic["maxrss_kb"] / 1024
    print(f"{len(MODELS)} torchvision models, last spatial feature map's receptive field")
    print(f"static  (rflint, source):          {t_static:7.2f} s   peak {m_static:7.0f} MiB")
    print(f"dynamic (torch, gradient at 224):  {t_dynamic:7.2f} s   peak {m_dynamic:7.0f} MiB")
    print(f"ratio: {t_dynamic / t_static:.1f}x faster, {m_dynamic / m_static:.1f}x less memory")
    print("The dynamic side is a cost reference: one forward and backward per model at 224x448, as")
    print("gradient-based tools run; exact agreement with measurement is tests/test_torchvision.py's job.")


if __name__ == "__main__":
    main()
