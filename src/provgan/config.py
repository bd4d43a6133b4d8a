"""Typed, frozen configuration: dataclasses, YAML presets, dotted overrides, strict validation.

A run is described by one :class:`Config`. Presets live in ``provgan/configs/*.yaml`` and only name
the values that differ from the dataclass defaults. Every key is checked: an unknown key is an error
that names it and the closest valid one; a value of the wrong type or an invalid level plan is one
clear line (:class:`ConfigError`).
"""

from __future__ import annotations

import collections.abc
import dataclasses
import difflib
import re
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from provgan.errors import ConfigError

Shape = tuple[int, int, int]

LOSS_NAMES = ("swgan", "swgan-eq53", "wgan-gp", "wgan", "ns", "hinge")
ARCH_NAMES = ("progressive", "vgan", "tgan", "mocogan")
OPTIMIZER_NAMES = ("adam", "rmsprop")
PRECISIONS = ("auto", "fp32", "bf16")
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class ModelConfig:
    """Network shape: the level plan (T, H, W per level) and channels per level (Table A.1).

    ``arch`` picks the networks (:mod:`provgan.registry`): the progressive G/D of the thesis, or one
    of the baselines of Tables 8.1/8.2 (VGAN, TGAN, MoCoGAN; BASELINES.md), which train at the one
    level of their plan. ``width`` multiplies a baseline's channel counts (latent sizes stay) and
    ``options`` is the small option block of that baseline (its keys are checked by the baseline).
    ``g_channels``/``d_channels``/``latent_dim``/``feature_dim``/``mbstd_group`` describe the
    progressive networks only.
    """

    arch: str = "progressive"
    width: float = 1.0
    options: Mapping[str, Any] = field(default_factory=dict)
    plan: tuple[Shape, ...] = ((4, 4, 4), (8, 8, 8), (8, 16, 16), (8, 32, 32), (16, 64, 64),
                               (16, 128, 128), (32, 256, 256))
    g_channels: tuple[int, ...] = (128, 128, 128, 64, 32, 16, 8)
    d_channels: tuple[int, ...] = ()  # empty: mirror g_channels
    latent_dim: int = 128
    feature_dim: int = 128  # E(x) size = number of slices K of the SWGAN head
    image_channels: int = 3
    mbstd_group: int = 4
    # class-conditional G and D (thesis §2.3, ch. 9): a learned class embedding joined to the latent and
    # a projection term in the critic; the classes are the store's label factor ``data.label``
    conditional: bool = False
    num_classes: int = 0  # 0: taken from the store when training starts (and saved in the checkpoint)
    # per-channel mean of the training clips in [-1, 1] units (data.center fills it from the store when
    # training starts; saved in the checkpoint's config). D reads x - mean and G writes net(z) + mean,
    # so both networks work on centred values; empty: no shift (runs trained before it existed)
    pixel_mean: tuple[float, ...] = ()
    # G: every block after the first also reads the clip's latent, as a per-channel bias broadcast over
    # all frames and pixels (a dense layer of pn(z) per block). Without it z reaches the finer blocks
    # only through the first block's 4 time slices, each an unrelated linear map of z
    latent_broadcast: bool = False
    # D: next to the minibatch stddev channel, one channel holding how much each clip's spatially pooled
    # features change over time (TemporalStdDev): a clip whose content morphs from frame to frame
    # shows it, a digit that only moves does not
    temporal_std: bool = False
    # G: StyleGAN2's modulation (Karras et al. 2020, eq. 1) with PixelNorm in place of demodulation: the
    # input of every G convolution and toRGB is scaled per sample and channel by an affine map of pn(z),
    # the same at every frame and pixel. It carries what is global to a clip (its colour, which digit)
    # to every frame multiplicatively, where the plain progressive G must rebuild it from the first
    # block's 4 time slices at each position
    style_modulation: bool = False
    # G: the first block's dense layer draws a content map that is the same in every frame plus one
    # vector per frame that is the same at every pixel (``content(y, x) + time(t)``), instead of
    # T0*H0*W0 unrelated features. What a clip shows is then one map for all its frames, and only the
    # per-frame vectors, which carry no spatial layout, can change it through time (issue 14: the
    # demo's generator turns one digit into another as its clip plays)
    factorized_base: bool = False
    # G: StyleGAN2's skip generator (Karras et al. 2020, Fig. 7b) inside progressive growing. Every
    # level's toRGB stays in use: level L draws up(rgb_{L-1}) + toRGB_L(h_L), so a new level adds
    # detail to the clip the levels below it draw, where the plain progressive G (§4.1) drops the lower
    # toRGB once the fade ends and redraws the whole clip through the new level's few channels. The fade
    # scales the new term by alpha, so alpha = 0 is the previous level's output, as in §4.1
    g_skips: bool = False
    # D: the mirror (StyleGAN2's input-skip D): every level also reads the clip pooled to its own shape
    # through its fromRGB, added to what the finer blocks pass down, so the lower levels' view of the
    # clip survives the fade instead of being replaced by the new block's output
    d_skips: bool = False
    # G: an unsupervised categorical code (InfoGAN, Chen et al. 2016): c = argmax of the first
    # ``latent_codes`` entries of z, uniform over them, read through a learned embedding joined to pn(z)
    # as a class-conditional G reads its class. No label of the data is used; with loss.info_weight the
    # critic learns to tell the code back from G's clips, so each code must draw something apart from
    # the others, and a continuous latent no longer has to bridge every pair of digits with hybrids
    latent_codes: int = 0
    # G: how each block upsamples its input features: "nearest" (PGGAN, §4.1) or "linear" (trilinear,
    # StyleGAN's smooth upsampling). The fade's RGB path and the real clips' fade stay nearest, as §4.1
    # has them. The moving digits are 8x8 glyphs drawn large, so their 32x32 frames are smooth
    # everywhere, and blocks copied by nearest upsampling are one more thing G's finest, narrowest
    # block has to undo
    g_upsample: str = "nearest"
    # D side: a second progressive critic that scores single frames (DVD-GAN's spatial discriminator,
    # Clark et al. 2019; MoCoGAN's image critic), ``frame_critic`` frames of every clip, drawn at random
    # without replacement from the real and the fake clips the clip critic D sees. It is D's network on
    # the plan with one frame per level (1, H_L, W_L), without the temporal statistic, with its own SWGAN
    # head, trained in D's step; G minimises the sum of both critics' losses (loss.frame_weight on the
    # frames'). Why (issue 14): a clip is read as a digit when its frames are, and a G with the 8x32x32
    # top draws frames the classifier is sure of 1.65 times in 8 where real clips give 5.2; a frame
    # critic sees each frame's shape on its own, at a fraction of the clip critic's cost. Measured at
    # the demo's budget it buys no digits (README, "Four more at the demo's budget"). 0: off
    frame_critic: int = 0
    # G: StyleGAN's mapping network (Karras et al. 2019): this many dense layers (LReLU, learning-rate
    # multiplier 0.01) map pn(z) to the w that G reads in place of pn(z). 0: off (PGGAN, the thesis)
    mapping_layers: int = 0
    # The mapping network's learning-rate multiplier. StyleGAN's 0.01 suits its 25,000 kimg at lr 1e-3;
    # in a 26-kimg CPU run it leaves the mapping a fixed random warp of pn(z): in the demo's run its
    # weights moved 0.3-0.4% (|W - W0| / |W0|) where G's convolutions moved 36-38%; at 1.0, 30-32%
    mapping_lr_mul: float = 0.01

    @property
    def discriminator_channels(self) -> tuple[int, ...]:
        return self.d_channels or self.g_channels


@dataclass(frozen=True)
class LossConfig:
    """Which adversarial loss and its penalty weights (DESIGN.md §1 "Losses", thesis eq. 5.3)."""

    name: str = "swgan"
    gp_weight: float = 10.0  # WGAN-GP lambda
    drift_weight: float = 0.001  # PGGAN epsilon_drift
    swgan_lambda1: float = 50.0  # weight of ||(1-t) grad_xhat f(E(xhat))||^2 (reference code: 5 * 10)
    swgan_lambda2: float = 10.0  # weight of the feature-projection penalty
    swgan_target: float = 0.01  # target of lambda_k * h(o) in that penalty
    eq53_k: float = 1.0  # Lipschitz constant k of eq. 5.3
    r1_gamma: float = 0.0  # optional R1 penalty for ns/hinge (0 = off)
    # StyleGAN2's lazy regularisation: the double-backward penalty (gp, jac, r1) on every k-th D step
    # only, weighted by k; 1 = every step (PGGAN and the reference code)
    reg_interval: int = 1
    # temporal negatives: this share of the critic's fake batch (clip views only) is real clips with their
    # frames shuffled, so the critic must tell the order of frames apart (0 = off; README, issue 14)
    shuffled_fakes: float = 0.0
    # self-supervision of the progressive critic (Chen et al. 2019, "Self-Supervised GANs via Auxiliary
    # Rotation Loss"): D also predicts by how many quarter turns every frame of a real clip was rotated,
    # from E(x) through a 4-way linear head, with this weight on the cross-entropy (0 = off). Issue 14:
    # the critic learns the digits' shapes slowly; a conditional critic, which is told the digit, learns
    # them 2x faster. Square frames only (a quarter turn swaps H and W)
    rotation_weight: float = 0.0
    # InfoGAN's mutual-information term (Chen et al. 2016, L_I) for model.latent_codes: a K-way linear
    # head Q on E(x) and lambda * cross-entropy(Q(E(G(z))), c) added to both the critic's and G's loss
    info_weight: float = 0.0
    # top-k training (Sinha et al. 2020): G's loss averages only this share of its batch, the fakes
    # the critic scores most real (1: every fake, the plain loss)
    g_top_k: float = 1.0
    # weight of the frame critic's G loss (model.frame_critic) next to the clip critic's, whose weight is 1
    frame_weight: float = 1.0


@dataclass(frozen=True)
class ScheduleConfig:
    """PGGAN's growth schedule in thousands of clips shown (kimg), per-resolution batch and lr.

    ``stable`` and ``fade`` override ``stable_kimg`` / ``fade_kimg`` for the level whose spatial
    resolution H is the key (``fade`` is that level's fade-in), as ``minibatch`` and ``lr`` do: a
    short run can spend its clips where a level needs them.
    """

    stable_kimg: float = 600.0
    fade_kimg: float = 600.0
    stable: Mapping[int, float] = field(default_factory=dict)
    fade: Mapping[int, float] = field(default_factory=dict)
    total_kimg: float = 12000.0
    minibatch: Mapping[int, int] = field(default_factory=lambda: {4: 32, 8: 32, 16: 16, 32: 16,
                                                                    64: 8, 128: 8, 256: 4})
    minibatch_default: int = 16
    lr: Mapping[int, float] = field(default_factory=lambda: {128: 1.5e-3})
    lr_default: float = 1e-3


@dataclass(frozen=True)
class OptimConfig:
    """The progressive networks' optimizer (PGGAN: Adam, betas (0, 0.99), eps 1e-8) and G's EMA.

    ``name`` is ``adam`` or ``rmsprop`` (``alpha`` is RMSprop's squared-gradient decay; betas are
    Adam's); ``weight_decay`` is PyTorch's coupled L2. A baseline brings its own optimizers from its
    original code (BASELINES.md §0), so these four keys apply to ``model.arch: progressive``.
    """

    name: str = "adam"
    weight_decay: float = 0.0
    alpha: float = 0.99
    beta1: float = 0.0
    beta2: float = 0.99
    eps: float = 1e-8
    ema_beta: float = 0.999
    ema_rampup: bool = True  # beta_t = min(ema_beta, (1 + t) / (10 + t)): small runs still average
    # > 0: StyleGAN2-ADA's rule instead of a fixed beta: the EMA's half-life in kimg, so the average
    # spans the same number of clips at any batch size and catches up with layers a fade adds
    ema_halflife_kimg: float = 0.0
    reset_adam_on_phase: bool = True
    n_critic: int = 1
    # D's (and the sliced head's) lr is the schedule's lr times this: a two time-scale update rule
    # (TTUR, Heusel et al. 2017; PGGAN's separate D_lrate_dict); 1 = one lr for both, as in PGGAN
    d_lr_mult: float = 1.0


@dataclass(frozen=True)
class DataConfig:
    """How clips are read for training."""

    mirror: bool = True  # same horizontal flip on every frame of a clip
    workers: int = 0
    # the label factor classes mean (a name from the store's label names, e.g. "digit"); empty: the
    # whole label. The training-time classifier metrics measure coverage of this factor.
    label: str = ""
    # centre the progressive networks on the store's per-channel pixel mean (model.pixel_mean): on
    # dark clips (the moving digits' mean is -0.8) an uncentred D learns to tell real from fake
    # several times more slowly (README, "Learning curves"); off by default until a GAN run shows gain
    center: bool = False


@dataclass(frozen=True)
class RunConfig:
    """Everything about a run that does not change the model: seed, device, precision, cadence."""

    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    snapshot_kimg: float = 50.0
    sample_kimg: float = 50.0
    keep_checkpoints: int = 3
    sample_grid: tuple[int, int] = (4, 4)
    log_every_steps: int = 10
    on_nonfinite: str = "stop"  # stop | rollback
    channels_last: bool = False  # channels_last_3d memory format for networks and clips
    # quality of G_ema measured during training (train/quality.py): every metrics_kimg kimg, at the
    # end of every level and of the run; 0 turns it off
    metrics_kimg: float = 50.0
    metrics_num: int = 256  # clips, generated and real, per measurement
    classifier: str = ""  # offline classifier file (`provgan classifier train`): sure share, classes, IS
    metrics_fvd: int = 0  # > 0: also FVD on this many clips (I3D; slow on a CPU)


@dataclass(frozen=True)
class Config:
    """A whole run. Build it with :func:`load_config`; never edit source to pick an experiment."""

    name: str = "custom"
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    data: DataConfig = field(default_factory=DataConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def to_dict(self) -> dict[str, Any]:
        return to_plain(self)


# ---------------------------------------------------------------------------------------------
# building from plain data


def _closest(key: str, valid: Sequence[str]) -> str:
    match = difflib.get_close_matches(key, valid, n=1, cutoff=0.0)
    return f" (did you mean '{match[0]}'?)" if match else ""


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    """Convert a YAML value to the annotated type, or raise a one-line ConfigError."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return build_dataclass(annotation, value, where)
    if annotation is Any:
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise ConfigError(f"{where}: expected {len(args)} values, got {list(value)!r}")
        return tuple(_coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if origin in (dict, collections.abc.Mapping):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        kt, vt = args
        return {_coerce(k, kt, f"{where} key"): _coerce(v, vt, f"{where}[{k}]") for k, v in value.items()}
    if origin in (typing.Union, types.UnionType):
        for a in args:
            try:
                return _coerce(value, a, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: {value!r} is not a valid {annotation}")
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if isinstance(value, str) and value.strip().lstrip("-").isdigit():
                return int(value)
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    return value


def build_dataclass(cls: type, data: Mapping[str, Any], where: str = "config") -> Any:
    """Build ``cls`` from a mapping, rejecting unknown keys with the closest valid name."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in data.items():
        if key not in names:
            raise ConfigError(f"unknown key '{where}.{key}'{_closest(str(key), names)}".replace("config.", "", 1))
        kwargs[key] = _coerce(value, hints[key], f"{where}.{key}".replace("config.", "", 1))
    return cls(**kwargs)


def to_plain(obj: Any) -> Any:
    """Dataclass -> nested dicts/lists of YAML-safe values (the inverse of build_dataclass)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (tuple, list)):
        return [to_plain(v) for v in obj]
    if isinstance(obj, Mapping):
        return {k: to_plain(v) for k, v in obj.items()}
    return obj


# ---------------------------------------------------------------------------------------------
# validation


def validate(cfg: Config) -> Config:
    """Check cross-field rules; return ``cfg`` unchanged or raise one ConfigError."""
    from provgan.levels import validate_plan  # local import: levels imports this module's types

    m = cfg.model
    validate_plan(m.plan)
    if cfg.loss.rotation_weight < 0:
        raise ConfigError(f"loss.rotation_weight must be >= 0 (0: off), got {cfg.loss.rotation_weight}")
    if cfg.loss.rotation_weight > 0 and m.arch != "progressive":
        raise ConfigError(f"loss.rotation_weight is for model.arch progressive, not the {m.arch} baseline")
    if cfg.loss.rotation_weight > 0 and any(h != w for _, h, w in m.plan):
        raise ConfigError("loss.rotation_weight needs square frames at every level of model.plan "
                          "(a quarter turn swaps height and width)")
    if m.latent_codes < 0 or m.latent_codes == 1 or m.latent_codes > m.latent_dim:
        raise ConfigError(f"model.latent_codes must be 0 (off) or 2..model.latent_dim ({m.latent_dim}), "
                          f"got {m.latent_codes}")
    if m.latent_codes and (m.conditional or m.arch != "progressive"):
        raise ConfigError("model.latent_codes is for an unconditional progressive model "
                          "(model.conditional=false, model.arch=progressive)")
    if m.mapping_layers < 0:
        raise ConfigError(f"model.mapping_layers must be >= 0 (0: off), got {m.mapping_layers}")
    if not 0 < m.mapping_lr_mul <= 1:
        raise ConfigError(f"model.mapping_lr_mul must be in (0, 1] (StyleGAN: 0.01), got {m.mapping_lr_mul}")
    if m.frame_critic < 0:
        raise ConfigError(f"model.frame_critic must be >= 0 (frames per clip; 0: off), got {m.frame_critic}")
    if m.frame_critic and m.arch != "progressive":
        raise ConfigError(f"model.frame_critic is for model.arch progressive, not the {m.arch} baseline "
                          f"(MoCoGAN has its own image critic)")
    if m.frame_critic > min(t for t, _, _ in m.plan):
        raise ConfigError(f"model.frame_critic={m.frame_critic} frames per clip, but the shortest level of "
                          f"model.plan has {min(t for t, _, _ in m.plan)} frames: give at most that many")
    if not 0.0 < cfg.loss.g_top_k <= 1.0:
        raise ConfigError(f"loss.g_top_k must be in (0, 1] (the share of G's batch its loss keeps), got "
                          f"{cfg.loss.g_top_k}")
    if cfg.loss.frame_weight < 0:
        raise ConfigError(f"loss.frame_weight must be >= 0, got {cfg.loss.frame_weight}")
    if m.g_upsample not in ("nearest", "linear"):
        raise ConfigError(f"model.g_upsample must be nearest or linear, got '{m.g_upsample}'")
    if cfg.loss.info_weight < 0:
        raise ConfigError(f"loss.info_weight must be >= 0 (0: off), got {cfg.loss.info_weight}")
    if cfg.loss.info_weight > 0 and not m.latent_codes:
        raise ConfigError("loss.info_weight needs model.latent_codes > 0 (the code the critic tells back)")
    if cfg.loss.info_weight > 0 and cfg.loss.shuffled_fakes > 0:
        raise ConfigError("loss.info_weight and loss.shuffled_fakes exclude each other "
                          "(a shuffled real clip has no code)")
    if m.arch not in ARCH_NAMES:
        raise ConfigError(f"model.arch '{m.arch}' is not one of {', '.join(ARCH_NAMES)}{_closest(m.arch, ARCH_NAMES)}")
    if not m.width > 0:
        raise ConfigError(f"model.width must be > 0, got {m.width}")
    if m.arch != "progressive":
        _validate_baseline(cfg)
        if m.conditional:
            raise ConfigError(f"model.conditional is for model.arch progressive; the {m.arch} baseline is unconditional")
    elif m.options:
        raise ConfigError(f"model.options ({', '.join(map(str, m.options))}) is for the baselines; "
                          f"model.arch progressive takes none")
    o = cfg.optim
    if o.name not in OPTIMIZER_NAMES:
        raise ConfigError(f"optim.name '{o.name}' is not one of {', '.join(OPTIMIZER_NAMES)}")
    if o.weight_decay < 0 or not 0 <= o.alpha < 1:
        raise ConfigError("optim.weight_decay must be >= 0 and optim.alpha in [0, 1)")
    if m.arch == "progressive" and len(m.g_channels) != len(m.plan):
        raise ConfigError(f"model.g_channels has {len(m.g_channels)} entries but model.plan has "
                          f"{len(m.plan)} levels: give one channel count per level")
    if m.arch == "progressive" and m.d_channels and len(m.d_channels) != len(m.plan):
        raise ConfigError(f"model.d_channels has {len(m.d_channels)} entries but model.plan has "
                          f"{len(m.plan)} levels (leave it empty to mirror g_channels)")
    for name, value in (("latent_dim", m.latent_dim), ("feature_dim", m.feature_dim),
                        ("image_channels", m.image_channels), ("mbstd_group", m.mbstd_group)):
        if value < 1:
            raise ConfigError(f"model.{name} must be >= 1, got {value}")
    if any(c < 1 for c in m.g_channels + m.d_channels):
        raise ConfigError("model channel counts must all be >= 1")
    if m.pixel_mean and (len(m.pixel_mean) != m.image_channels or any(not -1.0 <= v <= 1.0 for v in m.pixel_mean)):
        raise ConfigError(f"model.pixel_mean needs {m.image_channels} values in [-1, 1] (one per channel) or none, "
                          f"got {list(m.pixel_mean)}")
    if m.num_classes < 0 or (m.num_classes and not m.conditional):
        raise ConfigError(f"model.num_classes={m.num_classes}: set model.conditional=true for a class-conditional "
                          f"model (num_classes 0 takes the classes from the store's labels)")
    if cfg.loss.name not in LOSS_NAMES:
        raise ConfigError(f"loss.name '{cfg.loss.name}' is not one of {', '.join(LOSS_NAMES)}"
                          f"{_closest(cfg.loss.name, LOSS_NAMES)}")
    if not 0.0 <= cfg.loss.shuffled_fakes < 1.0:
        raise ConfigError(f"loss.shuffled_fakes must be in [0, 1) (a share of the fake batch), got "
                          f"{cfg.loss.shuffled_fakes}")
    if cfg.loss.reg_interval < 1:
        raise ConfigError(f"loss.reg_interval must be >= 1 (1: penalty on every D step), got {cfg.loss.reg_interval}")
    s = cfg.schedule
    if s.stable_kimg <= 0 or s.fade_kimg < 0 or s.total_kimg <= 0:
        raise ConfigError("schedule: stable_kimg and total_kimg must be > 0, fade_kimg >= 0")
    if any(v <= 0 for v in s.stable.values()) or any(v < 0 for v in s.fade.values()):
        raise ConfigError("schedule.stable values must be > 0 and schedule.fade values >= 0")
    resolutions = {shape[1] for shape in m.plan}
    for name, table in (("stable", s.stable), ("fade", s.fade)):
        unused = sorted(set(table) - resolutions)
        if unused:
            raise ConfigError(f"schedule.{name} has resolution(s) {unused} that are not in model.plan "
                              f"(resolutions H: {sorted(resolutions)})")
    if any(b < 1 for b in s.minibatch.values()) or s.minibatch_default < 1:
        raise ConfigError("schedule.minibatch values must be >= 1")
    if cfg.optim.d_lr_mult <= 0 or cfg.optim.n_critic < 1:
        raise ConfigError("optim.d_lr_mult must be > 0 and optim.n_critic >= 1")
    if cfg.optim.ema_halflife_kimg < 0 or not 0 <= cfg.optim.ema_beta < 1:
        raise ConfigError("optim.ema_halflife_kimg must be >= 0 and optim.ema_beta in [0, 1)")
    if cfg.run.precision not in PRECISIONS:
        raise ConfigError(f"run.precision '{cfg.run.precision}' is not one of {', '.join(PRECISIONS)}")
    if cfg.run.device not in DEVICES and not cfg.run.device.startswith("cuda:"):
        raise ConfigError(f"run.device '{cfg.run.device}' is not one of {', '.join(DEVICES)}")
    if cfg.run.on_nonfinite not in ("stop", "rollback"):
        raise ConfigError(f"run.on_nonfinite must be 'stop' or 'rollback', got '{cfg.run.on_nonfinite}'")
    if cfg.run.keep_checkpoints < 1:
        raise ConfigError("run.keep_checkpoints must be >= 1")
    if cfg.run.metrics_kimg < 0 or cfg.run.metrics_num < 2 or cfg.run.metrics_fvd < 0:
        raise ConfigError("run.metrics_kimg must be >= 0 (0: off), run.metrics_num >= 2 and run.metrics_fvd >= 0")
    return cfg


def _validate_baseline(cfg: Config) -> None:
    """A baseline trains at one store level with its own loss and no growth (BASELINES.md §5.2)."""
    m = cfg.model
    if len(m.plan) != 1:
        raise ConfigError(f"model.arch {m.arch} trains at one clip shape: model.plan must hold one level, "
                          f"got {len(m.plan)}")
    if cfg.loss.name not in ("ns", "wgan"):
        raise ConfigError(f"model.arch {m.arch} trains with loss.name ns or wgan, got {cfg.loss.name}")


# ---------------------------------------------------------------------------------------------
# presets, files and overrides


# the progressive presets, and the baselines' (provgan/baselines/presets: vgan, tgan-digits, ...)
PRESET_FOLDERS = ("configs", "baselines/presets")


def _preset_files() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for sub in PRESET_FOLDERS:
        folder = resources.files("provgan").joinpath(*sub.split("/"))
        if folder.is_dir():
            found |= {p.name[:-5]: p for p in folder.iterdir() if p.name.endswith(".yaml") and p.name[:-5] not in found}
    return found


def preset_names() -> list[str]:
    """Names of the YAML presets shipped with the package."""
    return sorted(_preset_files())


class _Yaml12Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 numbers: ``1e-3`` is a float and ``4:16`` is not the base-60 int 256.

    PyYAML implements YAML 1.1, whose sexagesimal ints turn a mistyped override ``{4:16}`` into
    ``{256: None}`` and whose floats need a dot. Configs are written by people who expect 1.2.
    """


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers
            if tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?(?:0|[1-9][0-9_]*)|0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"))
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?"
               r"|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+"
               r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."))


def yaml_load(text: str) -> Any:
    """Parse YAML text with YAML 1.2 numbers (see :class:`_Yaml12Loader`); never constructs objects."""
    return yaml.load(text, Loader=_Yaml12Loader)


def _missing_space_after_colon(value: Any) -> str | None:
    """A flow-mapping key like ``'4:16'`` with no value: the user meant ``4: 16``."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            if v is None and isinstance(k, str) and ":" in k:
                return k
            found = _missing_space_after_colon(v)
            if found is not None:
                return found
    return None


def _read_yaml(text: str, origin: str) -> dict[str, Any]:
    try:
        data = yaml_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{origin}: not valid YAML ({exc.__class__.__name__}: "
                          f"{str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: expected a mapping at the top level")
    return data


def _load_raw(name_or_path: str) -> dict[str, Any]:
    """Raw YAML dict of a preset name or a file, following ``base:`` to another preset/file."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ConfigError(f"config file '{name_or_path}' does not exist")
        data = _read_yaml(path.read_text(), str(path))
        data.setdefault("name", path.stem)
    else:
        names = preset_names()
        if name_or_path not in names:
            raise ConfigError(f"unknown preset '{name_or_path}'{_closest(name_or_path, names)}; "
                              f"presets: {', '.join(names)}")
        text = _preset_files()[name_or_path].read_text()
        data = _read_yaml(text, f"preset {name_or_path}")
        data.setdefault("name", name_or_path)
    base = data.pop("base", None)
    if base is not None:
        merged = _load_raw(str(base))
        merged.pop("name", None)
        return deep_merge(merged, data)
    return data


def deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in update.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def parse_overrides(overrides: Sequence[str]) -> dict[str, Any]:
    """``["loss.name=wgan-gp", "schedule.stable_kimg=10"]`` -> nested dict (values parsed as YAML)."""
    out: dict[str, Any] = {}
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override '{item}' is not of the form key=value (e.g. loss.name=wgan-gp)")
        key, text = item.split("=", 1)
        try:
            value = yaml_load(text)
        except yaml.YAMLError:
            value = text
        bad = _missing_space_after_colon(value)
        if bad is not None:
            head, _, tail = bad.partition(":")
            raise ConfigError(f"override '{item}': '{bad}' has no value; YAML needs a space after "
                              f"the colon: {{{head}: {tail}}}")
        node = out
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


def config_from_dict(data: Mapping[str, Any]) -> Config:
    return validate(build_dataclass(Config, data))


def load_config(name_or_path: str = "digits-32", overrides: Sequence[str] = ()) -> Config:
    """Load a preset name or a YAML file, apply ``key=value`` overrides, validate."""
    data = deep_merge(_load_raw(name_or_path), parse_overrides(overrides))
    return config_from_dict(data)


def architecture_diff(a: Config, b: Config) -> list[str]:
    """Keys of ``model`` and ``loss.name`` that differ: what makes two checkpoints incompatible."""
    pa, pb = to_plain(a.model), to_plain(b.model)
    keys = [f"model.{k}" for k in pa if pa[k] != pb[k]]
    if (a.loss.name in ("swgan", "swgan-eq53")) != (b.loss.name in ("swgan", "swgan-eq53")):
        keys.append("loss.name")
    return keys
