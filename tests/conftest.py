from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _fresh_seed(request: pytest.FixtureRequest) -> None:
    """Fresh random inputs on every run; a failing test's report names the seed it ran with."""
    request.node.torch_seed = torch.seed()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.failed and hasattr(item, "torch_seed"):
        report.sections.append(("torch seed", f"torch.manual_seed({item.torch_seed})"))
    return report
