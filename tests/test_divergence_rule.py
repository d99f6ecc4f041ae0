"""The divergence rule (dlcc.training.divergence) against its definition, checked epoch by epoch:
train_loss > FACTOR * L0 for PATIENCE finished epochs in a row."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dlcc.training import divergence
from dlcc.training.divergence import FACTOR, PATIENCE


def rows_of(losses):
    return [{"epoch": 0, "train_loss": None, "lr": 0.1}] + [
        {"epoch": e, "train_loss": v, "lr": 0.1} for e, v in enumerate(losses, start=1)]


def by_definition(rows, l0, end):
    """Does the rule hold at rows[end - 1]? Straight from the definition."""
    finished = [r for r in rows[:end] if r["epoch"] > 0]
    tail = finished[-PATIENCE:]
    return len(tail) == PATIENCE and all(r["train_loss"] is not None and r["train_loss"] > FACTOR * l0 for r in tail)


losses = st.lists(st.one_of(st.none(), st.sampled_from([0.5, 2.9, 3.1, 10.0])), max_size=30)


@settings(max_examples=300, deadline=None)
@given(losses)
def test_diverging_and_first_follow_the_definition(values):
    rows, l0 = rows_of(values), 1.0
    for end in range(1, len(rows) + 1):
        assert divergence.diverging(rows[:end], l0) == by_definition(rows, l0, end)
    ends = [end for end in range(1, len(rows) + 1) if by_definition(rows, l0, end)]
    expected = divergence.message(rows[:ends[0]], l0) if ends else None
    assert divergence.first(rows, l0) == expected


class CountedRows(list):
    """A list that counts the rows read through iteration and slices."""

    touched = 0

    def __iter__(self):
        for row in super().__iter__():
            CountedRows.touched += 1
            yield row

    def __getitem__(self, index):
        item = super().__getitem__(index)
        CountedRows.touched += len(item) if isinstance(index, slice) else 1
        return item


def test_the_rule_reads_only_the_last_rows_and_first_reads_each_row_once():
    """The loop asks after every epoch and the summary asks once at the end. The rule used to read
    the whole history each time, and `first` every prefix of it: a 10,000-epoch spirals run spent
    13 of its 17 s there."""
    rows = CountedRows(rows_of([0.5] * 2000))
    CountedRows.touched = 0
    assert not divergence.diverging(rows, 1.0)
    assert CountedRows.touched <= PATIENCE
    CountedRows.touched = 0
    assert divergence.first(rows, 1.0) is None
    assert CountedRows.touched <= len(rows)
