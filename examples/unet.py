"""A compact UNet for segmentation whose decoder upsamples with a transposed
convolution of kernel 3 and stride 2: the kernel is not a multiple of the
stride, so neighbouring outputs receive 1 and 2 inputs per axis and the
output shows a checkerboard (CB102). `rflint check --fix --unsafe-fixes`
offers kernel_size=4, padding=1, output_padding=0, which keeps the size.
"""

import torch
from torch import nn


def double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


# rflint: input-size=256 object-size=8..40 task=segmentation
class UNet(nn.Module):
    def __init__(self, in_channels: int = 3, classes: int = 2, width: int = 32) -> None:
        super().__init__()
        self.enc1 = double_conv(in_channels, width)
        self.down1 = nn.AvgPool2d(2)
        self.enc2 = double_conv(width, 2 * width)
        self.down2 = nn.AvgPool2d(2)
        self.bottom = double_conv(2 * width, 4 * width)
        self.up2 = nn.Upsample(scale_factor=2, mode="nearest")
        self.dec2 = double_conv(6 * width, 2 * width)
        self.up1 = nn.ConvTranspose2d(2 * width, width, kernel_size=3, stride=2, padding=1, output_padding=1)
        self.dec1 = double_conv(2 * width, width)
        self.head = nn.Conv2d(width, classes, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.enc1(x)
        e2 = self.enc2(self.down1(e1))
        b = self.bottom(self.down2(e2))
        d2 = self.dec2(torch.cat([self.up2(b), e2], dim=1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], dim=1))
        return self.head(d1)
