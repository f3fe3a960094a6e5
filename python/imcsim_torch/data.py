"""Image data sets in imcsim's `dataset.yaml` format, preprocessing and training augmentation.

A data set folder holds `dataset.yaml` and NumPy `.npy` files:

    name: cifar10
    classes: [airplane, automobile, ...]
    layout: NCHW                       # uint8 images
    splits:
      train: {images: train_images.npy, labels: train_labels.npy}
      test:  {images: test_images.npy,  labels: test_labels.npy}
    preprocess: {scale: 0.00392156862745098, mean: [...], std: [...]}

Images are (N, C, H, W) uint8, labels (N,) unsigned/signed integers in [0, len(classes)).
The network input is `(pixel * scale - mean[c]) / std[c]` per channel c.

Fine-tuning reads the training split only (REFERENCE §13: fine-tuning is knowledge
distillation from the uncompressed network on the shared training images with the
compressed structure held fixed); the test split is kept for measuring.

Every problem (missing file or key, wrong shape or dtype, label out of range, count mismatch,
NaN/Inf or non-positive std in `preprocess`) raises `DatasetError` naming the file and key.
"""
import math
import os

import numpy as np
import torch

try:
    import yaml
except ImportError:  # pragma: no cover - python3-yaml is normally installed
    yaml = None


class DatasetError(ValueError):
    """A data set that cannot be used; the message names the file and the key."""


def _parse_scalar(text):
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


def _split_top(text):
    """Split a flow sequence/mapping body at top-level commas."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return parts


def _parse_value(text):
    text = text.strip()
    if text.startswith("["):
        return [_parse_value(p) for p in _split_top(text[1:-1])]
    if text.startswith("{"):
        out = {}
        for p in _split_top(text[1:-1]):
            k, _, v = p.partition(":")
            out[k.strip()] = _parse_value(v)
        return out
    return _parse_scalar(text)


def _mini_yaml(text):
    """The subset of YAML that dataset.yaml uses (block mappings, flow lists/mappings,
    comments); used only where PyYAML is not installed."""
    root = {}
    stack = [(-1, root)]
    for raw in text.splitlines():
        line = raw.split(" #")[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip() or line.strip() in ("---", "..."):
            continue
        indent = len(line) - len(line.lstrip())
        key, _, value = line.strip().partition(":")
        while stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1]
        if value.strip():
            parent[key.strip()] = _parse_value(value)
        else:
            child = {}
            parent[key.strip()] = child
            stack.append((indent, child))
    return root


def read_yaml(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if yaml is not None:
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise DatasetError(f"{path}: not valid YAML: {e}") from e
    return _mini_yaml(text)


class Split:
    """One split in memory: uint8 images (N,C,H,W), int64 labels (N,), preprocessing."""

    def __init__(self, name, images, labels, classes, scale, mean, std, source):
        self.name = name
        self.images = images
        self.labels = labels
        self.classes = classes
        self.scale = scale
        self.mean = mean
        self.std = std
        self.source = source

    def __len__(self):
        return len(self.labels)

    def normalized(self, index):
        """Float32 network input for images[index] (index: a slice or integer array)."""
        x = torch.from_numpy(np.ascontiguousarray(self.images[index])).to(torch.float32)
        mean = torch.tensor(self.mean, dtype=torch.float32).view(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=torch.float32).view(1, -1, 1, 1)
        return (x * torch.tensor(self.scale, dtype=torch.float32) - mean) / std

    def targets(self, index):
        return torch.from_numpy(np.ascontiguousarray(self.labels[index]))


def _number_list(value, key, path, n):
    if not isinstance(value, (list, tuple)) or len(value) != n:
        raise DatasetError(f"{path}: key {key} must be a list of {n} numbers, got {value!r}")
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise DatasetError(f"{path}: key {key} holds {v!r}, not a finite number")
        out.append(float(v))
    return out


def load_split(folder, split, limit=None):
    """Read split `split` of the data set in `folder` (the first `limit` images if given)."""
    path = os.path.join(folder, "dataset.yaml")
    if not os.path.isfile(path):
        raise DatasetError(f"{path}: no such file (a data set folder holds dataset.yaml)")
    meta = read_yaml(path)
    if not isinstance(meta, dict):
        raise DatasetError(f"{path}: expected a mapping at the top level")
    layout = meta.get("layout", "NCHW")
    if layout != "NCHW":
        raise DatasetError(f"{path}: key layout is {layout!r}; only NCHW is supported")
    classes = meta.get("classes")
    if not isinstance(classes, list) or not classes:
        raise DatasetError(f"{path}: key classes must be a non-empty list")
    splits = meta.get("splits")
    if not isinstance(splits, dict):
        raise DatasetError(f"{path}: key splits is missing or not a mapping")
    if split not in splits:
        raise DatasetError(f"{path}: key splits.{split} is missing (have: "
                           f"{', '.join(map(str, splits))})")
    entry = splits[split]
    if not isinstance(entry, dict):
        raise DatasetError(f"{path}: key splits.{split} must be a mapping with images, labels")
    pre = meta.get("preprocess")
    if not isinstance(pre, dict):
        raise DatasetError(f"{path}: key preprocess is missing or not a mapping")
    scale = pre.get("scale")
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale):
        raise DatasetError(f"{path}: key preprocess.scale must be a finite number, got {scale!r}")

    arrays = {}
    for key in ("images", "labels"):
        name = entry.get(key)
        if not isinstance(name, str) or not name:
            raise DatasetError(f"{path}: key splits.{split}.{key} is missing")
        fpath = os.path.join(folder, name)
        if not os.path.isfile(fpath):
            raise DatasetError(f"{fpath}: no such file (key splits.{split}.{key} of {path})")
        try:
            arrays[key] = (fpath, np.load(fpath, mmap_mode="r", allow_pickle=False))
        except Exception as e:  # noqa: BLE001 - numpy raises several types
            raise DatasetError(f"{fpath}: cannot read as .npy (key splits.{split}.{key}): {e}") \
                from e

    ipath, images = arrays["images"]
    lpath, labels = arrays["labels"]
    if images.dtype != np.uint8 or images.ndim != 4:
        raise DatasetError(f"{ipath}: key splits.{split}.images must be uint8 (N, C, H, W), "
                           f"got {images.dtype} {images.shape}")
    channels = images.shape[1]
    mean = _number_list(pre.get("mean"), "preprocess.mean", path, channels)
    std = _number_list(pre.get("std"), "preprocess.std", path, channels)
    if any(s <= 0 for s in std):
        raise DatasetError(f"{path}: key preprocess.std must be positive, got {std}")
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise DatasetError(f"{lpath}: key splits.{split}.labels must be integers of shape (N,), "
                           f"got {labels.dtype} {labels.shape}")
    if labels.shape[0] != images.shape[0]:
        raise DatasetError(f"{lpath}: key splits.{split}.labels has {labels.shape[0]} labels "
                           f"but {ipath} has {images.shape[0]} images")
    if images.shape[0] == 0:
        raise DatasetError(f"{ipath}: key splits.{split}.images holds no images")
    n = images.shape[0] if limit is None else min(int(limit), images.shape[0])
    images = np.array(images[:n])
    labels = np.array(labels[:n]).astype(np.int64)
    bad = np.nonzero((labels < 0) | (labels >= len(classes)))[0]
    if bad.size:
        raise DatasetError(f"{lpath}: key splits.{split}.labels: label {labels[bad[0]]} at index "
                           f"{bad[0]} is outside 0..{len(classes) - 1} ({len(classes)} classes); "
                           f"{bad.size} labels out of range")
    return Split(split, images, labels, classes, float(scale), mean, std, path)


def augment(x, generator, pad=4):
    """Training augmentation of a normalized batch (B, C, H, W): a random H x W crop of the
    image zero-padded by `pad` on each side, then a random horizontal flip (probability 1/2),
    both drawn from `generator` so a seed reproduces them. The padding is zero in normalized
    space, i.e. the border pixels take the per-channel mean colour."""
    b, _, h, w = x.shape
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
    flip = torch.rand(b, generator=generator) < 0.5
    out = torch.empty_like(x)
    for j in range(b):
        crop = padded[j, :, dy[j]:dy[j] + h, dx[j]:dx[j] + w]
        out[j] = crop.flip(-1) if flip[j] else crop
    return out
