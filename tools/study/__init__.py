"""The mixed-resolution study of issue 5 (``tools/study_multires.py`` is its command line).

- :mod:`tools.study.arms`: the arms (training diets and models) as ``sr`` option dicts, their
  compute per iteration, the time calibration;
- :mod:`tools.study.testsets`: the held-out images at several test resolutions, and the evaluation
  of one model on them (PSNR/SSIM on Y, spectral summaries, radial residual spectra);
- :mod:`tools.study.report`: the tables, the computed statements, the plots and ``REPORT.md``.
"""
