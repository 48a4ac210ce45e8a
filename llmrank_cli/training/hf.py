"""Fine-tune a passage cross-encoder with sentence-transformers' CrossEncoderTrainer (the HF
Trainer underneath, so ``torchrun``/``accelerate launch`` spread it over GPUs unchanged).

llmrank adds what the Lion-vs-AdamW experiment needs: the optimizer by name, an evaluation
after every epoch through llmrank's own rerank and eval (the numbers ``llmrank eval`` gives on
``eval/epoch-N.run``), a per-epoch log, loss/lr/gradient-norm curves as PNG, resumable
checkpoints and a rich progress bar instead of the trainer's printing.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

from ..errors import LlmrankError
from ..settings import Settings, setting, term
from .curves import plot_curves, write_log
from .loop import check_resumable, mark_started
from .optimizers import SCHEDULERS, optimizer_class_and_kwargs

CHECKPOINTS = "checkpoints"
LOSS_SHAPES = {"bce": "pointwise", "mse": "pointwise", "lambda": "listwise", "listnet": "listwise"}


@dataclass
class TrainSettings(Settings):
    """Hyper-parameters; defaults are the thesis' (AdamW/Lion, lr 2e-5, wd 0.01, warmup 1000,
    clipping 1.0, batch 16, 3 epochs)."""

    encoder: Optional[str] = setting(None, "Encoder to start from: directory, hub id, or offline model name.",
                                  required=True)
    optimizer: str = setting("adamw", "adamw (betas 0.9/0.999, eps 1e-8) or lion (betas 0.9/0.99).",
                             choices=("adamw", "lion"))
    lr: float = setting(2e-5, "Peak learning rate (the thesis: 2e-6 with cosine for ModernBERT).", min=0.0)
    weight_decay: float = setting(0.01, "Weight decay.", min=0.0)
    warmup_steps: int = setting(1000, "Linear warmup steps.", min=0)
    scheduler: str = setting("linear", "linear, cosine or constant (after warmup).", choices=tuple(SCHEDULERS))
    epochs: int = setting(3, "Training epochs.", min=1)
    batch_size: int = setting(16, "Examples per step (listwise: lists).", min=1)
    max_length: int = setting(512, "Token limit of a query-passage pair.", min=8)
    grad_clip: float = setting(1.0, "Gradient norm clipping; 0 turns it off.", min=0.0)
    loss: str = setting("bce", "bce (pointwise), lambda (LambdaLoss) or listnet (listwise); mse against a "
                        "teacher's scores (the default with --teacher-run, and only with it).",
                        choices=tuple(LOSS_SHAPES))
    seed: int = term("seed", " (initialisation, order, negatives).")
    keep_best: bool = setting(False, "Save the best epoch on the primary measure instead of the last.")


def _loss(name: str, model):
    from sentence_transformers.cross_encoder import losses

    return {"bce": losses.BinaryCrossEntropyLoss, "mse": losses.MSELoss, "lambda": losses.LambdaLoss,
            "listnet": losses.ListNetLoss}[name](model)


def _dataset(examples, loss: str):
    from datasets import Dataset

    rows = examples.pointwise() if LOSS_SHAPES[loss] == "pointwise" else examples.listwise()
    return Dataset.from_dict(rows)


def _epoch_evaluator(evaluation, out: Path):
    """An ST evaluator that reranks the eval run with the model being trained and scores it."""
    from sentence_transformers.base.evaluation import BaseEvaluator

    class EpochEvaluator(BaseEvaluator):
        def __init__(self):
            super().__init__()
            self.primary_metric = evaluation.measures[0].label

        def __call__(self, model, output_path=None, epoch: float = -1, steps: int = -1) -> dict:
            return evaluation.score(model, out / "eval" / f"epoch-{max(1, round(epoch))}.run")

    return EpochEvaluator()


def _progress_callback(progress):
    from transformers import TrainerCallback

    class RichProgress(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            progress.start(state.max_steps)
            progress.advance(state.global_step)

        def on_step_end(self, args, state, control, **kwargs):
            progress.advance(1)

    return RichProgress()


def last_checkpoint(out: Path) -> str | None:
    """The newest complete checkpoint: the Trainer writes its state file last, so a folder
    without a readable one is a save that a kill cut short (transformers would pick it)."""
    folder = out / CHECKPOINTS
    complete = []
    for path in folder.glob("checkpoint-*") if folder.is_dir() else ():
        try:
            json.loads((path / "trainer_state.json").read_text())
            complete.append((int(path.name.split("-")[-1]), str(path)))
        except (OSError, ValueError):
            continue
    return max(complete)[1] if complete else None


def train(settings: TrainSettings, examples, out: str, evaluation=None, resume: bool = False, progress=None,
          note=lambda message: None, callbacks=(), runtime=None) -> dict:
    """Train, save a CrossEncoder directory at ``out``, and return the per-epoch log. ``runtime``
    (--device, --dtype) becomes the Trainer's use_cpu and bf16/fp16 mixed precision."""
    import transformers
    from sentence_transformers import CrossEncoder
    from sentence_transformers.cross_encoder import CrossEncoderTrainer, CrossEncoderTrainingArguments
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    from ..kit.devices import use_all_cores
    from ..kit.resolve import load_error, resolve_model

    settings.check()
    if settings.keep_best and evaluation is None:
        raise LlmrankError("--keep-best needs an evaluation set (--eval-topics/--eval-qrels/--eval-run)")
    directory = Path(out)
    check_resumable(directory / CHECKPOINTS, asdict(settings), resume, "checkpoints of an earlier training")
    checkpoint = last_checkpoint(directory) if resume else None
    note(examples.describe())  # after the check: a refused training says one line
    transformers.logging.set_verbosity_error()
    use_all_cores()
    transformers.set_seed(settings.seed)  # a base without a scoring head gets a seeded one
    try:
        model = CrossEncoder(resolve_model(settings.encoder), num_labels=1, max_length=settings.max_length)
    except (OSError, ValueError, RuntimeError) as exc:
        raise load_error(settings.encoder, exc) from None
    train_data = _dataset(examples, settings.loss)
    steps = math.ceil(len(train_data) / settings.batch_size) * settings.epochs
    if settings.warmup_steps >= steps:
        note(f"warmup ({settings.warmup_steps} steps) is not shorter than training ({steps} steps): the learning "
             f"rate never reaches --lr {settings.lr:g}; consider --warmup-steps {max(1, steps // 10)}")
    primary = f"eval_{evaluation.measures[0].label}" if evaluation else None
    args = CrossEncoderTrainingArguments(
        output_dir=str(directory / CHECKPOINTS), num_train_epochs=settings.epochs,
        per_device_train_batch_size=settings.batch_size, per_device_eval_batch_size=settings.batch_size,
        learning_rate=settings.lr, weight_decay=settings.weight_decay, warmup_steps=settings.warmup_steps,
        lr_scheduler_type=SCHEDULERS[settings.scheduler], max_grad_norm=settings.grad_clip, seed=settings.seed,
        data_seed=settings.seed, eval_strategy="epoch" if evaluation else "no",
        save_strategy="epoch", save_total_limit=1, load_best_model_at_end=settings.keep_best,
        metric_for_best_model=primary if settings.keep_best else None, greater_is_better=True,
        logging_steps=max(1, steps // settings.epochs // 20), report_to="none", disable_tqdm=True,
        dataloader_pin_memory=_has_accelerator(), ddp_find_unused_parameters=False, **_precision(runtime))
    mark_started(directory / CHECKPOINTS, asdict(settings))  # the processes exist now (TrainingArguments)
    trainer = CrossEncoderTrainer(
        model=model, args=args, train_dataset=train_data, loss=_loss(settings.loss, model),
        evaluator=_epoch_evaluator(evaluation, directory) if evaluation else None,
        optimizer_cls_and_kwargs=optimizer_class_and_kwargs(settings.optimizer, settings.lr, settings.weight_decay),
        callbacks=[*([_progress_callback(progress)] if progress else []), *callbacks])
    for noisy in (PrinterCallback, ProgressCallback):
        trainer.remove_callback(noisy)
    trainer.train(resume_from_checkpoint=checkpoint)
    history = trainer.state.log_history
    epochs = epoch_log(history)
    main = trainer.is_world_process_zero()  # under torchrun/accelerate the other processes only train
    if main:
        model.save_pretrained(str(directory))
        write_log(directory, epochs, history)
        plot_curves(history, epochs, directory / "curves.png")
    best = max(epochs, key=lambda e: e.get(primary, float("-inf"))) if primary and epochs else None
    return {"epochs": epochs, "best_epoch": best["epoch"] if best else None, "primary_measure": primary,
            "steps": trainer.state.global_step, "saved": "best epoch" if settings.keep_best else "last epoch",
            "train_examples": len(train_data), "processes": trainer.args.world_size, "main": main}


def epoch_log(history: list[dict]) -> list[dict]:
    """One row per epoch: mean training loss over the epoch, eval loss and measures."""
    rows: dict[int, dict] = {}
    for entry in history:
        if "epoch" not in entry:
            continue
        epoch = max(1, math.ceil(entry["epoch"] - 1e-9))
        row = rows.setdefault(epoch, {"epoch": epoch, "_losses": []})
        if "loss" in entry:
            row["_losses"].append(entry["loss"])
        for key, value in entry.items():
            if key.startswith("eval_") and not key.endswith(("_runtime", "_per_second")):
                row[key] = value
        row["step"] = max(row.get("step", 0), entry.get("step", 0))
    out = []
    for epoch in sorted(rows):
        row = rows[epoch]
        losses = row.pop("_losses")
        out.append({"epoch": epoch, "step": row.pop("step"),
                    "train_loss": sum(losses) / len(losses) if losses else None, **row})
    return out


def _precision(runtime) -> dict:
    """TrainingArguments for --device and --dtype."""
    from ..kit.devices import dtype_name, pick_device

    if runtime is None:
        return {}
    device = pick_device(runtime.device)
    dtype = dtype_name(runtime.dtype, device)
    return {"use_cpu": device == "cpu", "bf16": dtype == "bf16", "fp16": dtype == "fp16"}


def _has_accelerator() -> bool:
    import torch

    return torch.cuda.is_available()
