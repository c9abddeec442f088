"""compare: score trained networks against the closed-form theory (numpy; torch only lazily).

Spectra, IPR (Gromov eq. 28-29), neuron phases and the phase residual (Gromov Fig. 3), fit
errors and the idealized network, low rank and frequency ablations (Rangamani), Syrkis's
embedding measures, scorecards, figures and reports. Conventions: docs/conventions.md
and docs/compare.md. Importing this package never loads torch or matplotlib.
"""

from ._ablation import (
    frequency_ablation,
    frequency_remover,
    mlp_frequency_ablation,
    remove_frequencies,
    restricted_excluded_loss,
    run_accuracy_fn,
)
from ._embedding import active_frequencies, positional_correlation
from ._figures import (
    grok_epoch,
    plot_ablation,
    plot_frequency_series,
    plot_ipr_series,
    plot_phase_histogram,
    plot_phase_series,
    plot_preactivations,
    plot_runs_overlay,
    plot_series_overlay,
    plot_singular_values,
    plot_spectrum_2d,
    plot_spectrum_heatmap,
    plot_sweep,
    plot_training_curves,
    plot_twin_energy,
    preactivation_neurons,
)
from ._fit import hidden_state_fit, idealized_accuracy, idealized_mlp, mlp_fit_errors
from ._ipr import ipr, ipr_reference, mlp_ipr
from ._lowrank import (
    energy_share,
    minimal_rank,
    predicted_ranks,
    singular_values,
    singular_vector_frequencies,
    svd_ticks,
    truncate_rank,
)
from ._phases import NeuronPhases, PhaseResidual, neuron_phases, phase_residual, wrap
from ._report import scorecard_rows, write_report
from ._score import (
    health_warning,
    ipr_series,
    jsonable,
    logit_variance_explained,
    phase_series,
    score,
)
from ._spectra import (
    WaveFit,
    activation_spectrum_2d,
    frequency_norms,
    key_frequencies,
    wave_fit,
)

__all__ = [
    "NeuronPhases",
    "PhaseResidual",
    "WaveFit",
    "activation_spectrum_2d",
    "active_frequencies",
    "energy_share",
    "frequency_ablation",
    "frequency_norms",
    "frequency_remover",
    "grok_epoch",
    "health_warning",
    "hidden_state_fit",
    "idealized_accuracy",
    "idealized_mlp",
    "ipr",
    "ipr_reference",
    "ipr_series",
    "jsonable",
    "key_frequencies",
    "logit_variance_explained",
    "minimal_rank",
    "mlp_fit_errors",
    "mlp_frequency_ablation",
    "mlp_ipr",
    "neuron_phases",
    "phase_residual",
    "phase_series",
    "plot_ablation",
    "plot_frequency_series",
    "plot_ipr_series",
    "plot_phase_histogram",
    "plot_phase_series",
    "plot_preactivations",
    "plot_runs_overlay",
    "plot_series_overlay",
    "plot_singular_values",
    "plot_spectrum_2d",
    "plot_spectrum_heatmap",
    "plot_sweep",
    "plot_training_curves",
    "plot_twin_energy",
    "positional_correlation",
    "preactivation_neurons",
    "predicted_ranks",
    "remove_frequencies",
    "restricted_excluded_loss",
    "run_accuracy_fn",
    "score",
    "scorecard_rows",
    "singular_values",
    "singular_vector_frequencies",
    "svd_ticks",
    "truncate_rank",
    "wave_fit",
    "wrap",
    "write_report",
]
