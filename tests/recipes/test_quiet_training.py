"""Training prints nothing but the mirror's own progress: no TensorFlow, absl or oneDNN lines, no warnings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

#: Fits two models in one process (a second fit is where tf.function retracing warnings appeared).
SCRIPT = """
import numpy as np, pandas as pd
from personalize_kit.recipes.user_personalization import UserPersonalization
from personalize_kit.recipes.personalized_ranking import PersonalizedRanking
rng = np.random.default_rng(0)
frame = pd.DataFrame({"USER_ID": rng.integers(0, 40, 1500).astype(str),
                      "ITEM_ID": rng.integers(0, 60, 1500).astype(str), "TIMESTAMP": np.arange(1500)})
for recipe in (UserPersonalization, PersonalizedRanking, UserPersonalization):
    recipe(max_epochs=2).fit(frame, hyperparameters={"hidden_dimension": "32", "bptt": "4"})
"""


@pytest.mark.slow
def test_fitting_models_writes_nothing_to_stdout_or_stderr() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "ABSL"))}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=REPO, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert done.stderr == ""


def test_importing_the_backend_leaves_the_environment_alone() -> None:
    script = (
        "import os, sys\n"
        "import personalize_kit, personalize_kit.recipes.sequence.backend\n"
        "print(sorted(k for k in os.environ if k.startswith('TF_')), 'tensorflow' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, env=env, check=True)
    assert done.stdout.strip() == "[] False"


def test_tensorflow_is_loaded_with_one_thread_per_operation_and_two_operations_side_by_side() -> None:
    script = (
        "from personalize_kit.recipes.sequence.backend import cores, load_tensorflow\n"
        "tf, _ = load_tensorflow()\n"
        "threads = tf.config.threading\n"
        "print(threads.get_intra_op_parallelism_threads(), threads.get_inter_op_parallelism_threads(), cores())"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, env=env, check=True)
    intra, inter, cores = (int(x) for x in done.stdout.split())
    assert (intra, inter) == (1, min(2, cores))
