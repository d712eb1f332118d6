import pytest

from pipeline.config import DEFAULT_CONFIG_DIR, load_taxonomy
from pipeline.quadrants import assign_quadrant, reason_table


@pytest.mark.parametrize(
    ("customer", "company", "quadrant"),
    [(5, 5, "leverage"), (1, 4, "simplify"), (4, 1, "automate"), (1, 1, "eliminate"), (3, 3, "leverage"), (2.9, 3, "simplify")],
)
def test_quadrant_follows_the_two_values(customer, company, quadrant):
    assert assign_quadrant(customer, company, cutoff=3) == quadrant


def test_reason_table_covers_the_taxonomy_and_unknown_labels():
    taxonomy = load_taxonomy(DEFAULT_CONFIG_DIR / "taxonomy.yaml")
    table = reason_table(taxonomy, 3, extra_labels=("lost_card",)).set_index("reason")
    assert set(table.loc[[r.id for r in taxonomy.reasons], "quadrant"]) == {"leverage", "simplify", "automate", "eliminate"}
    assert table.loc["lost_card", "quadrant"] == "unassigned"
    assert table.loc["unknown", "quadrant"] == "unassigned"
    assert table["owner"].loc[[r.id for r in taxonomy.reasons]].str.len().gt(0).all()
