"""The trainer's view of checkpoints: the file format (:mod:`provgan.checkpoints`) and the trained
generator a checkpoint holds (:mod:`provgan.registry`), re-exported where the trainer has always
imported them. Code outside ``provgan.train`` imports those two modules directly."""

from provgan.checkpoints import (CKPT_RE, FORMAT, atomic_torch_save, checkpoint_name, kimg_tag,  # noqa: F401
                                 latest_checkpoint, list_checkpoints, read_checkpoint, resolve_checkpoint,
                                 save_checkpoint)
from provgan.registry import TrainedGenerator, load_sampler  # noqa: F401
