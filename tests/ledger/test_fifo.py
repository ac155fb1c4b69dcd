"""FifoMap (node/ledger/_fifo.py): bounded, oldest first out, against a model."""

from __future__ import annotations

from collections import OrderedDict

from hypothesis import given
from hypothesis import strategies as st

from node.ledger._fifo import FifoMap


def test_past_the_bound_the_key_put_first_goes() -> None:
    fifo: FifoMap[str, int] = FifoMap(2)
    fifo.put("a", 1)
    fifo.put("b", 2)
    fifo.put("a", 10)  # a new value, not a new age
    fifo.put("c", 3)
    assert "a" not in fifo
    assert (fifo.get("b"), fifo.get("c"), len(fifo)) == (2, 3, 2)
    assert fifo.get("a") is None


@given(
    bound=st.integers(min_value=1, max_value=6),
    puts=st.lists(st.tuples(st.integers(0, 9), st.integers()), max_size=60),
)
def test_it_holds_what_an_insertion_ordered_model_holds(
    bound: int, puts: list[tuple[int, int]]
) -> None:
    fifo: FifoMap[int, int] = FifoMap(bound)
    model: OrderedDict[int, int] = OrderedDict()
    for key, value in puts:
        fifo.put(key, value)
        if key not in model:
            while len(model) >= bound:
                model.popitem(last=False)
        model[key] = value
        assert len(fifo) == len(model)
        assert all(fifo.get(k) == v for k, v in model.items())
        assert all((k in fifo) == (k in model) for k in range(10))
