"""The config schema accepts exactly the names the registries can build, in registry order.

Order matters: pydantic lists a Literal's or a discriminated union's choices in declaration order
in its error messages ("Input should be 'linear', 'sigmoid', ..."), so the registry order is what
users read.
"""

from __future__ import annotations

from typing import get_args

import pytest
from pydantic import ValidationError

from dlcc.config import schema
from dlcc.data import DATASETS
from dlcc.nn.activations import ACTIVATIONS
from dlcc.nn.initializers import INITIALIZERS
from dlcc.nn.losses import LOSSES
from dlcc.optim import OPTIMIZERS, SCHEDULES, build_optimizer, build_schedule


def literal_names(model, field: str) -> list[str]:
    return list(get_args(model.model_fields[field].annotation))


def variant_names(union) -> list[str]:
    """The `name` tag of each model in a discriminated union such as OptimizerConfig."""
    union_type = get_args(union)[0]  # OptimizerConfig is Annotated[Union[...], Field(...)]
    return [literal_names(model, "name")[0] for model in get_args(union_type)]


def test_nn_names_come_from_the_nn_registries():
    assert literal_names(schema.LayerConfig, "activation") == list(ACTIVATIONS)
    assert literal_names(schema.InitSpec, "name") == list(INITIALIZERS)
    assert literal_names(schema.Config, "loss") == list(LOSSES)


def test_optimizer_variants_match_the_optimizer_registry():
    assert variant_names(schema.OptimizerConfig) == list(OPTIMIZERS)


def test_schedule_variants_match_the_schedule_registry():
    assert variant_names(schema.ScheduleConfig) == list(SCHEDULES)


@pytest.mark.parametrize("model", schema.OPTIMIZER_MODELS, ids=lambda m: m.__name__)
def test_each_optimizer_variant_builds_with_its_defaults(model):
    # The schema's fields are the optimizer's constructor arguments; a renamed one fails here.
    name = literal_names(model, "name")[0]
    assert isinstance(build_optimizer(model(name=name)), OPTIMIZERS[name])


@pytest.mark.parametrize("model", schema.SCHEDULE_MODELS, ids=lambda m: m.__name__)
def test_each_schedule_variant_builds_with_its_defaults(model):
    name = literal_names(model, "name")[0]
    assert isinstance(build_schedule(model(name=name), lr0=0.1, epochs=10), SCHEDULES[name])


@pytest.mark.parametrize("name", list(DATASETS))
def test_every_registered_dataset_is_accepted(name):
    # Datasets such as csv need options (a path); all the schema may object to is those.
    try:
        schema.DataConfig.model_validate({"dataset": name, "options": {}})
    except ValidationError as exc:
        assert {e["type"] for e in exc.errors()} == {"missing"}, exc


def test_an_unknown_dataset_lists_the_registered_ones():
    with pytest.raises(ValidationError) as info:
        schema.DataConfig.model_validate({"dataset": "cifar", "options": {}})
    assert info.value.errors()[0]["msg"].endswith(f"valid: {', '.join(DATASETS)}")


def test_an_unknown_dataset_without_options_is_refused():
    with pytest.raises(ValidationError):
        schema.DataConfig.model_validate({"dataset": "cifar"})
