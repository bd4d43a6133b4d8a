"""The original FVD code's own example, as an external check of the port (Unterthiner et al. 2018).

``frechet_video_distance/example.py`` compares 16 all-zero videos with 16 all-255 videos of 15
frames at 64 x 64 and says "The FVD for this setup should be around 131." Every video of a set is
the same, so both covariances are zero and FVD is the squared distance of the two logit vectors:
the example checks the network, the weights and the preprocessing, not the covariance arithmetic.

:func:`example_fvd` runs it under any FVD protocol of :mod:`provgan.metrics.protocols`; under
``fvd-tf`` (the code the 131 comes from) provgan must land within 3 % of 131
(``tests/metrics/test_fvd_example.py``; ``benchmarks/fvd_example.py`` prints every protocol).
"""

from __future__ import annotations

import numpy as np
import torch

from provgan.metrics.protocols import Protocol, prepare
from provgan.metrics.scores import frechet_distance_of

EXAMPLE_VIDEOS = 16
EXAMPLE_SHAPE = (15, 64, 64)  # frames, height, width
EXAMPLE_FVD = 131.0  # "should be around 131"


def example_sets() -> tuple[torch.Tensor, torch.Tensor]:
    """(zeros, 255s) as provgan clips (N, 3, T, H, W) in [-1, 1]: 0 -> -1 and 255 -> +1."""
    shape = (EXAMPLE_VIDEOS, 3, *EXAMPLE_SHAPE)
    return torch.full(shape, -1.0), torch.full(shape, 1.0)


@torch.no_grad()
def example_fvd(protocol: Protocol, model: torch.nn.Module, precision: str = "fp32", batch: int = 4,
                distinct_only: bool = False) -> float:
    """FVD of the example under ``protocol`` with I3D ``model`` (returns ``(logits, pool)``).

    Both sets are "fake" (generated) videos in the example. ``distinct_only`` sends only the one
    distinct video of each set through the network and repeats its logits 16 times -- exact here,
    since the 16 preprocessed videos are equal (checked), and 16x cheaper on a CPU.
    """
    logits = []
    for videos in example_sets():
        x = prepare(protocol, videos)
        if distinct_only:
            if not bool((x == x[:1]).all()):
                raise AssertionError("example videos differ after preprocessing; run without distinct_only")
            x = x[:1]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            out = torch.cat([model(part)[0].float() for part in x.split(batch)])
        logits.append(np.repeat(out.numpy(), EXAMPLE_VIDEOS // len(out), axis=0).astype(np.float64))
    return frechet_distance_of(logits[0], logits[1])
