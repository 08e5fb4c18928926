"""Tasks: data sets, splits, models, training recipes and the model cache."""

from pareto_unlearn.task._cache import ModelCache, default_cache_dir, load_state_checked, state_dict_hash
from pareto_unlearn.task._datasets import DATASETS, SIZES, RawDataset, default_size, load_dataset
from pareto_unlearn.task._models import MODELS, build_model, last_linear, resnet18_cifar
from pareto_unlearn.task._splits import SPLIT_KEYS, ForgetSpec, Splits, make_splits, parse_forget
from pareto_unlearn.task._synthetic import write_synthetic_cifar10
from pareto_unlearn.task._task import (
    Subset,
    UnlearningTask,
    default_model,
    default_recipe,
    load_task,
    resolve_device,
)
from pareto_unlearn.task._torchvision import load_torchvision
from pareto_unlearn.task._toy import toy_task
from pareto_unlearn.task._training import (
    CIFAR_RECIPE,
    DIGITS_RECIPE,
    FASHION_MNIST_RECIPE,
    TrainRecipe,
    train_model,
)

__all__ = [
    "toy_task",
    "load_torchvision",
    "write_synthetic_cifar10",
    "CIFAR_RECIPE",
    "DATASETS",
    "DIGITS_RECIPE",
    "FASHION_MNIST_RECIPE",
    "SIZES",
    "default_model",
    "default_recipe",
    "default_size",
    "MODELS",
    "SPLIT_KEYS",
    "ForgetSpec",
    "ModelCache",
    "RawDataset",
    "Splits",
    "Subset",
    "TrainRecipe",
    "UnlearningTask",
    "build_model",
    "default_cache_dir",
    "last_linear",
    "load_dataset",
    "load_state_checked",
    "load_task",
    "make_splits",
    "parse_forget",
    "resnet18_cifar",
    "resolve_device",
    "state_dict_hash",
    "train_model",
]
