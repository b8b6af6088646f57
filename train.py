r"""Train a DDPM on MNIST (or Fashion-MNIST) and optionally publish it to the Hugging Face Hub.

    python train.py --epochs 59 --lr-decay-steps 11700  # the teacher's recipe (the README times each line), then:
    python train.py --resume --epochs 77 --lr 1e-3 --lr-decay-steps 8424
    python train.py --resume --epochs 101 --lr 1e-3 --lr-decay-steps 11232
    python train.py --resume --epochs 125 --lr 1e-3 --lr-decay-steps 11232
    python train.py --resume --epochs 134 --lr 1e-3 --lr-decay-steps 4212 --label-dropout 0.5
    python train.py --resume --epochs 143 --lr 1e-3 --lr-decay-steps 4212 --label-dropout 0.5
    python train.py --resume --epochs 158 --lr 1e-3 --lr-decay-steps 7020 --label-dropout 0.5  # on an H100
    python train.py --base-channels 8 --epochs 3 --label-dropout 0.5 --out runs/guide  # the teacher's small guide
    cp -r runs/guide runs/mnist/guide && cp -r runs/mnist runs/student
    python train.py --resume --out runs/student --epochs 166 --lr 3e-4 --lr-decay-steps 3744 --label-dropout 0.5 \
        --null-teacher runs/mnist --null-teacher-autoguidance 2  # the bundled weights
    python train.py --epochs 24 --lr-decay-steps 5616 --label-dropout 0.5 --out runs/fast  # 87 CPU-min: the FD bar
    python train.py --resume --out runs/mnist        # continue a stopped or killed run exactly
    python train.py --out runs/hub --push-to-hub --hub-model-id you/ddpm-mnist  # a new run, published at its end
"""
from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from os.path import expanduser  # a path flag's leading ~: a shell leaves --out=~/runs/m as typed
from pathlib import Path

from ddpm.config import DATASETS, MIXED_PRECISION, RUN_CONFIG_NAME, SCHEDULES, ConfigError, ModelConfig, TrainConfig
from ddpm.train_args import (FLAG_OF, UNFLAGGED, UNFLAGGED_MODEL, as_flag, dashed, groups_hint, resume_settings,
                             say_what_resume_kept, shell_path, train_config, unusable_folder)


def parse_args(argv=None) -> argparse.Namespace:
    d, m = TrainConfig(), ModelConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    a = p.add_argument_group("data")
    a.add_argument("--data-dir", type=expanduser, default=d.data_dir,
                   help="folder holding MNIST/raw (or FashionMNIST/raw, where Debian's dataset-fashion-mnist is "
                        "unpacked, about 54 MB) [%(default)s]")
    a.add_argument("--dataset", choices=DATASETS, default=d.dataset, help="training set [%(default)s]")
    a = p.add_argument_group("training")
    a.add_argument("--epochs", type=int, default=d.epochs, help="passes over the data [%(default)s]")
    a.add_argument("--max-minutes", type=float, default=None,
                   help="stop cleanly after this many minutes of training in all (with --resume, earlier sittings count)")
    a.add_argument("--max-steps", type=int, default=None,
                   help="stop after this many optimizer steps in all (with --resume, earlier sittings count)")
    a.add_argument("--batch-size", type=int, default=d.batch_size, help="images per step [%(default)s]")
    a.add_argument("--lr", type=float, default=d.lr, help="AdamW learning rate, after a linear warm-up [%(default)s]")
    a.add_argument("--lr-decay-steps", type=int, default=d.lr_decay_steps,
                   help="cosine-decay the lr to 0 over the last N steps of --epochs; 0 keeps it constant [%(default)s]")
    a.add_argument("--ema-decay", type=float, default=d.ema_decay, help="EMA decay of the published weights [%(default)s]")
    a.add_argument("--label-dropout", type=float, default=d.label_dropout,
                   help="share of labels replaced by the null class, for guidance (0 leaves the null class, the "
                        "app's 'any digit', untrained) [%(default)s]")
    a.add_argument("--null-teacher", type=expanduser, default=d.null_teacher, metavar="FOLDER",
                   help="a class-conditional model folder or Hub id: the null class's rows regress on its prediction "
                        "given the true label instead of on the drawn noise (for an exact teacher the same best fit, "
                        "less variance; "
                        "docs/experiments.md has the study); unset: L_simple for every row")
    a.add_argument("--null-teacher-label", choices=["true", "null"], default=d.null_teacher_label,
                   help="the label the teacher is given: the image's own, or the null class [%(default)s]")
    a.add_argument("--null-teacher-autoguidance", type=float, default=d.null_teacher_autoguidance, metavar="W",
                   help="not 1: autoguide the teacher's prediction by its guide/ at weight W, as --autoguidance W "
                        "samples, so the student learns guided digits at one network pass per step "
                        "(guidance distillation) [%(default)s]")
    a.add_argument("--balance-classes", action=argparse.BooleanOptionalAction, default=d.balance_classes,
                   help="draw every class equally often (with replacement, so each epoch is as long), not each "
                        "image once: the null class then learns a class-balanced dataset [off]")
    a.add_argument("--seed", type=int, default=d.seed,
                   help="seed of the weights' init and dropout, the data order, t and noise draws [%(default)s]")
    a.add_argument("--device", default=d.device, help="auto (cuda, then mps, then cpu), cpu, cuda, mps [%(default)s]")
    a.add_argument("--mixed-precision", choices=MIXED_PRECISION, default=d.mixed_precision,
                   help="autocast: auto (bf16 on a CUDA GPU with bfloat16 units, fp16 on an older one, float32 on a "
                        "CPU), bf16 (also on a CPU with bfloat16 units, AVX512-BF16 or AMX: a step 1.4x to 2.1x as "
                        "fast on this project's CPU), no (float32) [%(default)s]")
    a.add_argument("--out", type=expanduser, default=d.out,
                   help="output folder: model.safetensors + config.json, checkpoint, loss.csv, the card README.md "
                        "with samples.png, train_config.json, training.json, a grid per epoch in samples/ "
                        "[%(default)s; runs/fashion-mnist for --dataset fashion-mnist]")
    a.add_argument("--no-sample-grid", dest="sample_grid", action="store_false",
                   help="skip the card's samples.png at the end (64 digits, all T DDPM steps: about a minute on 2 CPU "
                        "cores), for a quick run; the card says how to draw it later")
    a.add_argument("--resume", action="store_true",
                   help="continue from OUT/checkpoint.safetensors exactly; a flag not given again keeps the run's own "
                        "value (OUT/train_config.json), but for --max-minutes, --max-steps, --device and "
                        "--no-sample-grid (a sitting's own)")
    a = p.add_argument_group("model and schedule")
    a.add_argument("--schedule", choices=SCHEDULES, default=m.schedule,
                   help="noise schedule: linear (Ho et al.: beta 1e-4 to 0.02 at T = 1000, both scaled by 1000 / T "
                        "for other T, as improved-diffusion does) or cosine (Nichol & Dhariwal) [%(default)s]")
    a.add_argument("--timesteps", type=int, default=m.timesteps, help="diffusion steps T [%(default)s]")
    a.add_argument("--base-channels", type=int, default=m.base_channels, help="U-Net width of the first level [%(default)s]")
    a.add_argument("--groups", type=int, default=m.groups,
                   help="GroupNorm groups; --base-channels must be a multiple of it [%(default)s]")
    a.add_argument("--channel-mult", default=",".join(map(str, m.channel_mult)),
                   help="width multipliers, one per level (28, 14, 7 pixels; 14, 7, 4 with --patch-size 2) [%(default)s]")
    a.add_argument("--num-res-blocks", type=int, default=m.num_res_blocks,
                   help="residual blocks per level, in each half of the U-Net [%(default)s]")
    a.add_argument("--attention-res", default=",".join(map(str, m.attention_resolutions)),
                   help="feature-map sizes that get self-attention, among the levels' sizes that --channel-mult "
                        "gives (\"\" for none) [%(default)s]")
    a.add_argument("--patch-size", type=int, choices=[1, 2], default=m.patch_size,
                   help="2: fold each 2x2 pixel patch into 4 channels, so the U-Net starts at 14x14 [%(default)s]")
    a.add_argument("--dropout", type=float, default=m.dropout, help="dropout in residual blocks [%(default)s]")
    a.add_argument("--unconditional", action="store_true", help="no class labels (no guidance)")
    a = p.add_argument_group("Hugging Face Hub")
    a.add_argument("--push-to-hub", action="store_true", help="upload the model folder when training ends")
    a.add_argument("--hub-model-id", default=None, help="repo id, e.g. you/ddpm-mnist (needs --push-to-hub)")
    a.add_argument("--private", action="store_true", help="create the Hub repo as private")
    unset = object()  # tells the flags typed from those left at their defaults
    args = p.parse_args(argv, argparse.Namespace(**{x.dest: unset for x in p._actions if x.dest != "help"}))
    given = {k for k, v in vars(args).items() if v is not unset}
    for x in p._actions:
        if getattr(args, x.dest, None) is unset:
            setattr(args, x.dest, x.default)
    if "out" not in given and args.dataset != d.dataset:  # a Fashion-MNIST run in runs/mnist: refused beside an
        args.out = f"runs/{args.dataset}"                   # MNIST run there, and misnamed without one
    if not args.out.strip():
        p.error("--out must name a folder")
    if why := unusable_folder(Path(args.out)):
        p.error(f"--out {args.out}: {why}")
    if args.push_to_hub and not args.hub_model_id:
        p.error("--push-to-hub needs --hub-model-id (e.g. you/ddpm-mnist)")
    if (args.hub_model_id or args.private) and not args.push_to_hub:
        p.error("--hub-model-id and --private say where and how to push: add --push-to-hub")
    if args.hub_model_id:
        from ddpm.hub import repo_id_problem

        if why := repo_id_problem(args.hub_model_id):  # now, not after hours of training
            p.error(f"--hub-model-id: {why}")
    if args.push_to_hub:
        from ddpm.push import token_problem

        if why := token_problem():  # the upload would fail at the end, after the training (the flags are right)
            p.exit(2, f"{p.prog}: error: --push-to-hub: {why}; or train without --push-to-hub and push the folder "
                      "later with python -m ddpm.push\n")
    for flag in ("channel_mult", "attention_res"):
        try:
            value = getattr(args, flag)  # --attention-res "" means none; --channel-mult needs at least one level
            setattr(args, flag, tuple(int(c) for c in value.split(",")) if value.strip() or flag == "channel_mult" else ())
        except ValueError:
            p.error(f"{dashed(flag)} must be integers separated by commas, not {getattr(args, flag)!r}")
    kept, saved_at = [], Path(args.out) / RUN_CONFIG_NAME
    if args.resume:
        try:
            kept = resume_settings(args, given)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            p.error(f"--resume: {saved_at} is not a readable run config ({e}); repair it, or move it aside and give "
                    "every flag of the run again")
    saved_at = getattr(args, "kept_from", saved_at)  # config.json, for a run whose train_config.json is gone
    from_run = f" (kept from {saved_at} by --resume: give it again to change it)"
    try:
        args.config = train_config(args)
    except ConfigError as e:  # the config's own checks, named by flag
        if e.field in (*UNFLAGGED, *UNFLAGGED_MODEL):  # no flag sets it: a hand edit of the run's record
            p.error(f"--resume: {saved_at} holds a {e.field} that no flag sets, and it {e.problem}: repair it")
        flag = FLAG_OF.get(e.field, e.field)
        hint = groups_hint(args, e, kept, saved_at)  # a base width that fits no groups: where they came from
        p.error(f"{dashed(flag)} {e.problem}" + (from_run if flag in kept else "") + hint)
    except (TypeError, ValueError) as e:  # a hand-edited train_config.json
        p.error(f"--resume: {saved_at} holds a value of the wrong kind ({e})")
    if not args.config.model.num_classes and "label_dropout" in given:  # it would be taken and never used
        p.error("--label-dropout is the share of labels replaced by the null class, and this run is --unconditional "
                "(trained without labels): drop --label-dropout")
    levels = args.config.model.level_sizes()
    if not args.resume and not set(args.config.model.attention_resolutions) <= set(levels):
        # it would silently build none there (a run begun so before this check still resumes)
        p.error(f"--attention-res must be among the levels' sizes {levels} (\"\" for none), "
                f"not {','.join(map(str, args.config.model.attention_resolutions))}")
    unused = {"label_dropout"} if not args.config.model.num_classes else set()  # not typed back: it is refused
    args.kept = [shown for flag in kept if flag not in unused and (shown := as_flag(p, flag, getattr(args, flag)))]
    return args


@contextlib.contextmanager
def ctrl_c_held():
    """Hold a Ctrl-C until the block ends, then raise it: torch loads in here (seconds), and a KeyboardInterrupt
    raised inside its C++ start-up aborts the process ("terminate called after throwing ...") instead of stopping
    it with a message."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) in (
            signal.SIG_IGN, None):  # signals reach the main thread only; a job run with `&` ignores Ctrl-C
        yield
        return
    pressed = []
    previous = signal.signal(signal.SIGINT, lambda *_: pressed.append(True))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pressed:
        raise KeyboardInterrupt


def main(argv=None) -> int:
    with ctrl_c_held():
        args = parse_args(argv)
        from ddpm.run_control import unbroken_output
        from ddpm.unsaved import ctrl_c_outside_training
    try:
        with unbroken_output():  # a terminal gone (or `| tee`, ended by the same Ctrl-C) costs lines, not the run
            return _main(args, argv)
    except KeyboardInterrupt:  # before training took Ctrl-C over (torch, the data loading) or after it (the card)
        with contextlib.suppress(OSError):  # a terminal gone with it
            print(f"\n{ctrl_c_outside_training(args.out, _ended(args))}", file=sys.stderr)
        return 130


def _ended(args) -> bool:
    """Whether the weights in args.out are at this sitting's end (its --epochs or --max-steps)."""
    from ddpm.facts import read_weights_meta  # torch has loaded: parse_args loads it
    held, cfg = read_weights_meta(args.out), args.config
    return held.get("epochs", 0) >= cfg.epochs or cfg.max_steps is not None and held.get("steps", 0) >= cfg.max_steps


def _main(args, argv) -> int:
    with ctrl_c_held():
        from ddpm.card import STOPPED, check_loads, record_command, what_next, write_model_card
        from ddpm.cli_args import command_line
        from ddpm.data import DataError
        from ddpm.facts import read_scores, read_weights_meta
        from ddpm.device import pick_device
        from ddpm.evaluate import card_scores, card_scores_argv
        from ddpm.hub import EVAL_NAME, ModelLoadError
        from ddpm.push import push_command, push_status
        from ddpm.sample import card_grid_command, write_card_grid
        from ddpm.run_control import Abandoned, Diverged, Interrupts, Stopped
        from ddpm.unsaved import resume_command
        from ddpm.training import train

    say_what_resume_kept(args)
    command = command_line("train.py", argv)  # quoted as a shell needs it: --out "my run", --attention-res ""

    def on_start(folder) -> None:
        """At the sitting's first checkpoint, its line in the recipe; on a resume, noted as stopped at the step the
        weights hold, as they do until the sitting's end saves its own (a kill -9 before leaves the note true)."""
        held = read_weights_meta(folder).get("steps") if args.resume else None
        record_command(folder, f"{command}{STOPPED}{held}" if held else command, args.resume)

    def card_written(folder, **kw) -> bool:
        """The model card, or a line that says why it is not (a full disk, a folder made read-only): it comes after
        the weights and the checkpoint, which a traceback here made look lost."""
        try:
            write_model_card(folder, **kw)
            return True
        except OSError as e:
            print(f"error: could not write the card {e.filename or Path(folder) / 'README.md'}: {e.strerror or e}; "
                  f"the trained weights and the checkpoint are saved in {folder}; once there is room (or the folder "
                  f"is writable), `python -m ddpm.card {shell_path(folder)}` writes the card", file=sys.stderr)
            return False

    try:
        out = train(args.config, resume=args.resume, on_start=on_start)
        if args.resume:  # the sitting's weights are saved: its line without the note, before the grid and scores
            record_command(out, command, resumed=True)
    except (Diverged, Abandoned) as e:  # nothing saved since e.saved: the recipe's line says where this sitting's
        if e.saved and e.saved > e.began:  # part ends (a sitting that saved nothing recorded no line: training.train)
            record_command(args.out, f"{command}{STOPPED}{e.saved}", resumed=True)
        if isinstance(e, Abandoned):  # a second Ctrl-C mid-step: a stop, not an error
            print(f"\n{e}", file=sys.stderr)
            return 130
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (DataError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Stopped as e:  # Ctrl-C or kill: the card describes what was saved; a run not at its end is not published
        step = read_weights_meta(e.out).get("steps")  # the recipe's line says where it stopped, so it replays
        card_written(e.out, command=f"{command}{STOPPED}{step}" if step else command, resumed=args.resume)
        private = " --private" if args.private else ""
        push = (f" --push-to-hub --hub-model-id {args.hub_model_id}{private} (pushed at its end); "
                f"`{push_command(e.out, args.hub_model_id, args.private)}` publishes it as it is"
                if args.push_to_hub else "")
        print(f"{e}: continue it with {resume_command(e.out)}{push}", file=sys.stderr)
        return 130
    if not args.sample_grid:
        print(f"--no-sample-grid: the card has no samples.png; `{card_grid_command(out)}` draws it")
    interrupts = Interrupts()  # Ctrl-C, and `kill` too, during the grid or the scores: the card is written, nothing
    previous, doing, left = interrupts.install(), "finishing", []  # is pushed; left: what a stop leaves, in order
    try:
        # a published card carries measured figures (new weights set the old eval.json aside: one left is theirs)
        wanted = args.push_to_hub and args.dataset == "mnist"
        already = wanted and bool(read_scores(out).get("runs"))
        scored = wanted and not already
        device = pick_device(args.config.device) if args.sample_grid or scored else None  # a GPU run's own
        if args.sample_grid:
            left.append(("draws its grid", card_grid_command(out)))
        if scored:
            score = card_scores_argv(out, args.config.data_dir, device)
            left.append(("scores it", command_line("-m ddpm.evaluate", score)))
        if args.push_to_hub:
            left.append(("publishes it", push_command(out, args.hub_model_id, args.private)))
        if args.sample_grid:
            doing = "drawing the sample grid"
            print(f"writing the model card's sample grid (64 samples, each through all {args.config.model.timesteps} "
                  f"DDPM steps; Ctrl-C stops here, the run is kept{' and nothing pushed' * args.push_to_hub}): "
                  f"{card_grid_command(out)}")
            write_card_grid(out, device)
            left.pop(0)
        if already:
            print(f"{out / EVAL_NAME} already scores these weights: the card shows it")
        elif scored:
            doing = "scoring it"
            if card_scores(out, args.config.data_dir, device):  # it said why; the push goes on, the card unscored
                print("the card goes out without scores (it says how to add them)", file=sys.stderr)
    except KeyboardInterrupt:  # the weights are saved; a stop is still a stop (exit 130), not a push
        carded = card_written(out, command=command, resumed=args.resume)
        then = "".join(f"; {'then ' * (k > 0)}`{cmd}` {what}" for k, (what, cmd) in enumerate(left))
        print(f"\nstopped (Ctrl-C or kill) while {doing}: its trained weights are saved in {out}"
              f"{' with its card' * carded}"
              f"{'; nothing was pushed' * args.push_to_hub}{then}", file=sys.stderr)
        return 130
    finally:
        interrupts.uninstall(previous)
    if not card_written(out, command=command, resumed=args.resume,
                        repo_id=args.hub_model_id if args.push_to_hub else None):  # said why; no push without it
        if args.push_to_hub:
            print(f"nothing was pushed: `{push_command(out, args.hub_model_id, args.private)}` publishes it once its "
                  "card is written", file=sys.stderr)
        return 1
    if not args.push_to_hub:
        print(what_next(out))
        return 0
    try:
        check_loads(out)  # as ddpm.push checks: a guide/ put in the run's folder that does not load is not uploaded
    except ModelLoadError as e:
        card_written(out)  # the card names the folder, not a repo that was not made
        print(f"error: {out} is not pushed: {e}; its trained weights are saved in {out}, and "
              f"`{push_command(out, args.hub_model_id, args.private)}` publishes it then", file=sys.stderr)
        return 1
    status = push_status(out, args.hub_model_id, private=args.private, kept=f"its trained weights are saved in {out}")
    if status:
        card_written(out)  # not pushed: the card names the folder, not a repo that may not exist
    return status


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # while the flags are read (torch loads then): nothing was written
        with contextlib.suppress(OSError):  # a terminal gone with it
            print("\nstopped (Ctrl-C) before training began: nothing was written", file=sys.stderr)
        sys.exit(130)
