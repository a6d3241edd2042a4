"""srlib: the helper package of *Upscaling with PyTorch*.

One small module per topic, shared by the book's chapters:

- :mod:`srlib.io`       the one image reader (8/16-bit, gray, palette, RGBA, CMYK, EXIF)
- :mod:`srlib.data`     benchmark datasets (Set5, Set14, BSD100) from the Hugging Face hub
- :mod:`srlib.color`    RGB <-> YCbCr as MATLAB's ``rgb2ycbcr`` (BT.601, studio swing)
- :mod:`srlib.metrics`  PSNR and SSIM written from the formulas, with the papers' options
- :mod:`srlib.resize`   MATLAB-compatible ``imresize`` (bicubic with antialiasing, uint8 rounding)
- :mod:`srlib.models`   SRCNN (9-1-5 and 9-5-5), ``upscale`` and ``load_pretrained``
- :mod:`srlib.upscalers` every upscaler by name (``METHODS``), receptive fields, tile margins
- :mod:`srlib.evaluate` the papers' evaluation protocols on those upscalers
- :mod:`srlib.upscale`  one's own images: tiles, colour, 16-bit, ICC (``python -m srlib.upscale``)
- :mod:`srlib.degradations` blur, Pillow resize, JPEG, noise: LR images made otherwise
- :mod:`srlib.train`    SRCNN's training loop on a folder of HR images (T91), with resume
- :mod:`srlib.distributed` several processes (torchrun, DDP): ranks, shards, rank-0 writes
- :mod:`srlib.plot`     the book's figure helpers (image grids, true-pixel-scale galleries)
- :mod:`srlib.cli`      what the command lines share (one-line errors, exit code 2)

Import the module you need, e.g. ``from srlib import data``.
"""

__version__ = "0.1.0"
