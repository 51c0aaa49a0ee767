"""XElemNet: explain what an ElemNet-like model learned (after Wang et al., Sci. Rep. 14, 25178, 2024).

Every analysis takes a torch module mapping ``(n, 86)`` element fractions (ElemNet's element order,
:data:`hullpack.elements.ELEMNET_ELEMENTS`) to energies in eV/atom, and formulas or fraction arrays:

- :func:`shap_values` (a :class:`shap.Explanation` with element names), :func:`shap_summary`,
  :func:`kernel_check`;
- :func:`occlusion_importance`: ΔMAE per element with bootstrap intervals;
- :func:`element_response` and :func:`property_alignment`: Spearman correlations with
  electronegativity, group, period, ionization energy and radius;
- :func:`fit_surrogate`: a decision tree standing in for the model, its fidelity and top splits;
- :func:`xp_vs_xe`, :func:`all_pairs_scan`, :func:`group_matrix`, :func:`hull_agreement_by_group`:
  binary systems, lowest-energy composition against charge balance;
- :func:`layer_projection`: PCA of hidden layers;
- :func:`explain`: all of it, written as figures and a Markdown/HTML report
  (``hullpack explain --out DIR``); figures in :mod:`hullpack.xai.plots`.

>>> import torch, hullpack.xai as xai
>>> toy = torch.nn.Sequential(torch.nn.Linear(86, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
>>> ex = xai.shap_values(toy, ["NaCl", "Fe2O3", "MgO"], background=["Na", "Cl", "Fe", "O"])
>>> ex.values.shape, ex.feature_names[6]
((3, 86), 'O')
"""
from ..elements import element_table
from .base import (ENERGY_UNIT, PROPERTIES, as_fractions, check_trained, energy_model, equiatomic_binaries,
                    load_model, predict, random_compositions)
from .alignment import element_response, property_alignment
from .attributions import kernel_check, shap_summary, shap_values
from .binaries import (all_pairs_scan, cation_anion_elements, charge_balanced_fractions, group_matrix,
                       hull_agreement_by_group, lowest_energy_fraction, xp_vs_xe)
from .importance import occlusion_importance
from . import plots  # matplotlib is imported when a figure is drawn, not here
from .projection import layer_activations, layer_projection
from .report import ANALYSES, ExplainConfig, explain
from .surrogate import Surrogate, fit_surrogate

__all__ = [
    "ENERGY_UNIT", "PROPERTIES", "as_fractions", "check_trained", "element_table", "energy_model",
    "equiatomic_binaries", "load_model", "predict", "random_compositions",
    "shap_values", "shap_summary", "kernel_check", "occlusion_importance",
    "element_response", "property_alignment", "Surrogate", "fit_surrogate",
    "lowest_energy_fraction", "xp_vs_xe", "all_pairs_scan", "cation_anion_elements",
    "charge_balanced_fractions", "group_matrix", "hull_agreement_by_group",
    "layer_activations", "layer_projection", "ANALYSES", "ExplainConfig", "explain", "plots",
]
