#!/usr/bin/python3
# bench_data_torch.py CLIPDIR [--repeat R] [--target-length T] - the AST front end in
# torchaudio on the clips `loaa bench data --keep DIR` wrote (DIR/clips/*.wav), one
# thread: torchaudio.load, resample to 16 kHz (torchaudio.functional.resample), mean
# removal, torchaudio.compliance.kaldi.fbank with AST's settings, pad/cut, normalise.
# Prints "result: clips_per_s=..." like loaa bench data. Run with Debian's /usr/bin/python3.
import glob
import os
import sys
import time

import torch
import torchaudio
import torchaudio.compliance.kaldi as kaldi

torch.set_num_threads(1)
args = sys.argv[1:]
clipdir = args[0]
repeat = int(args[args.index('--repeat') + 1]) if '--repeat' in args else 3
target = int(args[args.index('--target-length') + 1]) if '--target-length' in args else 512
files = sorted(glob.glob(os.path.join(clipdir, '*.wav')))
if not files:
    sys.exit('bench_data_torch.py: no WAV files in %s' % clipdir)
mean, std = -4.27, 4.57


def one(path):
    w, sr = torchaudio.load(path)
    if sr != 16000:
        w = torchaudio.functional.resample(w, sr, 16000)
    w = w - w.mean()
    fb = kaldi.fbank(w, htk_compat=True, sample_frequency=16000, use_energy=False, window_type='hanning',
                     num_mel_bins=128, dither=0.0, frame_shift=10)
    p = target - fb.shape[0]
    fb = torch.nn.functional.pad(fb, (0, 0, 0, p)) if p > 0 else fb[:target]
    return ((fb - mean) / (2 * std)).T.contiguous()


best = 0
for r in range(repeat):
    t0 = time.perf_counter()
    for f in files:
        one(f)
    best = max(best, len(files) / (time.perf_counter() - t0))
print('bench data (torchaudio %s, 1 thread): %d clips' % (torchaudio.__version__, len(files)))
print('result: clips_per_s=%.2f' % best)
