"""Fine-tune a compressed network by knowledge distillation from the uncompressed one.

REFERENCE §13: fine-tuning is knowledge distillation from the uncompressed network on the
shared training images with the compressed structure held fixed. Here that means:

  * the student is the compressed ONNX model, executed as-is by `onnx_torch.OnnxModule`; its
    graph, initializer names and shapes are never changed, only the values of Conv/Gemm/MatMul
    weights and biases and BN scale/shift; BN running statistics stay frozen; weights that are
    exactly zero (pruned) are re-zeroed after every step;
  * the teacher is the uncompressed ONNX model, in inference only (torch.no_grad); its logits
    are computed once per augmented batch;
  * loss = alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * CE(s, labels);
  * SGD with momentum; weight decay on Conv/Gemm/MatMul weights only (not on biases or BN);
    the learning rate follows a cosine from --lr down towards 0 over all steps of all epochs
    (step k of K uses lr * (1 + cos(pi k / K)) / 2);
  * training data: the training split only; the test split is refused (it is for measuring);
  * deterministic: same inputs, options and seed => byte-identical output. Data order and
    augmentation of epoch e come from a torch.Generator seeded with (seed, e), so a run resumed
    from a checkpoint (--state-dir) continues exactly as an uninterrupted run would.

The output is written atomically (a temporary file in the output's folder, then renamed); on
any failure nothing is left at the output path.
"""
import argparse
import hashlib
import io
import json
import math
import os
import sys
import tempfile
import time

import onnx
import torch
import torch.nn.functional as F

from . import data as data_mod
from . import onnx_torch


class FinetuneError(RuntimeError):
    """A usage or consistency problem; reported as `finetune: error: ...`, exit code 1."""


def distillation_loss(student_logits, teacher_logits, labels, temperature, alpha):
    """(loss, kd, ce): kd = T^2 * KL(softmax(t/T) || softmax(s/T)) averaged over the batch,
    ce = cross entropy of the student against the labels, loss = alpha kd + (1 - alpha) ce."""
    t = temperature
    kd = F.kl_div(F.log_softmax(student_logits / t, dim=1),
                  F.log_softmax(teacher_logits / t, dim=1),
                  reduction="batchmean", log_target=True) * (t * t)
    ce = F.cross_entropy(student_logits, labels)
    return alpha * kd + (1.0 - alpha) * ce, kd, ce


def cosine_lr(base, step, total):
    return base * 0.5 * (1.0 + math.cos(math.pi * step / max(total, 1)))


def epoch_generator(seed, epoch):
    """The generator that orders and augments epoch `epoch` (0-based) of a run with `seed`."""
    return torch.Generator().manual_seed((int(seed) * 1_000_003 + int(epoch)) % (2 ** 63))


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_atomic(path, payload):
    """Write bytes to path via a temporary file in the same folder and a rename."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def make_optimizer(student, args):
    decay_names = set(student.weight_names())
    decay = [student.param(n) for n in student.trainable_names() if n in decay_names]
    other = [student.param(n) for n in student.trainable_names() if n not in decay_names]
    groups = [{"params": decay, "weight_decay": args.weight_decay},
              {"params": other, "weight_decay": 0.0}]
    groups = [g for g in groups if g["params"]]
    if args.optimizer == "adamw":
        # Decoupled weight decay (Loshchilov & Hutter): steps of about lr per parameter, which
        # suits factors (R, L) whose scales differ widely from layer to layer.
        return torch.optim.AdamW(groups, lr=args.lr)
    return torch.optim.SGD(groups, lr=args.lr, momentum=args.momentum)


def train_epoch(student, teacher, split, optimizer, args, epoch, steps_done, total_steps):
    """One epoch; returns (record dict, steps done after it)."""
    gen = epoch_generator(args.seed, epoch)
    n = len(split)
    order = torch.randperm(n, generator=gen).numpy()
    sums = {"loss": 0.0, "kd": 0.0, "ce": 0.0, "correct": 0}
    start = time.perf_counter()
    step = steps_done
    lr = args.lr
    for b in range(0, n, args.batch):
        idx = order[b:b + args.batch]
        x = data_mod.augment(split.normalized(idx), gen)
        y = split.targets(idx)
        with torch.no_grad():
            t_logits = teacher(x)
        s_logits = student(x)
        loss, kd, ce = distillation_loss(s_logits, t_logits, y, args.temperature, args.alpha)
        if not torch.isfinite(loss):
            raise FinetuneError(f"epoch {epoch + 1}: the loss became {loss.item()} "
                                f"(try a smaller --lr)")
        lr = cosine_lr(args.lr, step, total_steps)
        for g in optimizer.param_groups:
            g["lr"] = lr
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        student.apply_masks()
        step += 1
        k = len(idx)
        sums["loss"] += loss.item() * k
        sums["kd"] += kd.item() * k
        sums["ce"] += ce.item() * k
        sums["correct"] += int((s_logits.detach().argmax(1) == y).sum())
    record = {
        "epoch": epoch + 1,
        "loss": sums["loss"] / n,
        "kd_loss": sums["kd"] / n,
        "ce_loss": sums["ce"] / n,
        "train_top1": sums["correct"] / n,
        "lr_last": lr,
        "seconds": time.perf_counter() - start,
    }
    return record, step


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="finetune",
        description="Fine-tune a compressed ONNX CNN by knowledge distillation from the "
                    "uncompressed teacher (REFERENCE §13) on the training split, on CPU. "
                    "Writes an ONNX model with the student's graph and only its trainable "
                    "initializer values changed.")
    p.add_argument("--student", required=True, help="compressed model (.onnx) to fine-tune")
    p.add_argument("--teacher", required=True, help="uncompressed model (.onnx)")
    p.add_argument("--dataset", required=True, help="data set folder with dataset.yaml")
    p.add_argument("--split", default="train", help="training split (default train; the "
                   "test split is refused)")
    p.add_argument("-o", "--output", required=True, help="output .onnx")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.001,
                   help="initial learning rate (default 0.001: with the BN statistics frozen, "
                        "0.003 and above diverge on the shared ResNet-20)")
    p.add_argument("--optimizer", choices=["sgd", "adamw"], default="sgd",
                   help="SGD with momentum (default) or AdamW")
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--temperature", type=float, default=4.0)
    p.add_argument("--alpha", type=float, default=0.9, help="weight of the distillation term")
    p.add_argument("--images", type=int, default=None,
                   help="use the first N images of the split (default: all)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--state-dir", default=None,
                   help="folder for one checkpoint per epoch; a rerun resumes from the last")
    p.add_argument("--log", default=None, help="write per-epoch statistics as JSON here")
    return p.parse_args(argv)


def check_args(args):
    if args.split == "test":
        raise FinetuneError("--split test refused: the test split is for measuring only; "
                            "fine-tune on the training split (--split train)")
    for name, ok in (("epochs", args.epochs >= 1), ("batch", args.batch >= 1),
                     ("threads", args.threads >= 1),
                     ("lr", math.isfinite(args.lr) and args.lr > 0),
                     ("momentum", 0 <= args.momentum < 1),
                     ("weight-decay", math.isfinite(args.weight_decay) and args.weight_decay >= 0),
                     ("temperature", math.isfinite(args.temperature) and args.temperature > 0),
                     ("alpha", 0 <= args.alpha <= 1),
                     ("images", args.images is None or args.images >= 1)):
        if not ok:
            raise FinetuneError(f"--{name} {getattr(args, name.replace('-', '_'))} is out of "
                                f"range")
    for key in ("student", "teacher"):
        if not os.path.isfile(getattr(args, key)):
            raise FinetuneError(f"--{key} {getattr(args, key)}: no such file")
    out_dir = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(out_dir):
        raise FinetuneError(f"-o {args.output}: folder {out_dir} does not exist")


def fingerprint(args, n_images):
    """What a checkpoint must match to be resumed: inputs (by content) and all options that
    change the result."""
    keys = ("split", "epochs", "batch", "optimizer", "lr", "momentum", "weight_decay", "temperature",
            "alpha", "seed", "threads")
    fp = {k: getattr(args, k) for k in keys}
    fp["images"] = n_images
    fp["student_sha256"] = _sha256(args.student)
    fp["teacher_sha256"] = _sha256(args.teacher)
    fp["dataset"] = os.path.abspath(args.dataset)
    return fp


def checkpoint_path(state_dir, epoch):
    return os.path.join(state_dir, f"epoch-{epoch:03d}.pt")


def load_checkpoint(args, fp, student, optimizer):
    """Restore the newest checkpoint in --state-dir; returns (epochs done, log records)."""
    if not args.state_dir:
        return 0, []
    os.makedirs(args.state_dir, exist_ok=True)
    for epoch in range(args.epochs, 0, -1):
        path = checkpoint_path(args.state_dir, epoch)
        if not os.path.isfile(path):
            continue
        try:
            state = torch.load(path, map_location="cpu")
        except Exception as e:  # noqa: BLE001
            raise FinetuneError(f"{path}: cannot read checkpoint: {e}") from e
        if state.get("fingerprint") != fp:
            raise FinetuneError(f"{path}: checkpoint of a different run (other inputs or "
                                f"options); use another --state-dir or empty this one")
        student.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        return epoch, state["log"]
    return 0, []


def save_checkpoint(args, fp, epoch, student, optimizer, log):
    if not args.state_dir:
        return
    buf = io.BytesIO()
    torch.save({"fingerprint": fp, "epoch": epoch, "model": student.state_dict(),
                "optimizer": optimizer.state_dict(), "torch_rng": torch.get_rng_state(),
                "data_generator": epoch_generator(args.seed, epoch).get_state(),
                "log": log}, buf)
    write_atomic(checkpoint_path(args.state_dir, epoch), buf.getvalue())


def write_log(args, n, records):
    if not args.log:
        return
    doc = {"student": args.student, "teacher": args.teacher, "dataset": args.dataset,
           "split": args.split, "images": n,
           "options": {k: getattr(args, k) for k in ("epochs", "batch", "optimizer", "lr", "momentum",
                                                    "weight_decay", "temperature", "alpha",
                                                    "seed", "threads")},
           "epochs": records}
    write_atomic(args.log, (json.dumps(doc, indent=2) + "\n").encode())


def run(args):
    check_args(args)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(args.threads)

    split = data_mod.load_split(args.dataset, args.split, args.images)
    n = len(split)
    teacher = onnx_torch.load(args.teacher).eval()
    student = onnx_torch.load(args.student).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    with torch.no_grad():
        probe = split.normalized(slice(0, 1))
        so, to = student(probe), teacher(probe)
    if so.shape != to.shape or so.dim() != 2 or so.shape[1] != len(split.classes):
        raise FinetuneError(f"student output {tuple(so.shape)} and teacher output "
                            f"{tuple(to.shape)} must both be (batch, {len(split.classes)}) "
                            f"for the {len(split.classes)} classes of {split.source}")

    optimizer = make_optimizer(student, args)
    fp = fingerprint(args, n)
    done, records = load_checkpoint(args, fp, student, optimizer)
    steps_per_epoch = (n + args.batch - 1) // args.batch
    total_steps = steps_per_epoch * args.epochs
    print(f"finetune: {n} images of split {args.split}, {steps_per_epoch} batches of "
          f"{args.batch}, {args.epochs} epochs, {len(student.trainable_names())} trained "
          f"tensors ({len(student.masked_names())} with pruned zeros held at 0), "
          f"{args.threads} threads" + (f"; resuming after epoch {done}" if done else ""),
          file=sys.stderr)
    step = done * steps_per_epoch
    for epoch in range(done, args.epochs):
        rec, step = train_epoch(student, teacher, split, optimizer, args, epoch, step,
                                total_steps)
        records.append(rec)
        print(f"finetune: epoch {epoch + 1}/{args.epochs} loss {rec['loss']:.3f} "
              f"(kd {rec['kd_loss']:.2f}, ce {rec['ce_loss']:.2f}) train top-1 "
              f"{100 * rec['train_top1']:.1f}% {rec['seconds']:.1f} s", file=sys.stderr)
        save_checkpoint(args, fp, epoch + 1, student, optimizer, records)
        write_log(args, n, records)
    write_log(args, n, records)
    model = onnx_torch.export(student)
    write_atomic(args.output, model.SerializeToString())
    print(f"finetune: wrote {args.output}", file=sys.stderr)
    return records


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        run(args)
    except (FinetuneError, data_mod.DatasetError, onnx_torch.OnnxImportError, OSError,
            onnx.checker.ValidationError) as e:
        print(f"finetune: error: {e}", file=sys.stderr)
        return 1
    return 0

