"""Side-by-side benchmarks of ``sr`` against BasicSR 1.4.2 and Real-ESRGAN (``python -m tools.bench``)."""
