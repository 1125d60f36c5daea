"""A trial's child run says what the study says, also in the narrow windows: an interrupt
landing just after the run ended FINISHED, an objective returning NaN."""

from __future__ import annotations

import contextlib
import math

import pytest
from optuna.trial import TrialState

from retaillab import tracking
from retaillab.tuning import load_tune_spec
from retaillab.tuning.objectives import Problem
from retaillab.tuning.storage import open_storage
from retaillab.tuning.trials import TAG_TRIAL, budget_lock_path, make_study, run_trials

from .conftest import runs_of, write_spec


def _setup(store, name: str, scores):
    """A journal study, its parent run, and a data-free problem scoring ``scores`` in turn."""
    url = str(store / f"{name}.journal")
    spec = load_tune_spec(write_spec(store, name, n_trials=2))
    study = make_study(spec, open_storage(url), seed=0)
    values = iter(scores)
    problem = Problem("recsys", "svd", "rmse", train=None, test=None, folds=[(None, None)],
                      fit_score=lambda params, train, valid: next(values))
    parent = tracking.create_run(tracking.experiment_id(name), run_name=f"study {name}")
    return url, spec, study, problem, parent


def _statuses(name: str) -> dict[int, str]:
    _, children = runs_of(name)
    return {int(c.data.tags[TAG_TRIAL]): c.info.status for c in children}


@pytest.mark.filterwarnings("ignore:The value nan is not acceptable:UserWarning")
def test_a_nan_score_fails_the_trial_and_its_run(store):
    url, spec, study, problem, parent = _setup(store, "nan", [math.nan, 0.9, 0.8])
    ran = run_trials(spec, open_storage(url), parent, 2, seed=0, problem=problem,
                     lock=budget_lock_path(url, spec.study_name))
    assert ran == 3
    trials = study.get_trials()
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.COMPLETE,
                                         TrialState.COMPLETE]
    assert trials[0].user_attrs["error"] == "ValueError: the objective returned NaN"
    assert _statuses("nan") == {0: "FAILED", 1: "FINISHED", 2: "FINISHED"}
    tracking.client().set_terminated(parent.run_id)


def test_an_interrupt_just_after_the_run_ended_kills_both(store, monkeypatch):
    """Ctrl-C (or a launcher's SIGTERM) arriving after the child run ended FINISHED but
    before the study heard of the trial: the trial fails, and its run is KILLED with it."""
    url, spec, study, problem, parent = _setup(store, "cut", [0.9])
    original = type(parent).model

    @contextlib.contextmanager
    def then_interrupted(self, *args, **kwargs):
        with original(self, *args, **kwargs) as child:
            yield child
        raise KeyboardInterrupt  # the run has just ended FINISHED

    monkeypatch.setattr(type(parent), "model", then_interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_trials(spec, open_storage(url), parent, 2, seed=0, problem=problem,
                   lock=budget_lock_path(url, spec.study_name))
    (trial,) = study.get_trials()
    assert trial.state == TrialState.FAIL
    (child,) = runs_of("cut")[1]
    assert child.info.status == "KILLED"
    assert "before the study recorded its trial" in child.data.tags[tracking.TAG_ENDED_BY]
    tracking.client().set_terminated(parent.run_id)
