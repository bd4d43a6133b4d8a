"""Experiments that train and score several systems with one budget and one protocol.

``provgan experiment table8`` builds the thesis' Tables 8.1 and 8.2: every system of
:mod:`provgan.experiment.systems` x every seed is trained through the real trainer with the same
number of clips shown, scored by :mod:`provgan.metrics` under one protocol, and summarised as
mean +- std over seeds next to the real-data ceiling at each system's resolution.

* :mod:`~provgan.experiment.systems`: the table of systems (name, base preset, overrides, score shape);
* :mod:`~provgan.experiment.spec`: the experiment presets (``digits-small``, ``ucf101-thesis``);
* :mod:`~provgan.experiment.plan`: resolved runs, checked against the store before anything trains;
* :mod:`~provgan.experiment.scoring`: the one protocol, the score shape and the real-data ceiling;
* :mod:`~provgan.experiment.timing`: the ``--dry-run`` estimate;
* :mod:`~provgan.experiment.runner`: training, scoring and the resumable markers;
* :mod:`~provgan.experiment.results`: mean +- std, ``results.json`` and ``results.md``.
"""
