"""Face-dynamics dataset builder: the thesis' TrailerFaces pipeline (§7.1, Table 7.2) for any videos.

Stages, each a small module tested alone: :mod:`~provgan.faces.shots` (shot boundaries by SIFT match
counts or PySceneDetect), :mod:`~provgan.faces.detect` (Haar-cascade faces),
:mod:`~provgan.faces.landmarks` (68 dlib landmarks), :mod:`~provgan.faces.align` (similarity to a
template, smoothed in time), :mod:`~provgan.faces.tracks` (one-face runs in a shot, identity check),
:mod:`~provgan.faces.pipeline` (one video), :mod:`~provgan.faces.build` (a folder, resumable, in
parallel; manifest and statistics) and :mod:`~provgan.faces.cli` (``provgan faces``).

The public entry point is :func:`provgan.faces.build.build_faces` with
:class:`provgan.faces.options.FacesOptions`. Nothing is imported here, so ``provgan --help`` does not
load OpenCV, dlib or PyAV.
"""
