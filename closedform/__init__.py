"""closedform: exact Fourier weights for modular arithmetic (Gromov 2023), numpy only.

Tasks and their decomposition f(n, m) = F(f1(n) + f2(m) mod M), number theory, Fourier
conventions, closed-form networks (Gromov's MLP, the tanh RNN, the one-layer transformer),
their chunked evaluation, symbolic proofs of exactness, hypothesis strategies
(``closedform.strategies``, imported on demand) and the run directory that every package reads
and writes (``closedform.rundir``).
Importing this package never loads torch.
"""

from . import fourier, rundir
from ._activations import ACTIVATIONS, activation_fn
from ._analytic import EXACT_PHASES, AnalyticMLP, analytic_complex_mlp, analytic_mlp
from ._analytic_rnn import AnalyticRNN, analytic_rnn, rnn_forward
from ._analytic_transformer import AnalyticTransformer, analytic_transformer, transformer_forward
from ._evaluate import Evaluation, evaluate_mlp, mlp_logits
from ._numtheory import discrete_log_table, is_prime, preimages, primitive_root
from ._tasks import TASK_NAMES, Task, custom_task, get_task, task_from_dict, task_to_dict
from .fourier import (
    dft,
    dominant_frequency,
    real_fourier_basis,
    real_fourier_labels,
    spectrum_1d,
    spectrum_2d,
    to_inner_domain,
    wave_amplitude_phase,
)
from .proof import ExactnessCertificate, exactness_certificate
from .rundir import ModelDir, load_model_dir, save_model_dir

__all__ = [
    "ACTIVATIONS",
    "EXACT_PHASES",
    "TASK_NAMES",
    "AnalyticMLP",
    "AnalyticRNN",
    "AnalyticTransformer",
    "Evaluation",
    "ModelDir",
    "ExactnessCertificate",
    "Task",
    "activation_fn",
    "analytic_complex_mlp",
    "analytic_mlp",
    "analytic_rnn",
    "analytic_transformer",
    "custom_task",
    "dft",
    "discrete_log_table",
    "dominant_frequency",
    "evaluate_mlp",
    "exactness_certificate",
    "fourier",
    "get_task",
    "is_prime",
    "load_model_dir",
    "mlp_logits",
    "preimages",
    "primitive_root",
    "real_fourier_basis",
    "real_fourier_labels",
    "rnn_forward",
    "rundir",
    "save_model_dir",
    "spectrum_1d",
    "spectrum_2d",
    "task_from_dict",
    "task_to_dict",
    "to_inner_domain",
    "transformer_forward",
    "wave_amplitude_phase",
]
