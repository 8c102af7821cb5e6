"""Hugging Face Transformers: a ``TrainerCallback`` (a window per epoch and per phase, the
metrics in the Trainer's logs) and :func:`generate_measured`, energy per request and per
token of ``model.generate``.

::

    from carbonledger.integrations.transformers import CarbonTrainerCallback

    trainer = Trainer(model=model, args=args, train_dataset=ds, eval_dataset=ev)
    CarbonTrainerCallback.attach(trainer, project="gpt2-ft")   # first, so MLflow/W&B see it
    trainer.train()

The Trainer evaluates *after* ``on_epoch_end``; when it will (``eval_strategy="epoch"``)
the epoch window stays open over the evaluation, which is measured as the epoch's
``validation`` phase, and closes when the evaluation's metrics are logged (the evaluation
loop is over by then). An evaluation in the middle of an epoch (``eval_strategy="steps"``)
is measured from its first batch's end (the Trainer has no hook before it) to
``on_evaluate``.

Each epoch's metrics (``carbon/epoch_energy_j`` ...) are logged at **the epoch's own step**
(``state.global_step`` when the epoch ended), so MLflow, W&B and TensorBoard plot epoch N's
energy at epoch N: they join the row the Trainer logs at that step (the evaluation's, with
``eval_strategy="epoch"``; the loss's, with ``logging_strategy="epoch"``; the training
summary, after the last epoch). When the Trainer logs nothing at that step (the default
``logging_strategy="steps"``), a callback attached with :meth:`CarbonTrainerCallback.attach`
logs a row of its own at that step through ``trainer.log`` before the next epoch's first
step; one passed in ``callbacks=[...]`` (which has no handle on the trainer) adds that row
to ``state.log_history`` only. :meth:`~CarbonTrainerCallback.attach` also puts the callback
first, so the reporting integrations (``report_to``) see the metrics in the same row; the
Trainer places them before callbacks given in ``callbacks=[...]``.

Generation::

    meter = RequestMeter(tracker)
    out = generate_measured(model, meter, input_ids, attention_mask=mask, max_new_tokens=64)
    meter.stats().energy_per_output_token_j

Each row of the batch is one request: its input tokens are the prompt's non-padding tokens,
its output tokens the new tokens up to and including the first end-of-sequence token. With
greedy or sampled decoding (``num_beams=1``) a streamer marks ``prefill`` (up to the first new
token) and ``decode`` (the rest); with beam search the request is one unphased segment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from carbonledger.integrations._common import EpochRecorder, Sink, epochs_from, require

if TYPE_CHECKING:
    from carbonledger.integrations.serving import Request, RequestMeter
    from carbonledger.models import RunSummary
    from carbonledger.run import Tracker

__all__ = ["CarbonTrainerCallback", "generate_measured"]

_transformers = require("transformers", "carbonledger's Transformers integration", "transformers")


_Base: Any = _transformers.TrainerCallback


class CarbonTrainerCallback(_Base):  # type: ignore[misc]
    """Measure ``Trainer.train``: a window per epoch and per phase, logged in ``logs``.

    :param tracker: record into this :class:`~carbonledger.Tracker` (you start and stop
        it); default: one is started at ``on_train_begin`` (``expected_epochs`` from
        ``num_train_epochs`` unless ``max_steps`` is set) and stopped at ``on_train_end``
    :param sinks: experiment trackers fed by rank 0 (MLflow, W&B: see their modules)
    :param tracker_options: any :class:`~carbonledger.Tracker` argument (``project=``...)
    """

    def __init__(
        self,
        tracker: Tracker | None = None,
        *,
        sinks: Sequence[Sink] = (),
        **tracker_options: Any,
    ) -> None:
        self.recorder = EpochRecorder(tracker, sinks=sinks, tracker_options=tracker_options)
        self._epochs = 0
        self._awaiting_eval = False
        #: the closed epoch's metrics not logged yet, and the step they belong to
        self._pending: dict[str, float] = {}
        self._pending_step = 0
        self._trainer: Any | None = None

    @classmethod
    def attach(cls, trainer: Any, *args: Any, **kwargs: Any) -> CarbonTrainerCallback:
        """Make a callback and put it first among ``trainer``'s callbacks (so every other
        callback's ``on_log`` sees the energy metrics), able to log a row of its own at an
        epoch's step when the Trainer logs none there; returns it."""
        callback = cls(*args, **kwargs)
        callback._trainer = trainer
        trainer.callback_handler.callbacks.insert(0, callback)
        return callback

    @property
    def summary(self) -> RunSummary | None:
        """The run's summary once training has ended."""
        return self.recorder.summary

    @property
    def last_metrics(self) -> Mapping[str, float]:
        return self.recorder.last_metrics

    def _close_epoch(self, state: Any) -> None:
        """End the epoch; its metrics wait for a log at this step (``state.global_step``)."""
        self._awaiting_eval = False
        self._flush(state)  # an older epoch's, never carried to a later step
        metrics = self.recorder.end_epoch()
        if metrics:
            self._pending = dict(metrics)
            self._pending_step = int(getattr(state, "global_step", 0) or 0)

    def _flush(self, state: Any) -> None:
        """Log the waiting metrics at their own step, in a row of their own (the Trainer
        logged nothing at that step): through ``trainer.log`` when attached, else into
        ``state.log_history``."""
        if not self._pending:
            return
        metrics, self._pending = self._pending, {}
        step = int(getattr(state, "global_step", 0) or 0)
        trainer = self._trainer
        if trainer is not None and step == self._pending_step and hasattr(trainer, "log"):
            trainer.log(dict(metrics))
            return
        history = getattr(state, "log_history", None)
        if isinstance(history, list):
            row: dict[str, Any] = dict(metrics)
            epoch = getattr(state, "epoch", None)
            if epoch is not None:
                row["epoch"] = epoch
            row["step"] = self._pending_step
            history.append(row)

    # --- hooks (each returns None: this callback never changes the Trainer's control) ----

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        epochs = None
        if int(getattr(args, "max_steps", -1) or -1) <= 0:
            epochs = epochs_from(getattr(state, "num_train_epochs", None)) or epochs_from(
                getattr(args, "num_train_epochs", None)
            )
        self.recorder.begin_run(epochs)

    def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.recorder.in_epoch:
            self._close_epoch(state)
        self._flush(state)  # the previous epoch's step had no log: a row of its own
        self._epochs += 1
        self.recorder.begin_epoch(self._epochs)
        self.recorder.begin_phase("train")

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not self.recorder.in_epoch:
            return
        self.recorder.end_phase()
        strategy = getattr(args, "eval_strategy", None)
        if getattr(control, "should_evaluate", False) or _value(strategy) == "epoch":
            self._awaiting_eval = True  # the Trainer evaluates right after this hook
            self.recorder.begin_phase("validation")
        else:
            self._close_epoch(state)
        if self.recorder.stop_requested:
            control.should_training_stop = True  # the carbon budget says stop

    def on_prediction_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        phase = self.recorder.phase
        if self.recorder.in_epoch and not (phase or "").startswith("validation"):
            self.recorder.begin_phase("validation")

    def on_evaluate(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not self.recorder.in_epoch:
            return
        if self._awaiting_eval:  # its metrics were logged without an eval_ key
            self._close_epoch(state)
            if self.recorder.stop_requested:
                control.should_training_stop = True  # the carbon budget says stop
        else:  # evaluation in the middle of an epoch (eval_strategy="steps")
            self.recorder.end_phase()
            self.recorder.begin_phase("train")

    def on_log(
        self,
        args: Any,
        state: Any,
        control: Any,
        logs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if logs is None:
            return
        if self._awaiting_eval and self.recorder.in_epoch and _has_eval_metrics(logs):
            # the evaluation loop is over: the epoch ends, logged in this very row
            self._close_epoch(state)
            if self.recorder.stop_requested:
                control.should_training_stop = True  # the carbon budget says stop
        step = int(getattr(state, "global_step", 0) or 0)
        if not self._pending or step != self._pending_step:
            return
        logs.update(self._pending)
        history = getattr(state, "log_history", None)
        if history:
            history[-1].update(self._pending)
        self._pending = {}

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._flush(state)
        if self.recorder.running:
            self.recorder.end_run("completed")


def _has_eval_metrics(logs: Mapping[str, Any]) -> bool:
    """Whether ``logs`` holds an evaluation's metrics (``eval_loss``, ``eval_runtime``...)."""
    return any(str(key).startswith("eval_") for key in logs)


def _value(option: Any) -> Any:
    """An option's plain value (``IntervalStrategy.EPOCH`` -> ``"epoch"``)."""
    return getattr(option, "value", option)


class _PhaseStreamer:
    """A streamer that marks ``decode`` at the first generated token and forwards to
    the caller's streamer, if any."""

    def __init__(self, meter: RequestMeter, requests: Sequence[Request], inner: Any) -> None:
        self._meter = meter
        self._requests = requests
        self._inner = inner
        self._puts = 0

    def put(self, value: Any) -> None:
        self._puts += 1
        if self._puts == 2:  # the first put is the prompt, the second the first new token
            for request in self._requests:
                self._meter.mark(request, "decode")
        if self._inner is not None:
            self._inner.put(value)

    def end(self) -> None:
        if self._inner is not None:
            self._inner.end()


def _ids(value: Any) -> set[int]:
    if value is None:
        return set()
    if isinstance(value, Iterable):
        return {int(v) for v in value}
    return {int(value)}


def _output_tokens(new_tokens: Sequence[int], eos_ids: set[int], pad_ids: set[int]) -> int:
    """New tokens up to and including the first end-of-sequence token (padding excluded)."""
    count = 0
    for token in new_tokens:
        if token in eos_ids:
            return count + 1
        if token not in pad_ids:
            count += 1
    return count


def generate_measured(
    model: Any,
    meter: RequestMeter,
    input_ids: Any,
    attention_mask: Any | None = None,
    **generate_kwargs: Any,
) -> Any:
    """``model.generate(input_ids, attention_mask=..., **generate_kwargs)``, each row of
    the batch accounted as one request of ``meter`` (tokens counted, prefill/decode marked
    where the decoding allows a streamer). Returns what ``generate`` returns."""
    rows = [list(map(int, row)) for row in input_ids.tolist()]
    config = getattr(model, "generation_config", None)
    pad_ids = _ids(generate_kwargs.get("pad_token_id", getattr(config, "pad_token_id", None)))
    eos_ids = _ids(generate_kwargs.get("eos_token_id", getattr(config, "eos_token_id", None)))
    if attention_mask is not None:
        input_counts = [int(n) for n in attention_mask.sum(dim=1).tolist()]
    else:
        input_counts = [sum(1 for t in row if t not in pad_ids) for row in rows]
    num_beams = int(generate_kwargs.get("num_beams", getattr(config, "num_beams", 1)) or 1)
    phased = num_beams == 1
    requests = [meter.begin(n, phase="prefill" if phased else None) for n in input_counts]
    try:
        if phased:
            generate_kwargs["streamer"] = _PhaseStreamer(
                meter, requests, generate_kwargs.get("streamer")
            )
        if attention_mask is not None:
            generate_kwargs["attention_mask"] = attention_mask
        output = model.generate(input_ids, **generate_kwargs)
    except BaseException:
        for request in requests:
            meter.end(request)
        raise
    sequences = getattr(output, "sequences", output).tolist()
    encoder_decoder = bool(getattr(getattr(model, "config", None), "is_encoder_decoder", False))
    prompt_len = 1 if encoder_decoder else len(rows[0])
    per_request = max(1, len(sequences) // max(1, len(requests)))
    for index, request in enumerate(requests):
        produced = sequences[index * per_request : (index + 1) * per_request]
        tokens = sum(_output_tokens(seq[prompt_len:], eos_ids, pad_ids) for seq in produced)
        meter.end(request, output_tokens=tokens)
    return output
