"""A convolutional autoencoder whose cheapest-possible decoder upsamples with
1x1 transposed convolutions of stride 2: every other output row and column
receives no input at all, only the bias (CB101).
"""

import torch
import torch.nn as nn


# rflint: input-size=64
class AutoEncoder(nn.Module):
    def __init__(self, channels: int = 1, hidden: int = 16) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(channels, hidden, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.AvgPool2d(2),
            nn.Conv2d(hidden, 2 * hidden, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.AvgPool2d(2),
        )
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(2 * hidden, hidden, kernel_size=1, stride=2, output_padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(hidden, channels, kernel_size=4, stride=2, padding=1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))
