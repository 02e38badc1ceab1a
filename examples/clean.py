"""A model rflint has nothing to say about: low-pass before every subsampling
(average pooling with kernel >= stride is itself a box blur), resize-then-conv
upsampling, and a receptive field larger than the configured objects.
"""

import torch
import torch.nn as nn


def conv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


# rflint: input-size=128 object-size=8..24 task=segmentation
class CleanSegmenter(nn.Module):
    def __init__(self, classes: int = 3) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            conv_bn_relu(3, 32),
            nn.AvgPool2d(kernel_size=2, stride=2),
            conv_bn_relu(32, 64),
            nn.AvgPool2d(kernel_size=2, stride=2),
            conv_bn_relu(64, 64),
            conv_bn_relu(64, 64),
        )
        self.decoder = nn.Sequential(
            nn.Upsample(scale_factor=4, mode="nearest"),
            conv_bn_relu(64, 32),
            nn.Conv2d(32, classes, kernel_size=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))
