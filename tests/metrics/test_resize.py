"""Resizing to a feature network's input: consecutive frames in time, bilinear half-pixel in space."""

import torch

from provgan.metrics.resize import fit_frames, resize_clips


def _numbered(frames: int) -> torch.Tensor:
    return torch.arange(float(frames)).view(1, 1, frames, 1, 1).expand(1, 1, frames, 2, 2)


def test_long_clips_keep_their_first_consecutive_frames():
    assert fit_frames(_numbered(32), 16)[0, 0, :, 0, 0].tolist() == list(range(16))


def test_short_clips_repeat_the_nearest_frame():
    assert fit_frames(_numbered(4), 16)[0, 0, :, 0, 0].tolist() == [t // 4 for t in range(16)]
    assert fit_frames(_numbered(16), 16)[0, 0, :, 0, 0].tolist() == list(range(16))


def test_space_is_bilinear_with_half_pixel_centres():
    x = torch.arange(4.0).view(1, 1, 1, 1, 4).expand(1, 1, 2, 4, 4)
    y = resize_clips(x, (2, 4, 8))
    torch.testing.assert_close(y[0, 0, 0, 0], torch.tensor([0.0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3.0]))
    assert y.shape == (1, 1, 2, 4, 8)


def test_shrinking_either_axis_is_antialiased():
    """Antialias whenever H or W shrinks (the FVD reference resizes frames with an antialiased filter)."""
    import torch.nn.functional as F

    torch.manual_seed(0)
    x = torch.rand(1, 2, 3, 8, 4)
    for shape in ((3, 4, 8), (3, 16, 2), (3, 4, 2)):  # shrink H only, W only, both
        y = resize_clips(x, shape)
        frames = x.permute(0, 2, 1, 3, 4).reshape(3, 2, 8, 4)
        ref = F.interpolate(frames, size=shape[1:], mode="bilinear", align_corners=False, antialias=True)
        plain = F.interpolate(frames, size=shape[1:], mode="bilinear", align_corners=False, antialias=False)
        torch.testing.assert_close(y, ref.reshape(1, 3, 2, *shape[1:]).permute(0, 2, 1, 3, 4))
        assert not torch.allclose(ref, plain)  # the check can tell the two apart
    assert resize_clips(x, (3, 8, 4)).is_contiguous() and torch.equal(resize_clips(x, (3, 8, 4)), x)
