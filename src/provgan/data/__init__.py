"""Data: video I/O, the prepared per-level clip store, ``provgan prepare`` and the moving digits.

* :mod:`provgan.data.video_io` — ``read_video`` / ``probe_video`` / ``write_video`` through PyAV;
* :mod:`provgan.data.store` — ``open_store`` -> ``ClipStore`` (memory-mapped levels, labels,
  manifest) and ``ClipSampler`` (deterministic, resumable, rank-sharded minibatches);
* :mod:`provgan.data.prepare` — ``prepare_store`` (videos -> store) and ``prepare_builtin``;
* :mod:`provgan.data.sources` — finding clips in a folder, a frame-folder tree or a class tree;
* :mod:`provgan.data.moving_digits` — the embedded dataset built from scikit-learn's digits.

Import the submodules directly; this package imports nothing so worker processes start fast.
"""
