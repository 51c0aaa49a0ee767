"""ElemNet (Jha et al., Sci. Rep. 8, 17593, 2018) in PyTorch: formation enthalpy (eV/atom) from
elemental fractions alone.

>>> from hullpack.elemnet import ElemNet, featurize
>>> model = ElemNet()
>>> featurize(["Fe2O3"]).shape
(1, 86)
"""
from .data import hold_out, load_oqmd, oqmd_arrays, table_arrays, table_columns
from .featurize import featurize, parse_formulas
from .io import FORMAT_VERSION, load_model, read_model_file, save_model
from .pretrained import default_path, export_default, load_pretrained, resolve_model
from .model import DEFAULT_ARCHITECTURE, DEFAULT_DROPOUT, ElemNet, parse_architecture
from .train import TrainConfig, evaluate_mae, fine_tuning_defaults, read_checkpoint, run_config, train

__all__ = [
    "ElemNet", "DEFAULT_ARCHITECTURE", "DEFAULT_DROPOUT", "parse_architecture",
    "featurize", "parse_formulas", "load_oqmd", "oqmd_arrays", "table_arrays", "table_columns", "hold_out",
    "TrainConfig", "train", "evaluate_mae", "run_config", "read_checkpoint", "fine_tuning_defaults",
    "save_model", "load_model", "read_model_file", "FORMAT_VERSION",
    "load_pretrained", "export_default", "default_path", "resolve_model",
]
