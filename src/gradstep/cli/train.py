"""``gradstep train``: fit a linear model by gradient descent on your own table."""

from __future__ import annotations

import click
from click.core import ParameterSource

from gradstep.runs.config import (
    DEFAULT_EPOCHS,
    DEFAULT_SEED,
    DEFAULT_TOL,
    DEFAULT_VAL_FRACTION,
)

EPILOG = """\b
Examples:
  gradstep train diabetes.csv --target progression
  gradstep train houses.parquet --target price --features area,rooms --lr 0.05
  cat data.csv | gradstep train - --target y --out runs/piped --json
  gradstep train diabetes.csv --target progression --out runs/d --resume --epochs 200000
  gradstep train diabetes.csv --target progression --optimizer adam --lr 0.1

Every option can also be set in a TOML file passed with --config (keys are the
option names: lr = 0.05, features = ["age", "bmi"], data = "diabetes.csv");
the command line wins over the file. The run folder's layout is described in
docs/run-folder.md.
"""


@click.command(epilog=EPILOG)
@click.argument("data", required=False, metavar="[DATA]")
@click.option(
    "--target", metavar="COL", help="The column to predict (required, here or in --config)."
)
@click.option(
    "--features",
    metavar="A,B,...",
    help="Feature columns, separated by commas. [default: every numeric column but the "
    "target; text columns are skipped and the summary lists them]",
)
@click.option(
    "--format",
    type=click.Choice(["csv", "parquet"]),
    help="Read DATA as this format. [default: from the extension: .csv/.txt CSV, "
    ".parquet/.pq Parquet; '-' (standard input) is always CSV]",
)
@click.option(
    "--drop-missing",
    is_flag=True,
    default=None,
    help="Drop rows with an empty, NA, NaN or infinite value in a column used (and say how "
    "many), instead of stopping with an error.",
)
@click.option(
    "--engine",
    metavar="NAME",
    help="Which implementation runs the descent: numpy, or a torch engine (torch-autograd, "
    "torch-optim, torch-module, torch-linear). [default: numpy]",
)
@click.option(
    "--device",
    metavar="DEVICE",
    help="Torch engines only: auto (CUDA when available), cpu or cuda. [default: auto]",
)
@click.option(
    "--dtype",
    type=click.Choice(["float32", "float64"]),
    help="Torch engines only: the float type (numpy always uses float64). "
    "[default: the engine's, float32 for torch]",
)
@click.option(
    "--lr",
    metavar="LR|auto",
    help="Learning rate, or auto, from the Hessian H of the loss on the training rows "
    "(largest eigenvalue L, smallest positive μ): full batch min(2/(L+μ), 1.5/L); mini-batches "
    "of k rows 1/(2·𝓛(k)), 𝓛 the expected smoothness of a batch (gradstep.policies). "
    "[default: auto]",
)
@click.option(
    "--epochs",
    metavar="N",
    help="The most epochs to run (a cap: training stops earlier once it converges, see "
    f"--tol; the summary says which). [default: {DEFAULT_EPOCHS}]",
)
@click.option(
    "--tol",
    metavar="TOL",
    help="Certified tolerance: stop after the first epoch at which every parameter is "
    "provably within TOL·max(1, max|parameter|) of least squares, in the units the descent "
    "runs in (only then is the run 'converged'); 0 runs every epoch up to --epochs. "
    f"[default: {DEFAULT_TOL:g}]",
)
@click.option(
    "--batch-size",
    metavar="K|full",
    help="Rows per update: full (batch descent), or K for mini-batches reshuffled every "
    "epoch (1: stochastic descent; mini-batches rarely meet --tol). [default: full]",
)
@click.option(
    "--optimizer",
    metavar="NAME",
    help="The update rule, as in torch.optim: sgd (the plain step), momentum, nesterov, "
    "rmsprop, adagrad or adam; --lr is its learning rate. [default: sgd]",
)
@click.option(
    "--momentum",
    metavar="M",
    help="momentum/nesterov (torch.optim.SGD; with sgd it turns momentum on) and rmsprop: "
    "the momentum factor. [default: 0.9 for momentum/nesterov, 0 for rmsprop]",
)
@click.option(
    "--nesterov",
    is_flag=True,
    default=None,
    help="sgd/momentum: Nesterov momentum (the same as --optimizer nesterov).",
)
@click.option(
    "--betas",
    metavar="B1,B2",
    help="adam: the decay rates of the moving averages of the gradient and its square. "
    "[default: 0.9,0.999]",
)
@click.option(
    "--alpha",
    metavar="A",
    help="rmsprop: the decay rate of the average of squared gradients. [default: 0.99]",
)
@click.option(
    "--eps",
    metavar="EPS",
    help="rmsprop, adagrad, adam: added to the denominator. [default: 1e-8; adagrad 1e-10]",
)
@click.option(
    "--lr-decay",
    metavar="D",
    help="adagrad: the step at update t is lr / (1 + (t - 1) D). [default: 0]",
)
@click.option(
    "--amsgrad",
    is_flag=True,
    default=None,
    help="adam: divide by the running maximum of the squared-gradient average (AMSGrad).",
)
@click.option(
    "--centered",
    is_flag=True,
    default=None,
    help="rmsprop: divide by the variance of the gradient instead of its second moment.",
)
@click.option(
    "--val-fraction",
    metavar="F",
    help="Share of the rows held out for validation, drawn at random with --seed "
    f"(0: none). [default: {DEFAULT_VAL_FRACTION}]",
)
@click.option(
    "--scale/--no-scale",
    default=None,
    help="Standardise the features (mean 0, sd 1, fitted on the training rows only) for "
    "the descent; results are reported in the original units. [default: on]",
)
@click.option(
    "--seed",
    metavar="N",
    help=f"Seed of the validation split and the mini-batch order. [default: {DEFAULT_SEED}]",
)
@click.option(
    "--early-stopping",
    metavar="PATIENCE",
    help="Stop once the validation loss has not improved for PATIENCE epochs; the model is "
    "then the epoch with the lowest validation loss (checkpoints/best.ckpt). [default: off]",
)
@click.option(
    "--checkpoint-every",
    metavar="K",
    help="Also keep the parameters every K epochs as checkpoints/epoch-K.ckpt "
    "(checkpoints/last.ckpt is always written). [default: off]",
)
@click.option(
    "--out",
    metavar="RUN_DIR",
    help="The run folder to write. It is written whole at the end, so an interrupted run "
    "leaves what was there intact. [default: runs/<DATA's name without extension>]",
)
@click.option(
    "--resume",
    is_flag=True,
    default=None,
    help="Continue the run in --out from checkpoints/last.ckpt, exactly as if it had not "
    "stopped (raise --epochs or lower --tol to give it more to do). Options not given "
    "come from the run; the ones that shape the descent cannot change.",
)
@click.option(
    "--force",
    is_flag=True,
    default=None,
    help="Replace an existing run folder (without it, an existing --out is an error). Only a "
    "folder gradstep wrote is replaced: one holding other files, the current folder or the "
    "data's folder is refused (docs/run-folder.md).",
)
@click.option(
    "--report/--no-report",
    default=None,
    help="Draw the figures and the HTML report into the run folder. [default: on]",
)
@click.option(
    "--config",
    "config_path",
    metavar="run.toml",
    help="Read options from a TOML file; the command line wins over it.",
)
@click.option(
    "--json",
    is_flag=True,
    default=None,
    help="Print one JSON summary (intercept, coef, epochs_run, train_loss, val_loss, "
    "closed_form, max_abs_diff_closed_form, run_dir, ...) instead of text.",
)
@click.option(
    "--stream",
    is_flag=True,
    default=None,
    help="Do not load DATA: read it in chunks (a Parquet file, a folder of Parquet files in "
    "name order, or a CSV file), gather the statistics in streamed passes, then run the "
    "full-batch descent from them (the stats engine); with --batch-size K, mini-batch "
    "descent reading the table every epoch (see --shuffle-buffer). Memory is bounded by "
    "--chunk-rows (and --shuffle-buffer).",
)
@click.option(
    "--chunk-rows",
    metavar="N",
    help="With --stream: rows read at a time (Parquet; CSV: blocks of about that many). "
    "The result does not depend on it. [default: 1000000]",
)
@click.option(
    "--shuffle-buffer",
    metavar="ROWS",
    help="With --stream --batch-size: training rows shuffled together. Each epoch visits "
    "the row groups in an order seeded by (seed, epoch) and permutes the rows within each "
    "window of ROWS rows; at least the training rows: the in-memory order exactly. Memory "
    "grows with it. [default: 1000000]",
)
@click.option(
    "--distributed",
    is_flag=True,
    default=None,
    help="Under torchrun: with --stream each process reads its share of the Parquet row "
    "groups and the statistics are combined by one collective; with --batch-size K each "
    "process holds the rows and sums its part of every mini-batch (one all_reduce per step). "
    "Rank 0 writes the run folder.",
)
@click.option(
    "--workers",
    metavar="K",
    help="Start K local processes (PyTorch's launcher) and run --distributed in each "
    "(with --stream, or with --batch-size).",
)
@click.option(
    "--backend",
    metavar="NAME",
    help="The torch.distributed backend of --distributed/--workers. [default: nccl with "
    "CUDA, else gloo]",
)
@click.pass_context
def train(ctx: click.Context, config_path: str | None, **params) -> None:
    """Fit a linear model by gradient descent on the table DATA and check it.

    DATA is a CSV or Parquet file, or - for CSV on standard input (it may also
    come from --config, or, with --resume, from the run being resumed). The descent
    starts at zero and stops when it converges (or at the --epochs cap); the result
    is compared with least squares on the same training rows and measured
    (MSE, RMSE, MAE, R²) on the training and validation rows. Everything goes into
    the run folder (--out): config.json, metrics.csv, model.json, quadratic.json,
    summary.json, checkpoints/, figures/ and report.html.
    """
    from gradstep.cli.train_run import run_training
    from gradstep.cli.train_text import format_summary

    given = {
        name: value
        for name, value in params.items()
        if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE
    }
    written = []  # set the moment the new run folder is in place
    try:
        summary = run_training(given, config_path, written=lambda: written.append(True))
        if summary["payload"] is None:  # a rank other than 0 of a distributed run
            return
        if summary["json"]:
            import json

            click.echo(json.dumps(summary["payload"], indent=2))
        else:
            click.echo(format_summary(summary["payload"], report=summary["report"]))
    except KeyboardInterrupt:
        from gradstep.cli import Interrupted

        if written:
            raise Interrupted(
                "interrupted after the run folder was written (it is complete)"
            ) from None
        raise Interrupted("interrupted; no run folder was written or changed") from None
