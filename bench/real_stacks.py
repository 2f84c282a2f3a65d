"""Real focus stacks for the held-out bench: reduction from their repositories, loading, truth.

Reduce (once, from repositories fetched into a mirror; writes ``bench/data/<name>/``)::

    .venv/bin/python bench/real_stacks.py reduce [--mirror /work/.mirror]
    .venv/bin/python bench/real_stacks.py truth        # print each stack's measured truth

The reduced slices are *not* committed: they are third-party data, kept out of the
project's history (``bench/data/.gitignore``); the bench skips the real group with a note
when they are missing. Each stack folder gets ``stack.json`` (origin, licence, commit,
files, reduction) and a ``SOURCE.md`` saying the same for people.

Reduction: each slice is read from the repository at the pinned commit (``git show``),
16-bit microscope frames are mapped to 8 bits with one linear scale for the whole stack
(0.1 and 99.9 percentiles of all slices, so the brightness change through focus is kept),
portrait frames are turned to landscape, and every slice is shrunk with area averaging to
fit 320x240 and stored as JPEG quality 95.

Truth of a stack seen through an ROI (:func:`roi_truth`): every slice is scored with four
independent measures (gradient energy, Laplacian energy, normalised variance, and the share
of spectral energy at 0.1-0.35 cycles/px). The reference curve is the gradient energy: its
peak (parabolic vertex, in slice units) is the focus, and the *sharp band* is where it stays
>= ``DOF_LEVEL`` of its peak (as ``stack_rig`` measures the DOF). The truth is accepted
only when it is unambiguous: each other measure peaks inside the sharp band, the peak is
not on an end slice, and the band does not reach an end of the stack. Otherwise the
ROI is excluded (``Truth.reason`` says why).
"""

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stack_rig import DOF_LEVEL, gradient_energy, sharp_band  # noqa: E402

__all__ = ["Source", "SOURCES", "RealStack", "Truth", "roi_truth", "load_stacks", "DATA_DIR"]

DATA_DIR = Path(__file__).resolve().parent / "data"
"""Where reduced stacks live (one folder per stack, not committed)."""
FRAME = (320, 240)
"""Reduced slices fit in this (w, h)."""
JPEG_QUALITY = 95
BAND_CYCLES = (0.1, 0.35)
"""Spatial frequencies (cycles/px) of the spectral measure."""


@dataclass(frozen=True)
class Source:
    """Where a stack comes from and what is known about it."""

    name: str
    repo: str
    commit: str
    folder: str
    suffix: str
    licence: str
    kind: str
    step_um: Optional[float]
    note: str


SOURCES: Tuple[Source, ...] = (
    Source("pcb-macro", "PetteriAimonen/focus-stack", "d8532c82b33ed2123c655c4d2482db55e2e0fc9e",
           "examples/pcb", "pcb_0", "MIT (Copyright (c) 2019 Petteri Aimonen)", "colour macro photo",
           None, "7 photos of a circuit board at successive focus settings (Z step not published)."),
    Source("pcb-depth", "PetteriAimonen/focus-stack", "d8532c82b33ed2123c655c4d2482db55e2e0fc9e",
           "examples/depthmap", "pcb_", "MIT (Copyright (c) 2019 Petteri Aimonen)", "colour macro photo",
           None, "10 photos of a circuit board with tall parts at successive focus settings "
                 "(Z step not published); the parts focus at different slices."),
    Source("microtubules", "ZJUOPTKuangLab/DFNN", "459cfa4e7c9ccde7f672f2fc994f7900fb179718",
           "data/test/microtubules/stack", "cell11", "MIT (Copyright (c) 2023 ZJUOPTKuangLab)",
           "16-bit fluorescence microscope", 0.05,
           "31 consecutive slices (orders 36-66) of a z-stack of microtubules under a "
           "multi-depth lattice illumination; 0.05 um per slice, nominal focus at order 51."),
    Source("mitochondria", "ZJUOPTKuangLab/DFNN", "459cfa4e7c9ccde7f672f2fc994f7900fb179718",
           "data/test/mitochondria/stack", "cell2", "MIT (Copyright (c) 2023 ZJUOPTKuangLab)",
           "16-bit fluorescence microscope", 0.05,
           "34 consecutive slices (orders 32-65) of a z-stack of mitochondria under a "
           "multi-depth lattice illumination; 0.05 um per slice, nominal focus at order 51."),
)


# ----------------------------------------------------------------------------- reduction


def _git(gitdir: Path, *args: str) -> bytes:
    """Output of a git command run on a bare mirror."""
    return subprocess.run(["git", "--git-dir", str(gitdir), *args], check=True, capture_output=True).stdout


def _fit(image: np.ndarray) -> np.ndarray:
    """Landscape orientation, shrunk by area averaging to fit ``FRAME``."""
    if image.shape[0] > image.shape[1]:
        image = cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE)
    scale = min(FRAME[0] / image.shape[1], FRAME[1] / image.shape[0], 1.0)
    size = (int(round(image.shape[1] * scale)), int(round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def reduce_source(source: Source, mirror: Path, out_root: Path = DATA_DIR) -> Path:
    """Reduce one stack from its mirrored repository into ``out_root/<name>``."""
    gitdir = mirror / source.repo.replace("/", "+") / "repo"
    names = _git(gitdir, "ls-tree", "--name-only", source.commit, source.folder + "/").decode().split()
    paths = sorted(p for p in names if Path(p).name.startswith(source.suffix))
    images = [cv2.imdecode(np.frombuffer(_git(gitdir, "show", f"{source.commit}:{p}"), np.uint8),
                           cv2.IMREAD_UNCHANGED) for p in paths]
    if images[0].dtype != np.uint8:
        lo, hi = np.percentile(np.stack(images), (0.1, 99.9))
        images = [np.clip((im.astype(np.float32) - lo) * (255.0 / (hi - lo)), 0, 255).astype(np.uint8)
                  for im in images]
    out = out_root / source.name
    out.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        cv2.imwrite(str(out / f"slice_{i:03d}.jpg"), _fit(image), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    meta = {"name": source.name, "repo": source.repo, "commit": source.commit, "files": paths,
            "licence": source.licence, "kind": source.kind, "step_um": source.step_um, "note": source.note,
            "reduction": f"git show at the commit; 16-bit: one linear 0.1-99.9 percentile scale per stack; "
                         f"portrait turned landscape; INTER_AREA to fit {FRAME[0]}x{FRAME[1]}; "
                         f"JPEG quality {JPEG_QUALITY}; by bench/real_stacks.py"}
    (out / "stack.json").write_text(json.dumps(meta, indent=1))
    (out / "SOURCE.md").write_text(
        f"# {source.name}\n\nOrigin: https://github.com/{source.repo} at commit {source.commit}, "
        f"`{source.folder}/{source.suffix}*` ({len(paths)} files).\n\nLicence: {source.licence}; the "
        f"licence text is in that repository's LICENSE file.\n\nWhat: {source.note}\n\n"
        f"Reduction: {meta['reduction']}.\n")
    return out


# ----------------------------------------------------------------------------- loading


@dataclass
class RealStack:
    """A reduced stack: its slices (uint8 gray or BGR) and metadata."""

    name: str
    slices: List[np.ndarray]
    meta: Dict

    @property
    def gray(self) -> List[np.ndarray]:
        """The slices as float32 gray."""
        return [(cv2.cvtColor(s, cv2.COLOR_BGR2GRAY) if s.ndim == 3 else s).astype(np.float32) for s in self.slices]


def load_stacks(root: Path = DATA_DIR) -> List[RealStack]:
    """Every reduced stack under ``root`` (empty when none was reduced)."""
    stacks = []
    for source in SOURCES:
        folder = root / source.name
        files = sorted(folder.glob("slice_*.jpg"))
        if not files:
            continue
        colour = "colour" in source.kind
        flag = cv2.IMREAD_COLOR if colour else cv2.IMREAD_GRAYSCALE
        slices = [cv2.imread(str(f), flag) for f in files]
        stacks.append(RealStack(source.name, slices, json.loads((folder / "stack.json").read_text())))
    return stacks


# ----------------------------------------------------------------------------- truth


def laplacian_energy(image: np.ndarray) -> float:
    """Mean squared Laplacian."""
    lap = cv2.Laplacian(image.astype(np.float64), cv2.CV_64F)
    return float(np.mean(lap * lap))


def normalised_variance(image: np.ndarray) -> float:
    """Variance over mean."""
    img = image.astype(np.float64)
    return float(img.var() / max(img.mean(), 1e-9))


def spectral_share(image: np.ndarray) -> float:
    """Share of the (mean-removed) spectral power at ``BAND_CYCLES`` cycles/px."""
    img = image.astype(np.float64)
    power = np.abs(np.fft.fft2(img - img.mean())) ** 2
    fy = np.fft.fftfreq(img.shape[0])[:, None]
    fx = np.fft.fftfreq(img.shape[1])[None, :]
    r = np.hypot(fx, fy)
    band = (r >= BAND_CYCLES[0]) & (r <= BAND_CYCLES[1])
    return float(power[band].sum() / max(power.sum(), 1e-300))


CHECK_MEASURES = (laplacian_energy, normalised_variance, spectral_share)
"""The measures that must agree with the gradient-energy reference."""


@dataclass(frozen=True)
class Truth:
    """Focus of a stack through an ROI, in slice units (``peak``, ``band``), or why none."""

    peak: float
    band: Tuple[float, float]
    reason: str = ""

    @property
    def ok(self) -> bool:
        """True when the truth is unambiguous."""
        return not self.reason


def _vertex(scores: np.ndarray, i: int) -> float:
    """Parabolic vertex (slice units) through the maximum at ``i`` and its neighbours."""
    if i <= 0 or i >= len(scores) - 1:
        return float(i)
    a, b, c = scores[i - 1], scores[i], scores[i + 1]
    denom = a - 2 * b + c
    return float(i) if denom >= 0 else float(i + 0.5 * (a - c) / denom)


def roi_truth(gray: List[np.ndarray], roi: Optional[Tuple[int, int, int, int]] = None) -> Truth:
    """The measured focus of a stack (float gray slices) through ``roi`` (see module doc)."""
    crops = [g if roi is None else g[roi[1] : roi[1] + roi[3], roi[0] : roi[0] + roi[2]] for g in gray]
    index = np.arange(len(crops), dtype=np.float64)
    ref = np.array([gradient_energy(c) for c in crops])
    top = int(np.argmax(ref))
    band = sharp_band(index, ref, DOF_LEVEL)
    truth = Truth(_vertex(ref, top), band)
    if top in (0, len(crops) - 1):
        return Truth(truth.peak, band, "peak on an end slice")
    if band[0] <= 0.0 or band[1] >= len(crops) - 1:
        return Truth(truth.peak, band, "sharp band reaches an end of the stack")
    for measure in CHECK_MEASURES:
        other = int(np.argmax([measure(c) for c in crops]))
        if not band[0] - 0.5 <= other <= band[1] + 0.5:
            return Truth(truth.peak, band, f"{measure.__name__} peaks at slice {other}, outside the band")
    return truth


def roi_grid(shape: Tuple[int, int]) -> List[Optional[Tuple[int, int, int, int]]]:
    """The ROIs tried on each stack: the whole frame, the centre half, and 3x3 tiles."""
    h, w = shape
    rois: List[Optional[Tuple[int, int, int, int]]] = [None, (w // 4, h // 4, w // 2, h // 2)]
    tw, th = w // 3, h // 3
    rois += [(i * tw, j * th, tw, th) for j in range(3) for i in range(3)]
    return rois


def main(argv: Optional[List[str]] = None) -> None:
    """``reduce`` the stacks from a mirror, or print each stack's ``truth`` per ROI."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("reduce", "truth"))
    parser.add_argument("--mirror", type=Path, default=Path("/work/.mirror"))
    args = parser.parse_args(argv)
    if args.command == "reduce":
        for source in SOURCES:
            print("reduced", source.name, "->", reduce_source(source, args.mirror))
        return
    for stack in load_stacks():
        gray = stack.gray
        print(f"{stack.name}: {len(gray)} slices {gray[0].shape[1]}x{gray[0].shape[0]}")
        for roi in roi_grid(gray[0].shape):
            t = roi_truth(gray, roi)
            print(f"  roi={roi!s:22s} peak={t.peak:6.2f} band={t.band[0]:6.2f}..{t.band[1]:6.2f} "
                  f"{'ok' if t.ok else 'EXCLUDED: ' + t.reason}")


if __name__ == "__main__":
    main()
