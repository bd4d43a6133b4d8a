"""Metrics of thesis ch. 6 and today's video standard: IS, FID, FVD, KVD and a video SWD.

Modules: ``scores`` (pure functions on feature arrays), ``swd`` (weight-free sliced Wasserstein
on spatio-temporal Laplacian patches), ``c3d`` / ``i3d`` (feature networks), ``i3d_weights`` (the
offline conversion of the real Kinetics-400 weights), ``classifier`` (the offline classifier
protocol), ``features`` (one wrapper for every feature network), ``protocols`` (the published IS
and FVD pipelines as named records, and the protocol card of every metrics JSON), ``fvd_example``
(the original FVD code's example, an external check of the port), ``evaluate`` (what ``provgan
evaluate`` does) and ``cli``.
"""
